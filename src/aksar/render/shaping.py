"""Validity gate: never emit an image whose text the font cannot draw correctly.

``ShapingGate.check(text, font)`` returns None when the text shapes cleanly, else a reason:

- ``"missing_glyph"``: a character is missing from the font's cmap (checked first, cheaply) or shaping
  produced .notdef (glyph id 0);
- ``"dotted_circle"``: a broken cluster (e.g. a lone COENG, a vowel sign with no base). HarfBuzz marks
  these with an inserted U+25CC, but only when the font has a U+25CC glyph; for fonts without one the
  text is also shaped with a reference font that has it (cluster validity depends only on the characters,
  not on the font), and a font-independent rule catches combining marks that follow no base at all
  (HarfBuzz's Thai shaper never inserts dotted circles).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import regex

from aksar.render.fonts import FontInfo, discover_fonts, font_cmap, _load_face
from aksar.text.scripts import ScriptField, get_script

DOTTED_CIRCLE = 0x25CC


class ShapedGlyph(NamedTuple):
    """One glyph HarfBuzz placed: its id, the index of its cluster's first character, and its advance and
    offsets in font units."""

    gid: int
    cluster: int
    x_advance: int
    x_offset: int
    y_offset: int


def _is_default_ignorable(ch: str) -> bool:
    """Characters HarfBuzz hides itself when a font lacks them (ZWJ, ZWNJ, ZWSP, variation selectors...)."""
    cp = ord(ch)
    return (cp in (0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFEFF, 0xFFA0)
            or 0x180B <= cp <= 0x180F or 0x200B <= cp <= 0x200F or 0x202A <= cp <= 0x202E
            or 0x2060 <= cp <= 0x206F or 0xFE00 <= cp <= 0xFE0F or 0xE0000 <= cp <= 0xE0FFF)


# A combining mark preceded by nothing that can carry it (start of text, space, punctuation); format
# characters (ZWJ, ZWNJ) between a base and its mark are left to the shaper.
# A cluster HarfBuzz must mark with a dotted circle (``Script.broken_probe``, e.g. a Khmer dependent vowel on
# a dependent vowel). Fonts whose own GSUB hides that circle are gated through the reference font instead.
# Thai and Lao have none: HarfBuzz's Thai/Lao shaper inserts no dotted circle.
BROKEN_PROBE: ScriptField = ScriptField("broken_probe")

_ORPHAN_MARK = regex.compile(r"(?<![\p{L}\p{N}\p{M}\p{Cf}\u25CC])\p{M}")


def orphan_mark(text: str) -> int | None:
    """Index of the first combining mark that follows no base (start of text, space, punctuation), else None."""
    m = _ORPHAN_MARK.search(text)
    return m.start() if m else None


class ShapingGate:
    """Checks (text, font) pairs with HarfBuzz, script and language set. Picklable; caches per process."""

    def __init__(self, script: str | None = None, reference_font: FontInfo | None = None,
                 cache_size: int = 4096):
        self.script = script
        self.reference_font = reference_font
        self.cache_size = cache_size
        self._init_caches()

    def _init_caches(self) -> None:
        self._hb_fonts: dict[tuple[str, int], object] = {}
        self._props: tuple[str | None, str | None] | None = None
        self._reference = None  # (hb.Font, dotted-circle glyph) or False when none found
        self._broken_cache: OrderedDict[str, bool] = OrderedDict()

    def __getstate__(self) -> dict:
        return {"script": self.script, "reference_font": self.reference_font, "cache_size": self.cache_size}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_caches()

    # -- HarfBuzz plumbing ---------------------------------------------------------------------
    def _segment_props(self) -> tuple[str | None, str | None]:
        """(ISO 15924 script tag, language) for the buffer, from the script's sample text."""
        if self._props is None:
            if self.script is None:
                self._props = (None, None)
            else:
                import uharfbuzz as hb

                info = get_script(self.script)
                buf = hb.Buffer()
                buf.add_str(info.sample)
                buf.guess_segment_properties()
                self._props = (buf.script, info.language)
        return self._props

    @property
    def script_tag(self) -> str | None:
        """The ISO 15924 tag the gate shapes with (None without a script)."""
        return self._segment_props()[0]

    def _hb_font(self, font: FontInfo):
        key = (font.path, font.index)
        hbf = self._hb_fonts.get(key)
        if hbf is None:
            import uharfbuzz as hb

            face, cmap = _load_face(font.path, font.index)
            f = hb.Font(face)
            dotted = f.get_nominal_glyph(DOTTED_CIRCLE) if DOTTED_CIRCLE in cmap else None
            if dotted is not None and not self._reveals_broken(f, dotted):
                dotted = None  # the font hides HarfBuzz's dotted circle (e.g. SIL Busra): ask the reference
            hbf = self._hb_fonts[key] = (f, dotted)
        return hbf

    def _reveals_broken(self, hb_font, dotted: int) -> bool:
        """Whether shaping a known-broken cluster of the script shows a dotted circle in this font."""
        probe = get_script(self.script).broken_probe if self.script else ""
        return not probe or any(gid == dotted for gid, _ in self._shape(hb_font, probe))

    def shape(self, text: str, font: FontInfo) -> list[tuple[int, int]]:
        """(glyph id, cluster) pairs of ``text`` shaped in ``font``."""
        return self._shape(self._hb_font(font)[0], text)

    def shape_positioned(self, text: str, font: FontInfo) -> list[ShapedGlyph]:
        """``text`` shaped in ``font`` with each glyph's advance and offset (font units)."""
        buf = self.shaped_buffer(self._hb_font(font)[0], text)
        return [ShapedGlyph(g.codepoint, g.cluster, p.x_advance, p.x_offset, p.y_offset)
                for g, p in zip(buf.glyph_infos, buf.glyph_positions)]

    def hb_face(self, font: FontInfo):
        """The HarfBuzz face of ``font`` (loaded once per process)."""
        return self._hb_font(font)[0].face

    def shaped_buffer(self, hb_font, text: str, script: str | None = None):
        """``text`` shaped with ``hb_font`` (any scale), the gate's language and ``script`` (an ISO 15924
        tag; default: the gate's script) -- the one shaping call of the gate and of the glyph-cache renderer."""
        import uharfbuzz as hb

        buf = hb.Buffer()
        buf.add_str(text)
        own_script, language = self._segment_props()
        buf.guess_segment_properties()
        if script or own_script:
            buf.script = script or own_script
        if language:
            buf.language = language
        hb.shape(hb_font, buf, {})
        return buf

    def _shape(self, hb_font, text: str) -> list[tuple[int, int]]:
        return [(g.codepoint, g.cluster) for g in self.shaped_buffer(hb_font, text).glyph_infos]

    def _reference_hb(self):
        if self._reference is None:
            self._reference = False
            candidates = [self.reference_font] if self.reference_font else []
            if self.script:
                candidates += discover_fonts(self.script, exclude=())
            for cand in candidates:
                try:
                    f, dotted = self._hb_font(cand)
                except Exception:
                    continue
                if dotted:
                    self._reference = (f, dotted)
                    break
        return self._reference

    def _broken_by_reference(self, text: str) -> bool:
        hit = self._broken_cache.get(text)
        if hit is not None:
            return hit
        ref = self._reference_hb()
        broken = False
        if ref:
            f, dotted = ref
            n = sum(1 for gid, _ in self._shape(f, text) if gid == dotted)
            broken = n > text.count("\u25cc")
        self._broken_cache[text] = broken
        if len(self._broken_cache) > self.cache_size:
            self._broken_cache.popitem(last=False)
        return broken

    # -- the gate --------------------------------------------------------------------------------
    def missing_chars(self, text: str, font: FontInfo) -> list[str]:
        """Characters of ``text`` the font's cmap lacks (default-ignorable ones excepted)."""
        cmap = font_cmap(font)
        if cmap.issuperset(map(ord, text)):
            return []
        return sorted({c for c in text if ord(c) not in cmap and not _is_default_ignorable(c)})

    def check(self, text: str, font: FontInfo) -> str | None:
        """None if ``text`` shapes cleanly in ``font``; else "missing_glyph" or "dotted_circle"."""
        if self.missing_chars(text, font):
            return "missing_glyph"
        if orphan_mark(text) is not None:
            return "dotted_circle"
        hb_font, dotted = self._hb_font(font)
        glyphs = self._shape(hb_font, text)
        if any(gid == 0 for gid, _ in glyphs):
            return "missing_glyph"
        if dotted is not None:
            if sum(1 for gid, _ in glyphs if gid == dotted) > text.count("\u25cc"):
                return "dotted_circle"
        elif self._broken_by_reference(text):
            return "dotted_circle"
        return None


__all__ = ["ShapingGate", "ShapedGlyph", "orphan_mark", "DOTTED_CIRCLE"]
