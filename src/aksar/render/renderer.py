"""Whole-line rendering with Pillow's RAQM layout (HarfBuzz shaping, FriBiDi) and the script's language tag.

The line is laid out and rasterised in one call (``ImageFont.getmask2``), never code point by code point,
then cropped tightly to its ink and padded. Height normalisation happens later (see ``synth``), after
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

    def __post_init__(self) -> None:
        if self.height < 8:
            raise ValueError(f"height must be >= 8, got {self.height}")
        if self.font_size < 6:
            raise ValueError(f"font_size must be >= 6, got {self.font_size}")
        if not 0 <= self.padding <= 2:
            raise ValueError(f"padding must be within 0..2 (share of font_size), got {self.padding}")


class LineRenderer:
    """Renders text lines as uint8 grayscale arrays (dark ink on white). Picklable; fonts load lazily."""

    def __init__(self, cfg: RenderConfig | None = None, script: str | None = None):
        self.cfg = cfg or RenderConfig()
        self.script = script
        self._fonts: dict = {}
        self._language: str | None = None

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

    def ink(self, text: str, font: FontInfo, size: int | None = None) -> tuple[np.ndarray, int]:
        """(coverage mask, 255 = ink, uncropped; y of the mask's top relative to the font's ascent line)."""
        from PIL import Image

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
            ascent, descent = self.image_font(font, size).getmetrics()
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
