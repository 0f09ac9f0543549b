"""Text normalization: one encoding for every text that renders the same.

``normalize`` (used on every corpus line, label and prediction):

1. Invisible characters are removed (``INVISIBLE_CHARS``: zero width space, BOM, soft hyphen, bidi and
   other format controls, C0/C1 controls other than whitespace, the invisible Khmer inherent vowels
   U+17B4/U+17B5). ZWJ is always removed; ZWNJ is kept only between a Khmer register shifter
   (U+17C9/U+17CA) and a following vowel or sign, the one place where it changes the rendering.
2. Deprecated Khmer characters are replaced by their recommended spellings (U+17A3 -> U+17A2,
   U+17A4 -> U+17A2 U+17B6, U+17D8 -> U+17D4 U+179B U+17D4).
3. NFC.
4. Whitespace runs (any Unicode space, tab, newline, NBSP) become one space; ends are stripped.
5. Khmer: the marks after a base are put in canonical order (see ``khmer.py``).
6. Thai: SARA AM is the precomposed U+0E33; U+0E4D [tone] U+0E32 -> [tone] U+0E33; a
   non-spacing mark typed twice in a row is kept once.

``fold_visual`` is separate and NOT part of ``normalize``: it maps encodings that are different text
but look the same in most fonts (``FOLD_TABLE``) to one form, for lenient metrics only.
"""
from __future__ import annotations

import re
import unicodedata

from aksar.text.khmer import KHMER_CHAR_RE, khmer_canonical_order
from aksar.text.scripts import get_script

ZWNJ = "\u200c"
ZWJ = "\u200d"

# Characters no image can show. Removed everywhere.
INVISIBLE_CHARS: frozenset[str] = frozenset(
    "\u00ad"                      # SOFT HYPHEN
    "\u034f"                      # COMBINING GRAPHEME JOINER
    "\u061c"                      # ARABIC LETTER MARK
    "\u180e"                      # MONGOLIAN VOWEL SEPARATOR
    "\u200b"                      # ZERO WIDTH SPACE
    "\u200e\u200f"                # LRM, RLM
    "\u202a\u202b\u202c\u202d\u202e"  # bidi embeddings and overrides
    "\u2060\u2061\u2062\u2063\u2064"  # WORD JOINER, invisible operators
    "\u2066\u2067\u2068\u2069"    # bidi isolates
    "\u206a\u206b\u206c\u206d\u206e\u206f"  # deprecated format characters
    "\ufeff"                      # ZERO WIDTH NO-BREAK SPACE / BOM
    "\u17b4\u17b5"                # KHMER VOWEL INHERENT AQ / AA (invisible, discouraged)
) | frozenset(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if not chr(c).isspace())

# Deprecated Khmer characters -> recommended sequences (The Unicode Standard, Khmer chapter).
KHMER_DEPRECATED: dict[str, str] = {
    "\u17a3": "\u17a2",               # KHMER INDEPENDENT VOWEL QAQ -> QA
    "\u17a4": "\u17a2\u17b6",         # KHMER INDEPENDENT VOWEL QAA -> QA + AA
    "\u17d8": "\u17d4\u179b\u17d4",   # KHMER SIGN BEYYAL -> KHAN LO KHAN
}

_TRANSLATE = {ord(c): None for c in INVISIBLE_CHARS} | {ord(k): v for k, v in KHMER_DEPRECATED.items()}
_DEPRECATED_OR_INVISIBLE_RE = re.compile(
    "[" + "".join(sorted(re.escape(c) for c in INVISIBLE_CHARS | set(KHMER_DEPRECATED))) + "]"
)

# ZWJ anywhere, ZWNJ unless between a Khmer shifter and a following Khmer vowel/sign.
_JOINER_RE = re.compile(
    "\u200d|(?<![\u17c9\u17ca])\u200c|\u200c(?![\u17b6-\u17d1\u17d3\u17dd])"
)
_SPACE_RE = re.compile(r"\s+")

THAI_TONES = "\u0e48\u0e49\u0e4a\u0e4b"
_THAI_CHAR_RE = re.compile("[\u0e00-\u0e7f]")
_THAI_AM_RE = re.compile(f"\u0e4d([{THAI_TONES}]?)\u0e32")
# Thai non-spacing marks (above/below vowels, tone marks, other signs) typed twice in a row.
_THAI_DOUBLE_MARK_RE = re.compile("([\u0e31\u0e34-\u0e3a\u0e47-\u0e4e])\\1+")


def _thai_rules(text: str) -> str:
    if "\u0e4d" in text:
        text = _THAI_AM_RE.sub("\\1\u0e33", text)
    return _THAI_DOUBLE_MARK_RE.sub("\\1", text)


def normalize(text: str, script: str | None = None) -> str:
    """The canonical form of ``text``; ``""`` if nothing visible is left.

    The rules of every known script apply to that script's characters, so the result does not
    depend on ``script`` (which is only checked to be a known script name).
    """
    if script is not None:
        get_script(script)
    if _DEPRECATED_OR_INVISIBLE_RE.search(text):
        text = text.translate(_TRANSLATE)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if ZWNJ in text or ZWJ in text:
        text = _JOINER_RE.sub("", text)
    text = _SPACE_RE.sub(" ", text).strip()
    if KHMER_CHAR_RE.search(text):
        text = khmer_canonical_order(text)
    if _THAI_CHAR_RE.search(text):
        text = _thai_rules(text)
    return text


# Look-alike encodings: (encoded as, folded to, why). Applied by fold_visual, longest match first.
FOLD_TABLE: tuple[tuple[str, str, str], ...] = (
    ("\u17d2\u178a", "\u17d2\u178f",
     "KHMER COENG DA and COENG TA: the subscript forms of DA and TA are one glyph in most fonts"),
    ("\u0e40\u0e40", "\u0e41",
     "two THAI SARA E look the same as one THAI SARA AE"),
    ("\u2010", "-", "HYPHEN and HYPHEN-MINUS are the same glyph"),
    ("\u2011", "-", "NON-BREAKING HYPHEN and HYPHEN-MINUS are the same glyph"),
    ("\u2026", "...", "HORIZONTAL ELLIPSIS and three FULL STOPs look the same"),
)
_FOLD_MAP = {src: dst for src, dst, _ in FOLD_TABLE}
_FOLD_RE = re.compile("|".join(re.escape(s) for s in sorted(_FOLD_MAP, key=len, reverse=True)))


def fold_visual(text: str, script: str | None = None) -> str:
    """``normalize(text)`` with look-alike encodings (``FOLD_TABLE``) folded to one form.

    For lenient metrics only: folded text is not a valid training label.
    """
    text = normalize(text, script)
    return _FOLD_RE.sub(lambda m: _FOLD_MAP[m.group(0)], text)


__all__ = ["normalize", "fold_visual", "INVISIBLE_CHARS", "KHMER_DEPRECATED", "FOLD_TABLE"]
