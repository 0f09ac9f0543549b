"""Synthesizer, augmentation, font discovery bad input and the render CLI."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from aksar.core.config import from_dict
from aksar.core.errors import AksarError
from aksar.render import AugmentConfig, Augmenter, LineRenderer, RenderConfig, SynthConfig, Synthesizer
from aksar.render.fonts import resolve_font, scan_fonts

TEXT = "ព្រះរាជាណាចក្រកម្ពុជា ជាតិ សាសនា"


def test_synthesize_deterministic_height_and_picklable():
    synth = Synthesizer("khmer", SynthConfig())
    a = synth.synthesize(TEXT, np.random.default_rng(7))
    b = pickle.loads(pickle.dumps(synth)).synthesize(TEXT, np.random.default_rng(7))
    assert a.image.shape[0] == 32 and a.image.dtype == np.uint8
    assert np.array_equal(a.image, b.image) and a.font == b.font and a.augment == b.augment
    c = synth.synthesize(TEXT, np.random.default_rng(8))
    assert not (c.image.shape == a.image.shape and np.array_equal(c.image, a.image))
    fonts = {synth.synthesize(TEXT, np.random.default_rng(s), font_policy="hash", augment=False).font
             for s in range(5)}
    assert len(fonts) == 1


def test_each_augment_op_changes_image_and_is_recorded():
    img = LineRenderer(RenderConfig(), "khmer").render(TEXT, resolve_font("Khmer OS"))
    from aksar.render.augment import OP_ORDER

    for op in OP_ORDER:
        out, record = Augmenter(AugmentConfig.only(op))(img, np.random.default_rng(1))
        assert [r["op"] for r in record] == [op]
        assert out.dtype == np.uint8 and out.ndim == 2
        assert out.shape != img.shape or not np.array_equal(out, img), op
    out, record = Augmenter(AugmentConfig(enabled=False))(img, np.random.default_rng(1))
    assert record == [] and np.array_equal(out, img)


def test_augment_config_errors_name_the_key():
    with pytest.raises(AksarError, match="blur"):
        from_dict(AugmentConfig, {"blur": {"p": 2.0}})
    with pytest.raises(AksarError, match="noise.sigmaa"):
        from_dict(AugmentConfig, {"noise": {"sigmaa": [1, 2]}})


def test_render_crops_tightly_and_shapes():
    r = LineRenderer(RenderConfig(font_size=48, padding=0.1), "khmer")
    font = resolve_font("Khmer OS")
    img = r.render("ក្ក", font)
    pad = round(0.1 * 48)
    assert (img[:pad] == 255).all() and (img[-pad:] == 255).all() and (img[:, :pad] == 255).all()
    assert img[pad].min() < 255 and img[-pad - 1].min() < 255  # ink touches the crop
    plain = r.render("កក", font)
    assert img.shape[1] < plain.shape[1]  # COENG made a subscript, not a second letter


def test_bad_fonts_counted_not_crashing(broken_font_dir):
    scan = scan_fonts("khmer", [broken_font_dir], include_system=False)
    assert scan.fonts == []
    assert {p.split("/")[-1] for p, _ in scan.unreadable} == {"garbage.ttf", "truncated.ttf"}
    assert [f.name for f, _ in scan.lacking_script] == ["DejaVu Sans"]
    cfg = SynthConfig(fonts=[str(broken_font_dir / "garbage.ttf"), str(broken_font_dir / "DejaVuSans.ttf"),
                             "Khmer OS"])
    synth = Synthesizer("khmer", cfg)
    assert [f.name for f in synth.fonts] == ["Khmer OS"]
    assert synth.counters["font_unreadable"] == 1 and synth.counters["font_lacking_script"] == 1
    with pytest.raises(AksarError, match="garbage.ttf"):
        Synthesizer("khmer", SynthConfig(fonts=[str(broken_font_dir / "garbage.ttf")])).fonts


def test_cli_fonts_render_preview(run_cli, tmp_path, broken_font_dir):
    p = run_cli(["fonts", "--script", "khmer", "--font-dir", broken_font_dir], check=True)
    assert "Khmer OS Siemreap" in p.stdout and "unreadable" in p.stdout and "2 unreadable" in p.stdout
    out = tmp_path / "x.png"
    run_cli(["render", TEXT, "--font", "Khmer OS Siemreap", "--out", out], check=True)
    from PIL import Image

    assert Image.open(out).mode == "L"
    bad = run_cli(["render", TEXT, "--font", broken_font_dir / "garbage.ttf", "--out", tmp_path / "y.png"])
    assert bad.returncode == 2 and "garbage.ttf" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli(["render", "\u17d2ក", "--font", "Khmer OS", "--out", tmp_path / "y.png"])
    assert bad.returncode == 2 and "dotted circle" in bad.stderr
    sheet = tmp_path / "sheet.png"
    p = run_cli(["preview", "--preset", "khmer", "--n", "6", "--out", sheet], check=True)
    assert sheet.exists() and "6 samples" in p.stdout
