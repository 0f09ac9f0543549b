"""Whole-line rendering: HarfBuzz shaping with the script's language tag, never code point by code point.

Two engines draw the same pixels (``RenderConfig.engine``):

- ``cache`` (default): HarfBuzz shapes the line, each glyph is rasterised once per process into an LRU cache
  and lines are composed from the cached bitmaps with numpy (``aksar.render.glyph_cache``), reproducing
  Pillow-RAQM's output 5-13 times faster (docs/notes/glyph-cache.md);
- ``raqm``: Pillow's RAQM layout lays out and rasterises the line in one call (``ImageFont.getmask2``).

The line is then cropped tightly to its ink and padded. Height normalisation happens later (see ``synth``), after
augmentation, so augmentation works at font resolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from aksar.core.errors import AksarError
from aksar.render.fonts import FontInfo

RAQM_HELP = (
    "Pillow's RAQM text layout is not available, and complex scripts (Khmer, Thai) cannot be rendered "
    "correctly without it. Pillow loads libraqm (and its FriBiDi dependency) at run time: install them, "
    "e.g. `sudo apt-get install libraqm0 libfribidi0` on Debian/Ubuntu, `brew install libraqm` on macOS, "
    "or build Pillow from source against libraqm; then check with "
    "`python -c \"from PIL import features; print(features.check('raqm'))\"`."
)


def require_raqm() -> None:
    """Raise AksarError explaining how to get RAQM when Pillow lacks it."""
    from PIL import features

    if not features.check("raqm"):
        raise AksarError(RAQM_HELP)


@dataclass
class RenderConfig:
    """How a line is drawn. ``height`` is the final sample height (applied after augmentation)."""

    height: int = 32
    font_size: int = 48
    padding: float = 0.08          # blank margin on every side, as a share of font_size
    crop: Literal["tight", "line"] = "tight"  # tight: to the ink; line: keep the font's ascent..descent
    engine: Literal["cache", "raqm"] = "cache"  # cache: glyph-cache composition; raqm: Pillow's getmask2

    def __post_init__(self) -> None:
        if self.height < 8:
            raise ValueError(f"height must be >= 8, got {self.height}")
        if self.font_size < 6:
            raise ValueError(f"font_size must be >= 6, got {self.font_size}")
        if not 0 <= self.padding <= 2:
            raise ValueError(f"padding must be within 0..2 (share of font_size), got {self.padding}")
        if self.engine not in ("cache", "raqm"):
            raise ValueError(f"engine must be 'cache' or 'raqm', got {self.engine!r}")


class LineRenderer:
    """Renders text lines as uint8 grayscale arrays (dark ink on white). Picklable; fonts load lazily."""

    def __init__(self, cfg: RenderConfig | None = None, script: str | None = None):
        self.cfg = cfg or RenderConfig()
        self.script = script
        self._fonts: dict = {}
        self._language: str | None = None
        self._glyphs = None  # GlyphLineRenderer, built on first use in each process

    def __getstate__(self) -> dict:
        return {"cfg": self.cfg, "script": self.script}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cfg"], state["script"])

    @property
    def language(self) -> str | None:
        if self._language is None and self.script:
            from aksar.text.scripts import get_script

            self._language = get_script(self.script).language
        return self._language

    def image_font(self, font: FontInfo, size: int | None = None):
        """The Pillow font object for (font, size), loaded once per process."""
        size = size or self.cfg.font_size
        key = (font.path, font.index, size)
        pil_font = self._fonts.get(key)
        if pil_font is None:
            from PIL import ImageFont

            require_raqm()
            try:
                pil_font = ImageFont.truetype(font.path, size, index=font.index,
                                              layout_engine=ImageFont.Layout.RAQM)
            except OSError as exc:
                raise AksarError(f"{font.path}: cannot load font ({exc})") from None
            self._fonts[key] = pil_font
        return pil_font

    @property
    def glyphs(self):
        """The glyph-cache line renderer of this process (its ``cache.stats`` count hits and misses)."""
        if self._glyphs is None:
            from aksar.render.glyph_cache import GlyphLineRenderer

            self._glyphs = GlyphLineRenderer(self.script)
        return self._glyphs

    def metrics(self, font: FontInfo, size: int | None = None) -> tuple[int, int]:
        """(ascent, descent) in pixels, as Pillow's ``getmetrics``."""
        size = size or self.cfg.font_size
        if self.cfg.engine == "cache":
            return self.glyphs.cache.metrics(font, size)[:2]
        return self.image_font(font, size).getmetrics()

    def advance(self, text: str, font: FontInfo, size: int | None = None) -> float:
        """The pen advance of ``text`` in pixels (where the next text would start), as Pillow's ``getlength``;
        the cache engine answers from HarfBuzz's shaping alone, with the advances it draws with."""
        size = size or self.cfg.font_size
        if self.cfg.engine == "cache":
            return self.glyphs.advance(text, font, size)
        return float(self.image_font(font, size).getlength(text, language=self.language))

    def ink(self, text: str, font: FontInfo, size: int | None = None) -> tuple[np.ndarray, int]:
        """(coverage mask, 255 = ink, uncropped; y of the mask's top relative to the font's ascent line)."""
        from PIL import Image

        if self.cfg.engine == "cache":
            return self.glyphs.ink(text, font, size or self.cfg.font_size)
        pil_font = self.image_font(font, size)
        try:
            core, (_, y0) = pil_font.getmask2(text, mode="L", language=self.language)
        except (OSError, ValueError) as exc:
            raise AksarError(f"cannot render {text[:40]!r} with {font.name} ({font.path}): {exc}") from None
        return np.asarray(Image.Image()._new(core)), y0

    def render(self, text: str, font: FontInfo, size: int | None = None) -> np.ndarray:
        """uint8 HxW grayscale (ink 0, paper 255), cropped to the ink and padded; AksarError if no ink.
        ``size``: pixel size to render at (default ``cfg.font_size``)."""
        size = size or self.cfg.font_size
        mask, y0 = self.ink(text, font, size)
        rows = np.flatnonzero(mask.max(axis=1)) if mask.size else np.empty(0, int)
        if rows.size == 0:
            raise AksarError(f"text {text[:40]!r} has no visible ink in {font.name}")
        cols = np.flatnonzero(mask.max(axis=0))
        top, bottom = int(rows[0]), int(rows[-1]) + 1
        left, right = int(cols[0]), int(cols[-1]) + 1
        pad = int(round(self.cfg.padding * size))
        if self.cfg.crop == "line":
            ascent, descent = self.metrics(font, size)
            top_pad = pad + max(0, top + y0)               # blank rows between ascent line and ink
            bottom_pad = pad + max(0, ascent + descent - (bottom + y0))
        else:
            top_pad = bottom_pad = pad
        h = bottom - top + top_pad + bottom_pad
        w = right - left + 2 * pad
        out = np.full((h, w), 255, dtype=np.uint8)
        np.subtract(255, mask[top:bottom, left:right], out=out[top_pad:top_pad + bottom - top, pad:pad + right - left])
        return out


__all__ = ["RenderConfig", "LineRenderer", "require_raqm", "RAQM_HELP"]
