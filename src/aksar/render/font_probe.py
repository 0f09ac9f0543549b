"""Font probe: a font is used only if it draws a real line of its script the way a trusted font does.

A cmap that covers the script proves little: a truncated file, zeroed outlines or a damaged GSUB table
still map every character. ``probe_font(font, script)`` returns None for a sound font, else the reason:

- outlines: every letter (category L) of the script the cmap maps must have a non-empty glyph outline;
- layout: the script's probe line, laid out with Pillow RAQM, must produce ink with a sane bounding box
  (height and width in proportion to the font size and the number of clusters);
- shaping: the probe line shaped with HarfBuzz must merge the script's joining marks where the trusted
  reference font merges them (Khmer COENG, Myanmar VIRAMA: a working font turns it + consonant into a
  subscript glyph; a font whose GSUB is missing or damaged draws a stray sign and a full-size
  consonant). Optional substitutions (consonant + AA ligatures, Thai positional mark variants) differ
  between good fonts and are not compared; scripts without joining marks skip this step.

Results are cached per (file, size, mtime, face, script).
"""
from __future__ import annotations

import logging
import os
import unicodedata
from functools import lru_cache

from aksar.core.errors import AksarError
from aksar.render.fonts import FontInfo, _load_face, font_cmap, resolve_font, script_letters
from aksar.text.scripts import ScriptField, get_script

log = logging.getLogger(__name__)

# Per script (``aksar.text.scripts``): a real line rich in what shaping must get right (``probe_line``:
# subscripts, pre-base vowels, stacked marks); trusted fonts whose shaping of it is the reference, the
# first installed one wins (``reference_fonts``); marks a font must merge into a neighbouring glyph, never
# drawn with their own glyph in running text (``joining_marks``: Khmer COENG, Myanmar VIRAMA).
PROBE_LINES: ScriptField = ScriptField("probe_line")
REFERENCE_FONTS: ScriptField = ScriptField("reference_fonts")
JOINING_MARKS: ScriptField = ScriptField("joining_marks")
PROBE_SIZE = 32  # px; small keeps the probe fast


def probe_line(script: str) -> str:
    """The probe text of ``script`` (its ``sample`` for scripts without a dedicated line)."""
    info = get_script(script)
    return info.probe_line or info.sample


def _shape(font: FontInfo, text: str, script: str) -> list[tuple[int, int]]:
    from aksar.render.shaping import ShapingGate

    return ShapingGate(script).shape(text, font)


def absorbed_marks(font: FontInfo, text: str, script: str) -> set[int]:
    """Positions of the script's joining marks in ``text`` whose own glyph is absent from the shaped
    output of their cluster: the font merged them into another glyph (COENG into a subscript)."""
    import uharfbuzz as hb

    hb_font = hb.Font(_load_face(font.path, font.index)[0])
    marks = get_script(script).joining_marks
    glyphs = _shape(font, text, script)
    starts = sorted({c for _, c in glyphs})
    out: set[int] = set()
    for a, b in zip(starts, starts[1:] + [len(text)]):
        produced = {g for g, c in glyphs if c == a}
        for i in range(a, b):
            if text[i] in marks and hb_font.get_nominal_glyph(ord(text[i])) not in produced:
                out.add(i)
    return out


def _empty_outlines(font: FontInfo, script: str) -> list[str]:
    """Letters of the script the cmap maps to a glyph without outline."""
    import uharfbuzz as hb

    hb_font = hb.Font(_load_face(font.path, font.index)[0])
    cmap = font_cmap(font)
    empty = []
    for ch in script_letters(script):
        if unicodedata.category(ch)[0] != "L" or ord(ch) not in cmap:
            continue
        ext = hb_font.get_glyph_extents(hb_font.get_nominal_glyph(ord(ch)))
        if ext is None or ext.width == 0 or ext.height == 0:
            empty.append(ch)
    return empty


def _layout_problem(font: FontInfo, text: str, script: str) -> str | None:
    import numpy as np

    from aksar.render.renderer import LineRenderer, RenderConfig
    from aksar.text.graphemes import clusters

    try:
        mask, _ = LineRenderer(RenderConfig(font_size=PROBE_SIZE), script).ink(text, font)
    except AksarError as exc:
        return f"probe line does not lay out ({str(exc).rsplit(': ', 1)[-1]})"
    rows = np.flatnonzero(mask.max(axis=1)) if mask.size else []
    if len(rows) == 0:
        return "probe line renders no ink"
    cols = np.flatnonzero(mask.max(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    n = sum(1 for c in clusters(text) if not c.isspace())
    if not 0.3 * PROBE_SIZE <= height <= 4 * PROBE_SIZE or not 0.1 * PROBE_SIZE * n <= width <= 3 * PROBE_SIZE * n:
        return f"probe line has an implausible ink box ({width}x{height} px at {PROBE_SIZE} px for {n} clusters)"
    return None


@lru_cache(maxsize=None)
def reference_font(script: str) -> FontInfo | None:
    """The first installed trusted font of ``script`` that passes its own outline and layout checks."""
    text = probe_line(script)
    for name in get_script(script).reference_fonts:
        try:
            font = resolve_font(name)
        except AksarError:
            continue
        if not _empty_outlines(font, script) and _layout_problem(font, text, script) is None:
            return font
    log.warning("no trusted %s reference font installed (%s): fonts are probed without the shaping "
                "comparison", script, ", ".join(get_script(script).reference_fonts) or "none known")
    return None


def _truncation(font: FontInfo, size: int) -> str | None:
    """The first table that ends past the end of the file (a cut-off download or copy), else None."""
    from fontTools.ttLib import TTFont

    try:
        reader = TTFont(font.path, fontNumber=font.index, lazy=True).reader
    except Exception as exc:
        return f"not a readable font ({type(exc).__name__}: {exc})"
    for tag, entry in reader.tables.items():
        if entry.offset + entry.length > size:
            return f"file truncated: table {tag!r} ends at byte {entry.offset + entry.length}, file has {size}"
    return None


def probe_font(font: FontInfo, script: str) -> str | None:
    """None if ``font`` draws the script's probe line soundly, else the reason (see module doc)."""
    try:
        st = os.stat(font.path)
    except OSError as exc:
        return f"cannot read file ({exc.strerror or exc})"
    return _probe(font, script, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=None)
def _probe(font: FontInfo, script: str, size: int, mtime: int) -> str | None:
    try:
        truncated = _truncation(font, size)
        if truncated:
            return truncated
        empty = _empty_outlines(font, script)
        if empty:
            shown = " ".join(f"{c}(U+{ord(c):04X})" for c in empty[:3])
            return f"{len(empty)} letters have no outline, e.g. {shown}"
        text = probe_line(script)
        problem = _layout_problem(font, text, script)
        if problem:
            return problem
        ref = reference_font(script)
        if ref is None or (ref.path, ref.index) == (font.path, font.index):
            return None
        lost = absorbed_marks(ref, text, script) - absorbed_marks(font, text, script)
        if lost:
            i = min(lost)
            return (f"shapes the probe line unlike {ref.name}: {text[i]!r} (U+{ord(text[i]):04X}) in "
                    f"{text[max(0, i - 2):i + 2]!r} is not merged (GSUB missing or damaged)")
    except AksarError as exc:
        return str(exc).removeprefix(f"{font.path}: ")
    except Exception as exc:  # damaged fonts make HarfBuzz/FreeType fail in many ways
        return f"probe failed ({type(exc).__name__}: {exc})"
    return None


__all__ = ["probe_font", "probe_line", "reference_font", "absorbed_marks", "PROBE_LINES", "JOINING_MARKS", "REFERENCE_FONTS"]
