"""Lao and Myanmar through the renderer and the validity gate, in every installed font of the script."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aksar.render.augment import AugmentConfig
from aksar.render.font_probe import absorbed_marks, probe_line, reference_font
from aksar.render.fonts import DEFAULT_EXCLUDE, discover_fonts
from aksar.render.renderer import RenderConfig
from aksar.render.synth import SynthConfig, Synthesizer
from aksar.text.domains import DomainText
from aksar.text.scripts import get_script

FIXTURES = Path(__file__).parent / "fixtures"

# (text, reason the gate must give)
BROKEN = {
    "lao": [
        ("\u0eb4ກາ", "dotted_circle"),        # vowel sign with no consonant
        ("ລາວ \u0ec8", "dotted_circle"),      # tone mark after a space
        ("ລາວ \u1000", "missing_glyph"),      # a Myanmar letter no Lao font has
        ("ກີ່", None),                         # control: vowel + tone
    ],
    "myanmar": [
        ("\u1031က", "dotted_circle"),         # E typed before its consonant (visual order)
        ("က\u102c\u103b", "dotted_circle"),   # a medial after the vowel
        ("ကာ \u103b", "dotted_circle"),       # a medial after a space
        ("မြန်မာ \u0e81", "missing_glyph"),   # a Lao letter no Myanmar font has
        ("မင်္ဂလာပါ", None),                   # control: kinzi
    ],
}


@pytest.mark.parametrize("script", ["lao", "myanmar"])
def test_fixture_and_domain_lines_render_in_every_font(script):
    lines = (FIXTURES / f"{script}.txt").read_text(encoding="utf-8").splitlines()[:40]
    rng = np.random.default_rng(0)
    dom = DomainText(script, lines)
    lines += [dom.generate(kind, rng) for kind in ("random_clusters", "shuffled", "numbers") for _ in range(10)]
    fonts = discover_fonts(script, exclude=DEFAULT_EXCLUDE)
    families = {f.family for f in fonts}
    assert {f"Noto Sans {script.title()}", f"Noto Serif {script.title()}"} <= families, families
    by_family: dict[str, list] = {}
    for font in fonts:
        by_family.setdefault(font.family, []).append(font)
    for font in {f for faces in by_family.values() for f in (faces[0], faces[len(faces) // 2], faces[-1])}:
        cfg = SynthConfig(render=RenderConfig(height=32, font_size=24), augment=AugmentConfig(enabled=False),
                          fonts=[font.path])
        synth = Synthesizer(script, cfg)
        rendered = 0
        for text in lines:
            sample = synth.synthesize(text, rng, font_policy="hash", augment=False)
            if synth.gate.missing_chars(text, font):  # Noto's Lao and Myanmar faces have no Latin digits
                assert sample is None and synth.gate.check(text, font) == "missing_glyph", (font.name, text)
                continue
            assert sample is not None, (font.name, text, dict(synth.counters))
            assert sample.text == text and sample.image.min() < 200 and sample.image.max() == 255
            rendered += 1
        assert rendered >= 45, (font.name, rendered)
        for text, reason in BROKEN[script]:
            assert synth.gate.check(text, font) == reason, (font.name, text)
            assert (synth.synthesize(text, rng, font_policy="hash", augment=False) is None) == (reason is not None)


def test_myanmar_stacks_are_checked_like_khmer_subscripts():
    """VIRAMA is a joining mark: the trusted font merges it (stacks and kinzi) in the probe line."""
    ref = reference_font("myanmar")
    assert ref is not None and ref.family == "Noto Sans Myanmar"
    line = probe_line("myanmar")
    merged = absorbed_marks(ref, line, "myanmar")
    assert merged and {line[i] for i in merged} == set(get_script("myanmar").joining_marks)
    assert reference_font("lao").family == "Noto Sans Lao"
