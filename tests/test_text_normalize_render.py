"""Normalization checked against real rendering (Pillow RAQM, HarfBuzz, Khmer OS and TLWG fonts):
rules that claim "renders the same" must give identical pixels, and normalizing never makes a
real corpus line shape worse (no new dotted circles)."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import uharfbuzz as hb
from PIL import Image, ImageDraw, ImageFont

from aksar.text.normalize import fold_visual, normalize
from aksar.text.presets import preset_lines

KHMER_FONT = Path("/usr/share/fonts/truetype/khmeros/KhmerOS.ttf")
THAI_FONT = Path("/usr/share/fonts/truetype/tlwg/Garuda.ttf")


def _font(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"font {path} not installed (Debian fonts-khmeros / fonts-thai-tlwg)")
    return path


def render(text: str, path: Path, language: str) -> np.ndarray:
    font = ImageFont.truetype(str(path), 40, layout_engine=ImageFont.Layout.RAQM)
    img = Image.new("L", (420, 100), 255)
    ImageDraw.Draw(img).text((10, 15), text, font=font, fill=0, language=language)
    return np.asarray(img)


def dotted_circles(text: str, path: Path) -> int:
    font = hb.Font(hb.Face(hb.Blob.from_file_path(str(path))))
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    hb.shape(font, buf, {})
    dc = font.get_nominal_glyph(0x25CC)
    return sum(info.codepoint == dc for info in buf.glyph_infos)


@pytest.mark.parametrize("raw", [
    "\u179f\u17d2\u179a\u17d2\u178f\u17b8",            # COENG RO first
    "\u1786\u17d2\u1793\u17c6\u17b6",                  # NIKAHIT before AA
    "\u179c\u17b7\u1785\u17b7\u17d2\u1786\u1780\u17b6",  # vowel before subscript
    "\u1783\u17c1\u17b8\u1789",                        # split OE
    "\u1796\u17d2\u179a\u17c1\u17b6\u17c7",            # split OO
    "\u179f\u17bb\u17b8",                              # u before upper vowel = lowered TRIISAP
    "\u1789\u17bb\u17c6\u17b6",                        # u before AA+NIKAHIT = lowered MUUSIKATOAN
    "\u1787\u1799\u179c\u1798\u17d2\u1798\u17cc",      # ROBAT after subscript
    "\u1780\u200b\u1781\u00ad",                        # invisible characters
])
def test_khmer_rules_keep_the_pixels(raw):
    font = _font(KHMER_FONT)
    assert normalize(raw) != raw
    assert np.array_equal(render(raw, font, "km"), render(normalize(raw), font, "km"))


def test_khmer_coeng_da_ta_fold_keeps_the_pixels():
    font = _font(KHMER_FONT)
    assert np.array_equal(render("សម្ដេច", font, "km"), render(fold_visual("សម្ដេច"), font, "km"))


@pytest.mark.parametrize("raw", [
    "\u1798\u17b6\u1782\u17b6\u17cc",                  # ROBAT after AA
    "\u1780\u1798\u17d2\u1796\u17bb\u17bb\u1787\u17b6",  # vowel u typed twice
    "\u1780\u17c4\u17bb",                            # compound OO + below vowel: split it
    "\u1780\u17bc\u17be",                            # below vowel + compound OE
])
def test_khmer_repairs_remove_dotted_circles(raw):
    font = _font(KHMER_FONT)
    assert dotted_circles(raw, font) > 0
    assert dotted_circles(normalize(raw), font) == 0


@pytest.mark.parametrize("split", ["\u1780\u17c1\u17bb\u17b6", "\u1796\u17c1\u17bc\u17b8\u1784"])
def test_khmer_split_vowel_around_a_below_vowel_stays_split(split):
    font = _font(KHMER_FONT)
    assert dotted_circles(split, font) == 0
    assert normalize(split) == split      # the compound would draw a dotted circle


# NIKHAHIT [tone] SARA AA draws exactly like [tone] SARA AM (HarfBuzz decomposes AM the same way);
# a tone typed before NIKHAHIT stacks under it instead, which normalize repairs (not pixel-equal).
@pytest.mark.parametrize("raw", ["\u0e19\u0e4d\u0e49\u0e32", "\u0e17\u0e4d\u0e32", "\u0e01\u0e4d\u0e32\u0e25\u0e31\u0e07"])
def test_thai_sara_am_keeps_the_pixels(raw):
    font = _font(THAI_FONT)
    assert np.array_equal(render(raw, font, "th"), render(normalize(raw), font, "th"))


def test_thai_double_sara_e_fold_looks_alike():
    """Two SARA E and one SARA AE differ only in a small gap: same ink, nearly the same width."""
    font = _font(THAI_FONT)
    a = render("ดังเเสดง", font, "th") < 128
    b = render(fold_visual("ดังเเสดง"), font, "th") < 128
    width = lambda m: np.ptp(np.flatnonzero(m.any(axis=0)))  # noqa: E731
    assert abs(int(a.sum()) - int(b.sum())) < 0.05 * b.sum()
    assert abs(width(a) - width(b)) < 0.05 * width(b)
    assert not np.array_equal(a, b)


def test_normalize_never_breaks_real_lines():
    font = _font(KHMER_FONT)
    changed = 0
    for _, _, raw in itertools.islice(preset_lines("khmer"), 30000):
        line = normalize(raw)
        if not line or line == " ".join(raw.split()):
            continue
        changed += 1
        assert dotted_circles(line, font) <= dotted_circles(" ".join(raw.split()), font), raw
    assert changed > 500
