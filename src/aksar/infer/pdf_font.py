"""Fonts of the searchable PDF's text layer: choosing a font for a line, shaping the line, and embedding the
glyphs used as a subset Type0 font whose every CID stands for one (glyph, text) pair.

Design (see docs/notes/pdf-layer.md): a line is shaped with HarfBuzz (:class:`aksar.render.shaping.ShapingGate`),
so the glyphs are the real shaped ones (Khmer subscripts, pre-base vowels, Thai stacked marks). A PDF reader
gets text back only through the font's ``ToUnicode`` CMap, which maps a character code to a string; so each
distinct pair (glyph id, text it stands for) gets its own CID: the first glyph of a HarfBuzz cluster stands for
the cluster's whole text, the cluster's other glyphs for nothing. ``CIDToGIDMap`` maps CIDs to glyph ids of a
fontTools subset that keeps glyph ids (``retain_gids``). TrueType-outline fonts only (CIDFontType2/FontFile2).
"""
from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence

from aksar.core.errors import AksarError
from aksar.render.font_probe import probe_font
from aksar.render.fonts import FontInfo, _load_face, font_cmap, scan_fonts, style_class
from aksar.render.shaping import ShapingGate, _is_default_ignorable
from aksar.text.scripts import SCRIPTS, get_script


# What a glyph standing for no text maps to in ToUnicode: a noncharacter that PDFium's text extraction drops.
# Only the debug view (visible text) draws such glyphs; see docs/notes/pdf-layer.md.
NO_TEXT = "\ufffe"


class PlacedGlyph(NamedTuple):
    """A glyph of a shaped line: its id, the text it stands for ("" for a cluster's later glyphs) and
    HarfBuzz's placement (font units)."""

    gid: int
    text: str
    x_advance: int
    x_offset: int
    y_offset: int


def merge_clusters(glyphs: Sequence[PlacedGlyph]) -> list[PlacedGlyph]:
    """Only the glyphs that stand for text, each advancing by its whole cluster: the invisible text layer,
    in which every drawn glyph maps to text in any PDF reader."""
    out: list[PlacedGlyph] = []
    for g in glyphs:
        if g.text or not out:
            out.append(g)
        else:
            out[-1] = out[-1]._replace(x_advance=out[-1].x_advance + g.x_advance)
    return out


@lru_cache(maxsize=None)
def _has_truetype_outlines(path: str, index: int) -> bool:
    from fontTools.ttLib import TTFont

    try:
        return "glyf" in TTFont(path, fontNumber=index, lazy=True)
    except Exception:  # fontTools raises many types for unreadable files
        return False


def _needed_chars(text: str) -> set[int]:
    return {ord(c) for c in text if not c.isspace() and not _is_default_ignorable(c)}


@lru_cache(maxsize=None)
def _script_scan(script: str) -> tuple[tuple[FontInfo, ...], tuple[FontInfo, ...]]:
    """(installed reference fonts, other regular-style fonts) of ``script`` with TrueType outlines, from one
    scan of the system fonts per process, without the font probe (run lazily by :func:`script_fonts`)."""
    scan = [f for f in scan_fonts(script, probe=False).fonts if _has_truetype_outlines(f.path, f.index)]
    by_name = {f.name.lower(): f for f in scan}
    refs = [by_name[n.lower()] for n in get_script(script).reference_fonts if n.lower() in by_name]
    return tuple(refs), tuple(f for f in scan if f not in refs and style_class(f) == "regular")


def script_fonts(script: str) -> Iterator[FontInfo]:
    """Fonts for ``script``, best first: its installed reference fonts (trusted), then its other regular-style
    fonts that pass the font probe (probed only when reached)."""
    refs, others = _script_scan(script)
    yield from refs
    for font in others:
        if probe_font(font, script) is None:
            yield font


class FontChooser:
    """Picks the font that draws a line: the first candidate whose cmap covers every character of the line
    (else the one covering most). Candidates: the given ``fonts``, or, script by script (the document's first,
    then aksar's other scripts, looked up only when a line needs them), the script's reference fonts and its
    other regular-style fonts. Only TrueType-outline fonts qualify (they embed as CIDFontType2)."""

    def __init__(self, script: str | None = None, fonts: Sequence[FontInfo] | None = None):
        self._given = list(fonts) if fonts else None
        if self._given is not None and not self._given:
            raise AksarError("searchable PDF: the font list is empty")
        for f in self._given or ():
            if not _has_truetype_outlines(f.path, f.index):
                raise AksarError(f"{f.path}: font {f.name!r} has no TrueType outlines (glyf); the PDF text layer "
                                 f"embeds TrueType fonts only")
        order = [script] if script else []
        self._scripts = order + [s for s in SCRIPTS if s not in order]
        self._cache: dict[frozenset[int], FontInfo] = {}

    def _candidates(self) -> Iterator[FontInfo]:
        if self._given is not None:
            yield from self._given
            return
        for script in self._scripts:
            yield from script_fonts(script)

    def for_text(self, text: str) -> FontInfo:
        """The font to draw ``text`` with (AksarError if no font at all is found)."""
        needed = frozenset(_needed_chars(text))
        hit = self._cache.get(needed)
        if hit is not None:
            return hit
        best: FontInfo | None = None
        best_covered = -1
        for font in self._candidates():
            covered = len(needed & font_cmap(font))
            if covered > best_covered:
                best, best_covered = font, covered
            if covered == len(needed):
                break
        if best is None:
            raise AksarError("searchable PDF: no TrueType font found for the text layer (install e.g. Noto Sans "
                             "Khmer / Noto Sans Thai, or pass fonts)")
        self._cache[needed] = best
        return best


@dataclass(frozen=True)
class FontMetrics:
    """What placing text and describing the font need: units per em, ascent/descent (hhea), bbox, names."""

    units_per_em: int
    ascent: int
    descent: int            # negative below the baseline
    bbox: tuple[int, int, int, int]
    cap_height: int
    postscript_name: str


@lru_cache(maxsize=16)
def font_metrics(path: str, index: int) -> FontMetrics:
    from fontTools.ttLib import TTFont

    tt = TTFont(path, fontNumber=index, lazy=True)
    head, hhea = tt["head"], tt["hhea"]
    os2 = tt["OS/2"] if "OS/2" in tt else None
    ascent, descent = int(hhea.ascent), int(hhea.descent)
    if ascent - descent <= 0:
        raise AksarError(f"{path}: font has no usable ascent/descent (hhea)")
    name = tt["name"].getDebugName(6) or "AksarFont"
    cap = int(getattr(os2, "sCapHeight", 0) or ascent) if os2 is not None else ascent
    return FontMetrics(units_per_em=int(head.unitsPerEm), ascent=ascent, descent=descent,
                       bbox=(int(head.xMin), int(head.yMin), int(head.xMax), int(head.yMax)), cap_height=cap,
                       postscript_name="".join(c for c in name if c.isalnum() or c in "-_") or "AksarFont")


def cluster_texts(text: str, clusters: Iterable[int]) -> list[str]:
    """For each glyph (given its HarfBuzz cluster, a character index), the text it stands for: the first
    glyph of a cluster gets the cluster's characters (up to the next cluster's start), the others ""."""
    clusters = list(clusters)
    starts = sorted(set(clusters))
    end_of = {s: e for s, e in zip(starts, starts[1:] + [len(text)])}
    out: list[str] = []
    seen: set[int] = set()
    for c in clusters:
        out.append("" if c in seen else text[c:end_of[c]])
        seen.add(c)
    return out


class EmbeddedFont:
    """One font of the PDF: hands out a CID per (glyph id, text) pair while pages are written, and writes
    the font objects (subset font file, widths, CIDToGIDMap, ToUnicode) at the end."""

    def __init__(self, font: FontInfo, resource_name: str, object_number: int):
        self.font = font
        self.resource_name = resource_name
        self.object_number = object_number
        self.metrics = font_metrics(font.path, font.index)
        self._hb_font = None
        self._cids: dict[tuple[int, str, int], int] = {}
        self._pairs: list[tuple[int, str, int]] = [(0, "", 0)]  # (glyph id, text, advance); CID 0: .notdef

    def cid(self, gid: int, text: str, advance: int) -> int:
        """The CID drawing glyph ``gid``, standing for ``text``, with ``advance`` (font units) as its /W width:
        giving each CID its shaped advance keeps the content stream free of gaps that readers take for spaces."""
        key = (gid, text, advance)
        cid = self._cids.get(key)
        if cid is None:
            cid = self._cids[key] = len(self._pairs)
            if cid > 0xFFFF:
                raise AksarError(f"searchable PDF: font {self.font.name!r} needs more than 65535 CIDs")
            self._pairs.append(key)
        return cid

    def place(self, text: str, gate: ShapingGate) -> list[PlacedGlyph]:
        """``text`` shaped with HarfBuzz; each glyph with the text it stands for."""
        shaped = gate.shape_positioned(text, self.font)
        texts = cluster_texts(text, (g.cluster for g in shaped))
        return [PlacedGlyph(g.gid, t, g.x_advance, g.x_offset, g.y_offset) for g, t in zip(shaped, texts)]

    def ink_bounds(self, glyphs: Sequence[PlacedGlyph]) -> tuple[int, int, int, int] | None:
        """``(xmin, ymin, xmax, ymax)`` of the glyphs' outlines laid out from the origin (font units, y up),
        or None when nothing has ink (spaces only)."""
        self._ensure_hb()
        boxes = []
        pen = 0
        for g in glyphs:
            ext = self._hb_font.get_glyph_extents(g.gid)
            if ext is not None and ext.width and ext.height:
                x = pen + g.x_offset + ext.x_bearing
                top = g.y_offset + ext.y_bearing
                boxes.append((x, top + ext.height, x + ext.width, top))
            pen += g.x_advance
        if not boxes:
            return None
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))

    def blank_gid(self) -> int:
        """The glyph of the space character (0, .notdef, when the font has none)."""
        self._ensure_hb()
        return self._hb_font.get_nominal_glyph(0x20) or 0

    def _ensure_hb(self) -> None:
        import uharfbuzz as hb

        if self._hb_font is None:
            self._hb_font = hb.Font(_load_face(self.font.path, self.font.index)[0])

    def advance(self, cid: int) -> int:
        """The advance /W gives ``cid``, in font units."""
        return self._pairs[cid][2]

    # -- writing the font objects --------------------------------------------------------------------
    def _subset(self) -> bytes:
        from fontTools import subset
        from fontTools.ttLib import TTFont

        opts = subset.Options()
        opts.retain_gids = True
        opts.notdef_outline = True
        opts.layout_features = []
        opts.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "DSIG", "kern", "morx", "feat"]
        opts.hinting = False
        opts.name_IDs = [1, 2, 3, 4, 6]
        tt = TTFont(self.font.path, fontNumber=self.font.index, recalcTimestamp=False)
        subsetter = subset.Subsetter(opts)
        subsetter.populate(gids=sorted({gid for gid, _, _ in self._pairs}))
        quiet = logging.getLogger("fontTools")  # it logs every table it subsets at INFO
        level = quiet.level
        quiet.setLevel(max(level, logging.WARNING))
        try:
            subsetter.subset(tt)
        finally:
            quiet.setLevel(level)
        buf = io.BytesIO()
        tt.save(buf)
        return buf.getvalue()

    def _tag(self) -> str:
        digest = hashlib.sha256(repr((self.font.path, self.font.index, self._pairs)).encode()).digest()
        return "".join(chr(ord("A") + b % 26) for b in digest[:6])

    def _widths(self) -> str:
        scale = 1000 / self.metrics.units_per_em
        widths = " ".join(str(round(self.advance(cid) * scale)) for cid in range(len(self._pairs)))
        return f"[0 [{widths}]]"

    def _cid_to_gid(self) -> bytes:
        return b"".join(gid.to_bytes(2, "big") for gid, _, _ in self._pairs)

    def _to_unicode(self) -> bytes:
        entries = [(cid, text or NO_TEXT) for cid, (_, text, _) in enumerate(self._pairs) if cid]
        out = ["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
               "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
               "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
               "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange"]
        for i in range(0, len(entries), 100):
            chunk = entries[i:i + 100]
            out.append(f"{len(chunk)} beginbfchar")
            out += [f"<{cid:04X}> <{text.encode('utf-16-be').hex().upper()}>" for cid, text in chunk]
            out.append("endbfchar")
        out += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
        return ("\n".join(out) + "\n").encode("ascii")

    def write(self, reserve: Callable[[], int], put_object: Callable[[int, str], None],
              put_stream: Callable[[int, str, bytes], None]) -> None:
        """Write the Type0 font (at ``object_number``) and the objects it refers to."""
        m = self.metrics
        scale = 1000 / m.units_per_em
        name = f"{self._tag()}+{m.postscript_name}"
        cid_font, descriptor, font_file, cid_map, to_unicode = (reserve() for _ in range(5))
        file_data = self._subset()
        put_stream(font_file, f"/Length1 {len(file_data)}", file_data)
        put_stream(cid_map, "", self._cid_to_gid())
        put_stream(to_unicode, "", self._to_unicode())
        bbox = " ".join(str(round(v * scale)) for v in m.bbox)
        put_object(descriptor, f"<< /Type /FontDescriptor /FontName /{name} /Flags 4 /FontBBox [{bbox}] "
                               f"/ItalicAngle 0 /Ascent {round(m.ascent * scale)} /Descent {round(m.descent * scale)} "
                               f"/CapHeight {round(m.cap_height * scale)} /StemV 80 /FontFile2 {font_file} 0 R >>")
        put_object(cid_font, f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
                             f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                             f"/FontDescriptor {descriptor} 0 R /DW 0 /W {self._widths()} "
                             f"/CIDToGIDMap {cid_map} 0 R >>")
        put_object(self.object_number, f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
                                       f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>")


__all__ = ["FontChooser", "EmbeddedFont", "PlacedGlyph", "merge_clusters", "NO_TEXT", "FontMetrics", "font_metrics", "cluster_texts", "script_fonts"]
