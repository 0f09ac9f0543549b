"""Document degradation (aksar.render.degrade), font draw by family and style, held-out families."""
from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest

from aksar.core.config import from_dict
from aksar.core.errors import AksarError
from aksar.render import AugmentConfig, LineRenderer, RenderConfig, SynthConfig, Synthesizer
from aksar.render.degrade import DegradeConfig, Degrader, Plan
from aksar.render.fonts import HELDOUT_FAMILIES, SPECIAL_PURPOSE_FAMILIES, resolve_font, style_class
from aksar.text.scripts import SCRIPTS

TEXT = "ព្រះរាជាណាចក្រកម្ពុជា ជាតិ សាសនា"
FONTS = ["Khmer OS", "Noto Sans Khmer"]


@pytest.fixture(scope="module")
def line() -> np.ndarray:
    return LineRenderer(RenderConfig(), "khmer").render(TEXT, resolve_font("Khmer OS"))


def _ink(img: np.ndarray) -> int:
    return int(np.count_nonzero(img < 128))


def _apply(op: str, img: np.ndarray, seed: int = 0, **cfg) -> tuple[np.ndarray, list[dict]]:
    dcfg = DegradeConfig.only(op)
    for key, value in cfg.items():
        section, name = key.split("__")
        setattr(getattr(dcfg, section), name, value)
    return Degrader(dcfg)(img, np.random.default_rng(seed))


def test_degraded_samples_deterministic_and_picklable():
    cfg = SynthConfig(fonts=FONTS, degrade=DegradeConfig(enabled=True, p=1.0))
    synth = Synthesizer("khmer", cfg)
    synth.neighbour_texts = ["សួស្តី ពិភពលោក", "ការសិក្សា និងការអប់រំ"]
    copy = pickle.loads(pickle.dumps(synth))
    profiles = set()
    for seed in range(12):
        a = synth.synthesize(TEXT, np.random.default_rng(seed))
        b = copy.synthesize(TEXT, np.random.default_rng(seed))
        assert a.image.tobytes() == b.image.tobytes() and a.augment == b.augment and a.image.shape[0] == 32
        profiles.add(a.augment[0]["profile"])
    assert len(profiles) >= 3  # the profile mix is drawn
    off = Synthesizer("khmer", SynthConfig(fonts=FONTS)).synthesize(TEXT, np.random.default_rng(0))
    assert not any(r["op"] == "degrade" for r in off.augment)


def test_binarization_gives_two_levels(line):
    for method in ("global", "sauvola", "dither"):
        out, record = _apply("binarize", line, binarize__methods={method: 1.0})
        assert record[0]["method"] == method
        assert set(np.unique(out).tolist()) <= {0, 255} and _ink(out) > 0.4 * _ink(line), method


def test_ink_ops_move_ink_the_expected_way(line):
    grey = np.where(line < 128, 40, 230).astype(np.uint8)
    mild = {"ink__level": (0.1, 0.1), "ink__sigma": (0.015, 0.015)}  # within the guard: never undone
    spread, _ = _apply("ink", grey, ink__spread_p=1.0, **mild)
    thin, _ = _apply("ink", grey, ink__spread_p=0.0, **mild)
    assert _ink(thin) < _ink(grey) < _ink(spread)
    dropped, rec = _apply("dropout", line, dropout__blobs=(0.1, 0.1))
    assert _ink(dropped) < _ink(line) and not rec[0].get("undone")
    speckled, rec = _apply("speckle", line)
    assert rec[0]["specks"] > 0 and _ink(speckled) > _ink(line)
    lit, _ = _apply("illumination", line, illumination__strength=(0.3, 0.3))
    assert lit[line == 255].mean() < 250
    jpg, rec = _apply("jpeg", line)
    assert rec[0]["op"] == "jpeg" and not np.array_equal(jpg, line)


def test_legibility_guard_undoes_an_op_that_erases_the_text(line):
    out, rec = _apply("dropout", line, dropout__blobs=(1.0, 1.0))
    assert rec[0]["undone"] and np.array_equal(out, line)


def test_small_type_x_height_in_range_before_resize():
    synth = Synthesizer("khmer", SynthConfig(fonts=FONTS, augment=AugmentConfig(enabled=False),
                                             degrade=DegradeConfig.only("small_type")))
    lo, hi = synth.cfg.degrade.small_type.x_height
    plan = Plan("only", {"small_type": True})
    for seed in range(8):
        rng = np.random.default_rng(seed)
        font = synth.fonts[seed % 2]
        img, record, scale = synth._render("\u1793\u1793", font, rng, plan)  # NO NO: x-height letters
        assert record[1]["px"] == round(record[1]["px"])
        out, _ = synth._degrader(img, rng, plan, scale)
        rows = np.flatnonzero(out.min(axis=1) < 160)
        assert lo - 1 <= rows.size <= hi + 1, (font.name, rows.size, record)
        assert img.shape[0] > out.shape[0] or scale > 1  # resampled from the print raster


def test_margins_and_neighbours_recrop(line):
    deg = Degrader(DegradeConfig.only("margins", "neighbours"))
    rng = np.random.default_rng(3)
    plan = Plan("only", {"margins": True, "neighbours": True})
    out, rec = deg.recrop(line, 20.0, rng, plan, neighbour=line)
    edge = "top" if "top" in rec["neighbours"] else "bottom"
    strip = out[:rec["neighbours"]["top"]] if edge == "top" else out[-rec["neighbours"]["bottom"]:]
    assert strip.min() < 128  # neighbour ink at the edge
    tight, rec = deg.recrop(line, 20.0, np.random.default_rng(0), Plan("only", {"margins": True}))
    t, b, left, right = rec["margins"]
    assert tight.shape == (_ink_rows(line) + t + b, _ink_cols(line) + left + right)


def test_table_rules_frame_the_line_and_keep_its_ink(line):
    deg = Degrader(DegradeConfig.only("margins", "rules"))
    seen = set()
    for seed in range(16):
        out, rec = deg.recrop(line, 20.0, np.random.default_rng(seed), Plan("only", {"margins": True, "rules": True}))
        rules, th = rec["rules"], rec["rules"]["thickness"]
        seen.update(rules["edges"] + ["grid" if rules["sides"] else "open"])
        dark = out < 128
        rule_rows = np.flatnonzero(dark.all(axis=1))  # only a rule darkens a whole row
        assert len(rule_rows) == th * len(rules["edges"])
        band = slice(rule_rows[0] if "top" in rules["edges"] else 0,
                     rule_rows[-1] + 1 if "bottom" in rules["edges"] else out.shape[0])
        rule_cols = np.flatnonzero(dark[band].all(axis=0))  # vertical rules run from rule to rule
        assert len(rule_cols) == (2 * th if rules["sides"] else 0)
        mask = np.zeros_like(dark)
        mask[rule_rows] = True
        mask[band, rule_cols] = True
        assert np.count_nonzero(dark & ~mask) == np.count_nonzero(line < 128)  # the line's ink, untouched
        ink_rows = np.flatnonzero((dark & ~mask).any(axis=1))
        if "top" in rules["edges"]:
            assert rule_rows[0] < ink_rows[0]
        if "bottom" in rules["edges"]:
            assert rule_rows[-1] > ink_rows[-1]
    assert seen == {"top", "bottom", "grid", "open"}  # either edge, both, and grid cells are drawn
    with pytest.raises(AksarError, match="rules.both_p"):
        from_dict(DegradeConfig, {"rules": {"both_p": 2}})


def _ink_rows(img):
    r = np.flatnonzero(img.min(axis=1) < 255)
    return int(r[-1] - r[0] + 1)


def _ink_cols(img):
    c = np.flatnonzero(img.min(axis=0) < 255)
    return int(c[-1] - c[0] + 1)


def test_style_weights_respected_over_many_draws():
    families = ["Kinnari", "Norasi", "Loma", "Garuda", "Laksaman"]
    names = [f"{fam} {style}".strip() for fam in families for style in ("", "Bold", "Italic" if fam in
             ("Kinnari", "Norasi", "Laksaman") else "Oblique")]
    weights = {"regular": 0.6, "bold": 0.25, "italic": 0.15}
    synth = Synthesizer("thai", SynthConfig(fonts=names, style_weights=weights))
    n = 3000
    first = [synth.candidate_fonts("x", np.random.default_rng(i), "random")[0] for i in range(n)]
    classes = Counter(style_class(f) for f in first)
    for cls, w in weights.items():
        assert abs(classes[cls] / n - w) < 0.035, classes
    fams = Counter(f.family for f in first)
    assert max(fams.values()) / n - 1 / len(families) < 0.035


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_heldout_and_special_families_never_drawn(script):
    synth = Synthesizer(script, SynthConfig(exclude_heldout=True))
    used = {f.family for f in synth.fonts}
    assert used and not used & set(HELDOUT_FAMILIES[script]) and not used & set(SPECIAL_PURPOSE_FAMILIES)
    assert used != {f.family for f in Synthesizer(script, SynthConfig()).fonts}  # something was held out


def test_default_and_explicit_family_exclusions():
    default = {f.family for f in Synthesizer("khmer", SynthConfig()).fonts}
    assert "Khmer Busra" in default and "Khmer Busra diagnostic" not in default
    fams = {f.family for f in Synthesizer("thai", SynthConfig(exclude_families=["Loma"])).fonts}
    assert "Loma" not in fams and "Garuda" in fams


def test_degrade_config_errors_name_the_key():
    with pytest.raises(AksarError, match="profile_mix"):
        from_dict(SynthConfig, {"degrade": {"profile_mix": {"nope": 1.0}}})
    with pytest.raises(AksarError, match="profiles.fax"):
        from_dict(SynthConfig, {"degrade": {"profiles": {"fax": {"blurr": 0.5}}, "profile_mix": {"fax": 1}}})
    with pytest.raises(AksarError, match="style_weights"):
        from_dict(SynthConfig, {"style_weights": {"cursive": 1.0}})
