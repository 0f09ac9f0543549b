"""The glyph-cache renderer draws what Pillow-RAQM draws, on hard Khmer and Thai clusters, in several fonts."""
from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

from aksar.core.errors import AksarError
from aksar.render import LineRenderer, RenderConfig, Synthesizer, SynthConfig, AugmentConfig
from aksar.render.fonts import discover_fonts, resolve_font
from aksar.render.glyph_cache import GlyphCache, GlyphLineRenderer, script_runs
from aksar.text.corpus import CorpusConfig, filter_lines
from aksar.text.presets import preset_lines

KHMER = [
    "ស្ត្រី", "ក្សត្រ", "អង្គ្រង់", "ព្រះរាជាណាចក្រ",           # coeng subscripts, two deep
    "ស៊ី", "ប៉ុន្តែ", "ម៉ោង", "ប៊ិច",                          # TRIISAP / MUUSIKATOAN with vowels above
    "ធម៌", "ពណ៌", "ព័ត៌មាន",                                  # ROBAT, SAMYOK SANNYA
    "កើត", "កោះ", "រៀន", "ភ្លឿន", "នៅ", "ធ្វើ",               # split vowels ើ ោ ៀ ឿ ៅ
    "ទំព័រ", "ក៏", "ស្រុះ", "ឱ្យ", "គុំ", "ង៉ូវ",             # signs above/below, NIKAHIT, REAHMUK
    "ឆ្នាំ ២០២៤ (ABC) 1,234.5។", "ក ( Gymsum )ហ",            # mixed Latin, digits, punctuation
]
THAI = [
    "ที่", "ปี่", "นั้น", "ชื่อ", "ปั๊ม", "ฝั่ง",               # tone marks over upper vowels
    "น้ำ", "ทำ", "ค่ำ",                                        # SARA AM
    "ครู", "ฤดู", "ปุ่ม",                                      # below vowels
    "ฐาน", "ฐุ", "กตัญญู", "หญิง", "ญุ",                       # ฐ/ญ with descender-cutting forms
    "ก็", "ฟ้า", "๑๒๓ ABC (ทดสอบ) 4.5%",                       # MAITAIKHU, mixed Latin/digits
]
FONTS = {"khmer": ["Khmer OS", "Noto Sans Khmer", "Khmer OS Battambang", "Khmer Busra", "Noto Serif Khmer Thin"],
         "thai": ["Loma", "Garuda", "Noto Sans Thai", "Noto Serif Thai Light", "Kinnari"]}
# Mean absolute difference over the union of both ink boxes, grey levels of 0..255. Measured over 60 corpus
# lines in 28 Khmer and Thai fonts (docs/notes/glyph-cache.md): 0 in most fonts (same pixels), at most
# 0.82 where freetype-py's FreeType (2.13) hints a few glyphs differently from Pillow's (2.14).
MAX_MEAN_DIFF = 3.0
# Fonts without TrueType instructions (no fpgm: Angkor, AKbalthom KhmerBasic of khmer-ocr-ocm) are hinted by
# FreeType's auto-hinter, which 2.14 changed: the same glyphs at the same places, edges a pixel apart
# (mean difference 6.7-11 on one line, ink boxes within a pixel). Their bound: a glyph dropped or misplaced
# moves an ink box or the mean far more.
MAX_MEAN_DIFF_AUTOHINTED = 15.0


def autohinted(path: str) -> bool:
    """Whether FreeType hints this font with its auto-hinter (a TrueType font without instructions)."""
    from fontTools.ttLib import TTFont

    font = TTFont(path, lazy=True)
    return "glyf" in font and "fpgm" not in font and "prep" not in font


def placed(mask: np.ndarray, y0: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The mask and its ink box (top, bottom, left, right) relative to the ascender line and pen origin."""
    rows, cols = np.flatnonzero(mask.max(axis=1)), np.flatnonzero(mask.max(axis=0))
    return mask, (y0 + int(rows[0]), y0 + int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def compare(a: tuple[np.ndarray, int], b: tuple[np.ndarray, int]) -> tuple[tuple[int, ...], float]:
    """(per-side box differences, mean absolute pixel difference over the union box) of two ink() results."""
    (ma, ba), (mb, bb) = placed(*a), placed(*b)
    y_lo = min(a[1], b[1])
    h = max(a[1] + ma.shape[0], b[1] + mb.shape[0]) - y_lo
    w = max(ma.shape[1], mb.shape[1])
    canvases = []
    for mask, y0 in ((ma, a[1]), (mb, b[1])):
        c = np.zeros((h, w), np.int32)
        c[y0 - y_lo:y0 - y_lo + mask.shape[0], :mask.shape[1]] = mask
        canvases.append(c)
    top, bottom = min(ba[0], bb[0]) - y_lo, max(ba[1], bb[1]) - y_lo
    left, right = min(ba[2], bb[2]), max(ba[3], bb[3])
    diff = np.abs(canvases[0] - canvases[1])[top:bottom, left:right]
    return tuple(abs(x - y) for x, y in zip(ba, bb)), float(diff.mean())


@pytest.fixture(scope="module")
def engines():
    return {s: (LineRenderer(RenderConfig(engine="raqm"), s), LineRenderer(RenderConfig(engine="cache"), s))
            for s in ("khmer", "thai")}


@pytest.mark.parametrize("script,texts", [("khmer", KHMER), ("thai", THAI)])
def test_cache_matches_raqm_on_hard_clusters(engines, script, texts):
    raqm, cache = engines[script]
    worst = 0.0
    for name in FONTS[script]:
        font = resolve_font(name)
        for text in texts:
            sides, diff = compare(raqm.ink(text, font), cache.ink(text, font))
            assert max(sides) <= 1, f"{name} {text!r}: ink box differs by {sides} px (top, bottom, left, right)"
            assert diff < MAX_MEAN_DIFF, f"{name} {text!r}: mean pixel difference {diff:.2f}"
            worst = max(worst, diff)
            for crop in ("tight", "line"):   # render(): the same crop and padding
                cfg = dict(crop=crop, font_size=40)
                a = LineRenderer(RenderConfig(engine="raqm", **cfg), script).render(text, font)
                b = LineRenderer(RenderConfig(engine="cache", **cfg), script).render(text, font)
                assert abs(a.shape[0] - b.shape[0]) <= 2 and abs(a.shape[1] - b.shape[1]) <= 2, (name, text, crop)
    assert worst < MAX_MEAN_DIFF


@pytest.mark.parametrize("script", ["khmer", "thai"])
def test_cache_matches_raqm_on_corpus_lines_across_fonts(engines, script):
    raqm, cache = engines[script]
    lines = list(itertools.islice(filter_lines(preset_lines(script), CorpusConfig(script=script)), 3))
    same = total = 0
    for font in discover_fonts(script)[::9]:
        bound = MAX_MEAN_DIFF_AUTOHINTED if autohinted(font.path) else MAX_MEAN_DIFF
        for text in lines:
            sides, diff = compare(raqm.ink(text, font), cache.ink(text, font))
            assert max(sides) <= 1 and diff < bound, (font.name, text, sides, diff)
            same += diff == 0
            total += 1
    assert same >= total // 2  # most fonts: the very same pixels


@pytest.mark.parametrize("script,texts", [("khmer", KHMER), ("thai", THAI)])
def test_advance_is_pillows_getlength(engines, script, texts):
    """Page layout breaks lines by ``advance``: the cache engine's equals Pillow's getlength (text of the script,
    words and whole lines, two sizes) and is where the drawn ink ends, give or take the last glyph's bearing."""
    raqm, cache = engines[script]
    lines = list(itertools.islice(filter_lines(preset_lines(script), CorpusConfig(script=script)), 4))
    pieces = texts + lines + [w for t in lines for w in t.split()[:4]]
    for name in FONTS[script][:3]:
        font = resolve_font(name)
        for size in (21, 48):
            for text in pieces:
                assert cache.advance(text, font, size) == pytest.approx(raqm.advance(text, font, size), abs=1e-6), \
                    (name, size, text)
    font = resolve_font(FONTS[script][0])
    longer = cache.advance(lines[0] + " " + lines[1], font, 48)
    assert longer > cache.advance(lines[0], font, 48) + cache.advance(lines[1], font, 48) * 0.9
    mask, _ = cache.ink(lines[0], font, 48)
    assert abs(mask.shape[1] - cache.advance(lines[0], font, 48)) < 48 * 0.5


def test_x_height_and_line_metrics_agree(engines):
    raqm, cache = engines["khmer"]
    for name in FONTS["khmer"]:
        font = resolve_font(name)
        assert raqm.metrics(font, 48) == cache.metrics(font, 48)
        ink_a, ink_b = raqm.ink("ន", font, 100)[0], cache.ink("ន", font, 100)[0]
        rows = [np.count_nonzero(m.max(axis=1) >= 128) for m in (ink_a, ink_b)]
        assert abs(rows[0] - rows[1]) <= 1, (name, rows)


def test_deterministic_picklable_and_cached():
    font = resolve_font("Khmer OS")
    r = LineRenderer(RenderConfig(), "khmer")
    first = r.render(KHMER[0], font)
    stats = dict(r.glyphs.cache.stats)
    assert stats["misses"] > 0 and stats["glyphs"] == stats["misses"]
    again = r.render(KHMER[0], font)
    after = r.glyphs.cache.stats
    assert np.array_equal(first, again)
    assert after["misses"] == stats["misses"] and after["hits"] > stats["hits"]  # the second line: hits only
    gid = r.glyphs.shaper.shape(KHMER[0], font)[0][0]
    assert r.glyphs.cache.glyph(font, 48, gid) is r.glyphs.cache.glyph(font, 48, gid)  # the same bitmap reused
    clone = pickle.loads(pickle.dumps(r))
    assert clone.glyphs.cache.stats["glyphs"] == 0  # caches are rebuilt in the new process, not shipped
    assert np.array_equal(clone.render(KHMER[0], font), first)
    assert np.array_equal(LineRenderer(RenderConfig(), "khmer").render(KHMER[0], font), first)


def test_cache_is_lru_bounded():
    font = resolve_font("Noto Sans Thai")
    g = GlyphLineRenderer("thai", max_bytes=1500)
    mask, _ = g.ink("กตัญญู ฐาน", font, 32)
    stats = g.cache.stats
    assert stats["bytes"] <= 1500 and stats["evictions"] > 0 and 0 < stats["glyphs"] < stats["misses"]
    assert mask.any()
    with pytest.raises(ValueError):
        GlyphCache(max_bytes=0)


@pytest.mark.parametrize("text,font", [(" ", "Khmer OS"), ("\u200b", "Noto Sans Thai"), ("ก", "Khmer OS")])
def test_no_ink_raises_the_same_error(text, font):
    f = resolve_font(font)
    messages = []
    for engine in ("raqm", "cache"):
        with pytest.raises(AksarError, match="no visible ink") as exc:
            LineRenderer(RenderConfig(engine=engine), "khmer").render(text, f)
        messages.append(str(exc.value))
    assert messages[0] == messages[1]


def test_missing_glyph_draws_notdef_like_raqm():
    font = resolve_font("Noto Sans Khmer")   # a .notdef box with ink
    a = LineRenderer(RenderConfig(engine="raqm"), "khmer").ink("ก", font)
    b = LineRenderer(RenderConfig(engine="cache"), "khmer").ink("ก", font)
    sides, diff = compare(a, b)
    assert max(sides) <= 1 and diff < MAX_MEAN_DIFF


def test_script_runs_follow_raqm_itemisation():
    tags = {"G": "Latn", "y": "Latn", "x": "Latn", "ក": "Khmr", "ហ": "Khmr"}
    script_of = lambda ch: tags.get(ch, "")  # noqa: E731 -- Common: ""
    assert script_runs("ក ( Gy )ហ", "Khmr", script_of) == [("ក ( ", None), ("Gy ", "Latn"), (")ហ", None)]
    assert script_runs("(x) ក", "Khmr", script_of) == [("(x) ", "Latn"), ("ក", None)]  # leading Common
    assert script_runs("12 ក", "Khmr", script_of) == [("12 ក", None)]


def test_engine_is_validated_and_synthesizer_uses_the_cache():
    with pytest.raises(ValueError, match="engine"):
        RenderConfig(engine="pango")
    syn = Synthesizer("khmer", SynthConfig(fonts=["Khmer OS"], augment=AugmentConfig(enabled=False)))
    s = syn.synthesize(KHMER[3], np.random.default_rng(0), augment=False)
    assert s is not None and s.image.shape[0] == 32
    assert syn.renderer.glyphs.cache.stats["misses"] > 0


def test_subpixel_phases_keep_the_ink_box():
    font = resolve_font("Loma")
    whole, quarter = GlyphLineRenderer("thai"), GlyphLineRenderer("thai", phases=4)
    for text in THAI[:6]:
        sides, diff = compare(whole.ink(text, font, 48), quarter.ink(text, font, 48))
        assert max(sides) <= 1 and diff < 12, (text, sides, diff)
    assert quarter.cache.stats["glyphs"] > whole.cache.stats["glyphs"]  # glyphs cached per phase
