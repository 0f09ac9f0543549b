"""Glyph-cache line rendering: shape with HarfBuzz, rasterise each glyph once, compose lines with numpy.

Pillow-RAQM rasterises every glyph through FreeType again on every line. Here each glyph is loaded and
rendered once per (font file, face index, pixel size, glyph id, subpixel phase) into an LRU-bounded cache,
and a line is composed from the cached bitmaps. The output reproduces Pillow's ``font_render``:

- the FreeType size request (nominal size ``size * 64`` at 72 dpi) and load flags (``FT_LOAD_DEFAULT``:
  native hinting, anti-aliased 8-bit coverage);
- HarfBuzz positions in 26.6 pixels at the FreeType size's scale (as RAQM's hb-ft font), each glyph placed
  at ``PIXEL(pen + offset) = (v + 32) >> 6`` on both axes (the pen is kept in 26.6, so spacing does not
  drift), plus the bitmap's left/top bearing;
- coverage composed with Pillow's "over" blend ``dst = src + dst * (255 - src) / 255`` (rounded like its
  ``MULDIV255``);
- the mask extent (ink box, widened to the pen line and baseline) and its offset below the ascender line.

``phases > 1`` places glyphs at 1/phases pixel horizontally instead (finer spacing, no longer Pillow's
output; see docs/notes/glyph-cache.md for the measurement). Picklable: faces and caches load lazily.
"""
from __future__ import annotations

import ctypes
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import regex

from aksar.core.errors import AksarError
from aksar.render.fonts import FontInfo

FREETYPE_HELP = ("the glyph-cache renderer needs freetype-py (`pip install freetype-py`); "
                 "or set render.engine: raqm")


class Glyph(NamedTuple):
    """A rasterised glyph: 8-bit coverage, and its bitmap's left and top bearing in pixels."""

    bitmap: np.ndarray
    left: int
    top: int


def _pixel(v: int) -> int:
    """FreeType 26.6 -> whole pixels, rounded as Pillow's ``PIXEL`` macro."""
    return (v + 32) >> 6


class GlyphCache:
    """Rasterised glyphs of FreeType faces, least recently used dropped beyond ``max_bytes`` of bitmaps;
    ``hits``/``misses``/``evictions`` count its use. One FreeType face per (path, index) per process."""

    def __init__(self, max_bytes: int = 64 << 20, phases: int = 1):
        if max_bytes < 1 or not 1 <= phases <= 64:
            raise ValueError(f"max_bytes must be >= 1 and phases within 1..64, got {max_bytes}, {phases}")
        self.max_bytes = max_bytes
        self.phases = phases
        self._init()

    def _init(self) -> None:
        self._faces: dict[tuple[str, int], list] = {}   # (path, index) -> [freetype.Face, current size]
        self._glyphs: OrderedDict[tuple, Glyph] = OrderedDict()
        self._metrics: dict[tuple[str, int, int], tuple[int, int, int, int, int]] = {}
        self.hits = self.misses = self.evictions = self.nbytes = 0

    def __getstate__(self) -> dict:
        return {"max_bytes": self.max_bytes, "phases": self.phases}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init()

    def __len__(self) -> int:
        return len(self._glyphs)

    @property
    def stats(self) -> dict[str, int]:
        return {"glyphs": len(self._glyphs), "bytes": self.nbytes, "hits": self.hits, "misses": self.misses,
                "evictions": self.evictions}

    def _face(self, font: FontInfo, size: int):
        """The FreeType face of ``font`` set to pixel ``size`` (Pillow's nominal size request)."""
        key = (font.path, font.index)
        entry = self._faces.get(key)
        if entry is None:
            try:
                import freetype
            except ImportError:
                raise AksarError(FREETYPE_HELP) from None
            try:
                entry = self._faces[key] = [freetype.Face(font.path, font.index), 0]
            except freetype.FT_Exception as exc:
                raise AksarError(f"{font.path}: cannot load font ({exc})") from None
        face = entry[0]
        if entry[1] != size:
            face.set_char_size(0, size * 64, 0, 0)
            entry[1] = size
        return face

    def metrics(self, font: FontInfo, size: int) -> tuple[int, int, int, int, int]:
        """(ascent px, descent px, FreeType x scale (16.16), HarfBuzz x and y scale (26.6 units per em)) of
        ``font`` at ``size``, as Pillow's ``getmetrics`` and RAQM's hb-ft font (``hb_ft_font_changed``) see them."""
        key = (font.path, font.index, size)
        m = self._metrics.get(key)
        if m is None:
            face = self._face(font, size)
            sm, upem = face.size, face.units_per_EM
            m = self._metrics[key] = (_pixel(sm.ascender), -_pixel(sm.descender), sm.x_scale,
                                      (sm.x_scale * upem + (1 << 15)) >> 16, (sm.y_scale * upem + (1 << 15)) >> 16)
        return m

    def glyph(self, font: FontInfo, size: int, gid: int, phase: int = 0) -> Glyph:
        """Glyph ``gid`` of ``font`` at ``size`` px shifted right by ``phase / phases`` px, from the cache."""
        key = (font.path, font.index, size, gid, phase)
        g = self._glyphs.get(key)
        if g is not None:
            self.hits += 1
            self._glyphs.move_to_end(key)
            return g
        self.misses += 1
        g = self._glyphs[key] = self._rasterise(font, size, gid, phase)
        self.nbytes += g.bitmap.nbytes
        while self.nbytes > self.max_bytes and len(self._glyphs) > 1:
            self.nbytes -= self._glyphs.popitem(last=False)[1].bitmap.nbytes
            self.evictions += 1
        return g

    def _rasterise(self, font: FontInfo, size: int, gid: int, phase: int) -> Glyph:
        import freetype

        face = self._face(font, size)
        if self.phases > 1:
            face.set_transform(freetype.Matrix(0x10000, 0, 0, 0x10000),
                               freetype.Vector(phase * 64 // self.phases, 0))
        try:
            face.load_glyph(gid, freetype.FT_LOAD_DEFAULT | freetype.FT_LOAD_RENDER)
        except freetype.FT_Exception as exc:
            raise AksarError(f"{font.path}: cannot render glyph {gid} at {size} px ({exc})") from None
        finally:
            if self.phases > 1:
                face.set_transform(freetype.Matrix(0x10000, 0, 0, 0x10000), freetype.Vector(0, 0))
        slot = face.glyph
        bm = slot.bitmap._FT_Bitmap
        rows, width, pitch = bm.rows, bm.width, bm.pitch
        if rows == 0 or width == 0 or not bm.buffer:
            return Glyph(np.zeros((0, 0), np.uint8), slot.bitmap_left, slot.bitmap_top)
        raw = np.frombuffer(ctypes.string_at(bm.buffer, abs(pitch) * rows), np.uint8).reshape(rows, abs(pitch))
        if pitch < 0:
            raw = raw[::-1]
        if bm.pixel_mode == freetype.FT_PIXEL_MODE_GRAY:
            cov = raw[:, :width].copy()
        elif bm.pixel_mode == freetype.FT_PIXEL_MODE_MONO:
            cov = np.unpackbits(raw, axis=1)[:, :width] * np.uint8(255)
        else:
            raise AksarError(f"{font.path}: glyph {gid} has an unsupported bitmap mode {bm.pixel_mode}")
        return Glyph(cov, slot.bitmap_left, slot.bitmap_top)


def over(dst: np.ndarray, src: np.ndarray) -> None:
    """Blend coverage ``src`` into ``dst`` in place as Pillow does: ``src + dst * (255 - src) / 255``."""
    if not dst.any():
        dst[...] = src
        return
    tmp = dst.astype(np.uint32) * (255 - src) + 128
    np.add(src, ((tmp >> 8) + tmp) >> 8, out=dst, casting="unsafe")


_CLOSING = {")": "(", "]": "[", "}": "{", "\u300b": "\u300a", "\u300d": "\u300c"}
_COMMON = regex.compile(r"[\p{Script=Zyyy}\p{Script=Zinh}]")


def script_runs(text: str, main: str | None, script_of) -> list[tuple[str, str | None]]:
    """(run, ISO 15924 tag, None for ``main``) as RAQM itemises a line by script: Common and Inherited
    characters take the script before them (leading ones the first script), a closing bracket that of its
    opening one. ``script_of(ch)``: the tag of a character (``main`` for the main script's, "" for Common)."""
    scripts: list[str] = []
    opened: list[tuple[str, int]] = []     # (opening bracket, its index)
    current = ""
    for i, ch in enumerate(text):
        sc = script_of(ch)
        if not sc:
            if ch in "([{\u300a\u300c":
                opened.append((ch, i))
            elif ch in _CLOSING:
                while opened and opened[-1][0] != _CLOSING[ch]:
                    opened.pop()
                if opened:
                    sc = scripts[opened.pop()[1]]
            sc = sc or current
        elif not current:                  # leading Common characters take the first script
            scripts = [sc] * len(scripts)
        if sc:
            current = sc
        scripts.append(sc)
    runs: list[tuple[str, str | None]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or scripts[i] != scripts[start]:
            runs.append((text[start:i], None if scripts[start] in (main, "") else scripts[start]))
            start = i
    return runs


class GlyphLineRenderer:
    """Text -> (coverage mask, y of its top below the ascender line), composed from cached glyphs.
    Picklable; HarfBuzz and FreeType objects load lazily in each process."""

    def __init__(self, script: str | None = None, max_bytes: int = 64 << 20, phases: int = 1):
        self.script = script
        self.max_bytes = max_bytes
        self.phases = phases
        self._init()

    def _init(self) -> None:
        from aksar.render.shaping import ShapingGate

        self.cache = GlyphCache(self.max_bytes, self.phases)
        self.shaper = ShapingGate(self.script)
        self._hb_fonts: dict[tuple[str, int, int], object] = {}
        self._scripts: dict[str, str] = {}
        self._foreign = None

    def __getstate__(self) -> dict:
        return {"script": self.script, "max_bytes": self.max_bytes, "phases": self.phases}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init()

    def _hb_font(self, font: FontInfo, size: int):
        """A HarfBuzz font at the FreeType size's scale whose advances are FreeType's unhinted ones, rounded
        as RAQM's hb-ft font rounds them (HarfBuzz's own scaling can differ by 1/64 px per glyph)."""
        key = (font.path, font.index, size)
        hbf = self._hb_fonts.get(key)
        if hbf is None:
            import uharfbuzz as hb

            face = self.shaper.hb_face(font)
            _, _, x_scale, *scale = self.cache.metrics(font, size)
            units, parent = hb.Font(face), hb.Font(face)
            parent.scale = tuple(scale)
            advances: dict[int, int] = {}

            def h_advance(_font, gid: int, _data) -> int:
                v = advances.get(gid)
                if v is None:  # FT_Get_Advance (16.16, FT_MulDiv rounding), then hb-ft's 16.16 -> 26.6
                    v = advances[gid] = (((units.get_glyph_h_advance(gid) * x_scale + 32) >> 6) + 512) >> 10
                return v

            funcs = hb.FontFuncs()
            funcs.set_glyph_h_advance_func(h_advance, None)
            hbf = hb.Font(parent)
            hbf.funcs = funcs
            hbf = self._hb_fonts[key] = (hbf, parent, units, funcs)  # the callback's owners stay alive
        return hbf[0]

    def _script_of(self, ch: str) -> str:
        """ISO 15924 tag of ``ch``: "" for Common/Inherited (cached per character)."""
        sc = self._scripts.get(ch)
        if sc is None:
            if _COMMON.match(ch):
                sc = ""
            else:
                import uharfbuzz as hb

                buf = hb.Buffer()
                buf.add_str(ch)
                buf.guess_segment_properties()
                sc = buf.script or ""
            self._scripts[ch] = sc
        return sc

    def _runs(self, text: str) -> list[tuple[str, str | None]]:
        main = self.shaper.script_tag
        if main is None:
            return [(text, None)]
        if self._foreign is None:
            self._foreign = regex.compile(rf"[^\p{{Script={main}}}\p{{Script=Zyyy}}\p{{Script=Zinh}}]")
        if not self._foreign.search(text):
            return [(text, None)]
        return script_runs(text, main, self._script_of)

    def advance(self, text: str, font: FontInfo, size: int) -> float:
        """The pen advance of ``text`` at ``size`` px (26.6 sum of the shaped advances, as ``ink`` places them)."""
        hb_font = self._hb_font(font, size)
        return sum(p.x_advance for run, script in self._runs(text)
                   for p in self.shaper.shaped_buffer(hb_font, run, script).glyph_positions) / 64

    def ink(self, text: str, font: FontInfo, size: int) -> tuple[np.ndarray, int]:
        """The line's coverage (255 = ink) and its top's offset below the ascender line, like Pillow's
        ``getmask2(text, mode="L")`` with the default "la" anchor."""
        cache = self.cache
        ascent = cache.metrics(font, size)[0]
        hb_font = self._hb_font(font, size)
        phases = self.phases
        placed = []
        pen = x_lo = y_hi = x_hi = y_lo = 0   # Pillow's box always holds the pen origin and line
        for run, script in self._runs(text):
            buf = self.shaper.shaped_buffer(hb_font, run, script)
            for info, pos in zip(buf.glyph_infos, buf.glyph_positions):
                x = pen + pos.x_offset
                pen += pos.x_advance
                if phases > 1:
                    q = ((x & 63) * phases + 32) >> 6
                    px, phase = (x >> 6) + q // phases, q % phases
                else:
                    px, phase = (x + 32) >> 6, 0
                bmp, left, top = cache.glyph(font, size, info.codepoint, phase)
                left += px
                top += (pos.y_offset + 32) >> 6                  # top: rows above the baseline
                h, w = bmp.shape
                if left < x_lo:
                    x_lo = left
                if left + w > x_hi:
                    x_hi = left + w
                if top > y_hi:
                    y_hi = top
                if top - h < y_lo:
                    y_lo = top - h
                if h:
                    placed.append((bmp, left, top, h, w))
        x_hi = max(x_hi, (pen + 32) >> 6)
        mask = np.zeros((y_hi - y_lo, x_hi - x_lo), np.uint8)
        right = x_lo  # every bitmap placed so far ends left of this column
        for bmp, left, top, h, w in placed:
            r, c = y_hi - top, left - x_lo
            if left >= right:   # clear of all earlier glyphs (the usual case): a copy
                mask[r:r + h, c:c + w] = bmp
            else:
                over(mask[r:r + h, c:c + w], bmp)
            if left + w > right:
                right = left + w
        return mask, ascent - y_hi


__all__ = ["GlyphCache", "GlyphLineRenderer", "Glyph", "over", "script_runs", "FREETYPE_HELP"]
