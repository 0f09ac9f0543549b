"""Text domains (aksar.text.domains) and the on-the-fly text mix."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aksar.core.errors import AksarError
from aksar.render.fonts import resolve_font
from aksar.render.shaping import ShapingGate
from aksar.text.domains import KINDS, DomainText, check_text_mix

LINES = {
    "khmer": ["ព្រះរាជាណាចក្រកម្ពុជា ជាតិ សាសនា ព្រះមហាក្សត្រ", "ការសិក្សា និងការអប់រំ នៅក្នុងប្រទេស",
              "ខ្ញុំស្រឡាញ់ប្រទេសកម្ពុជាណាស់"],
    "thai": ["ภาษาไทยเป็นภาษาราชการ ของประเทศไทย", "การศึกษา และการพัฒนา ประเทศ", "สวัสดีครับ"],
}
FONT = {"khmer": "Khmer OS", "thai": "Loma"}


@pytest.mark.parametrize("script", ["khmer", "thai"])
def test_domain_lines_pass_the_shaping_gate_and_are_deterministic(script):
    gate, font = ShapingGate(script), resolve_font(FONT[script])
    dt = DomainText(script, LINES[script], max_length=40)
    for kind in KINDS[1:]:
        texts = [dt.generate(kind, np.random.default_rng(i)) for i in range(40)]
        assert texts == [dt.generate(kind, np.random.default_rng(i)) for i in range(40)]
        assert len(set(texts)) > 30, kind
        for t in texts:
            assert 0 < len(t) <= 40, (kind, t)
            assert gate.check(t, font) is None, (kind, t)
    numbers = [dt.generate("numbers", np.random.default_rng(i)) for i in range(20)]
    digits = sum(c.isdigit() for t in numbers for c in t) / sum(len(t) for t in numbers)
    assert digits > 0.25


def test_allowed_characters_restrict_every_domain():
    allowed = set("".join(LINES["khmer"])) | set("0123456789 ")
    dt = DomainText("khmer", LINES["khmer"], allowed=allowed, max_length=50)
    for kind in KINDS[1:]:
        for i in range(20):
            assert set(dt.generate(kind, np.random.default_rng(i))) <= allowed, kind


def test_text_mix_errors_and_onthefly_domains(tmp_path, data_synth):
    with pytest.raises(AksarError, match="data.text_mix"):
        check_text_mix({"corpus": 0.5, "ui_strings": 0.5})
    with pytest.raises(AksarError, match="data.text_mix"):
        check_text_mix({"corpus": 0.0})
    from aksar.data.onthefly import OnTheFlyDataset

    (tmp_path / "train.txt").write_text("\n".join(LINES["khmer"]) + "\n", encoding="utf-8")
    (tmp_path / "stats.json").write_text(json.dumps({"script": "khmer"}))
    mix = {"corpus": 0.4, "random_clusters": 0.2, "numbers": 0.2, "mixed": 0.2}
    ds = OnTheFlyDataset(tmp_path, data_synth.cfg, 40, seed=5, max_text_length=50, text_mix=mix)
    items = [ds[(0, i)] for i in range(40)]
    domains = {it["meta"]["domain"] for it in items}
    assert domains == set(mix)
    assert all(it["text"] in LINES["khmer"] for it in items if it["meta"]["domain"] == "corpus")
    again = OnTheFlyDataset(tmp_path, data_synth.cfg, 40, seed=5, max_text_length=50, text_mix=mix)
    for i in (0, 7, 13):
        assert again[(0, i)]["text"] == items[i]["text"]
        assert again[(0, i)]["image"].tobytes() == items[i]["image"].tobytes()
