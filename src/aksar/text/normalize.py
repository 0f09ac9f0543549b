"""Text normalization: one encoding for every text that renders the same.

``normalize`` (used on every corpus line, label and prediction):

1. Invisible characters are removed (``INVISIBLE_CHARS``: zero width space, BOM, soft hyphen, bidi and
   other format controls, C0/C1 controls other than whitespace, and each script's ``invisible``
   characters). ZWJ is always removed; ZWNJ is kept only where a script's ``zwnj_context`` says it
   changes the rendering (Khmer: between a register shifter and a following vowel or sign).
2. Deprecated characters are replaced by their recommended spellings (each script's ``deprecated``).
3. NFC.
4. Whitespace runs (any Unicode space, tab, newline, NBSP) become one space; ends are stripped.
5. The ``normalize`` rules of every registered script whose characters the text holds, in registration
   order (Khmer mark order, Thai and Lao SARA AM, Myanmar storage order: see each script's module).

``fold_visual`` is separate and NOT part of ``normalize``: it maps encodings that are different text
but look the same in most fonts (``FOLD_TABLE``: the generic entries and each script's ``folds``) to
one form, for lenient metrics only.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from aksar.text.scripts.base import SCRIPTS, generation, get_script

ZWNJ = "\u200c"
ZWJ = "\u200d"

# Characters no image can show, whatever the script. Removed everywhere.
GENERIC_INVISIBLE: frozenset[str] = frozenset(
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
) | frozenset(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if not chr(c).isspace())

GENERIC_FOLDS: tuple[tuple[str, str, str], ...] = (
    ("\u2010", "-", "HYPHEN and HYPHEN-MINUS are the same glyph"),
    ("\u2011", "-", "NON-BREAKING HYPHEN and HYPHEN-MINUS are the same glyph"),
    ("\u2026", "...", "HORIZONTAL ELLIPSIS and three FULL STOPs look the same"),
)
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class _Tables:
    """What normalize and fold_visual need, built from the registered scripts."""

    invisible: frozenset[str]
    translate: dict[int, str | None]
    deprecated_or_invisible: re.Pattern
    joiner: re.Pattern
    fold_table: tuple[tuple[str, str, str], ...]
    fold_map: dict[str, str]
    fold_re: re.Pattern
    rules: tuple[tuple[Callable[[str], object], Callable[[str], str]], ...]  # (has the script's chars, rules)


@lru_cache(maxsize=4)
def _tables(_generation: int) -> _Tables:
    scripts = list(SCRIPTS.values())
    invisible = GENERIC_INVISIBLE | frozenset("".join(s.invisible for s in scripts))
    deprecated = {k: v for s in scripts for k, v in s.deprecated.items()}
    keep = "".join(f"(?!(?<=[{b}])\u200c(?=[{a}]))" for s in scripts if s.zwnj_context for b, a in [s.zwnj_context])
    folds = tuple(f for s in scripts for f in s.folds) + GENERIC_FOLDS
    fold_map = {src: dst for src, dst, _ in folds}
    return _Tables(
        invisible=invisible,
        translate={ord(c): None for c in invisible} | {ord(k): v for k, v in deprecated.items()},
        deprecated_or_invisible=re.compile(
            "[" + "".join(sorted(re.escape(c) for c in invisible | set(deprecated))) + "]"),
        joiner=re.compile(f"\u200d|{keep}\u200c"),
        fold_table=folds, fold_map=fold_map,
        fold_re=re.compile("|".join(re.escape(s) for s in sorted(fold_map, key=len, reverse=True))),
        rules=tuple((s.char_re.search, s.normalize) for s in scripts if s.normalize is not None),
    )


def invisible_chars() -> frozenset[str]:
    """The characters ``normalize`` removes (generic ones and every registered script's)."""
    return _tables(generation()).invisible


def normalize(text: str, script: str | None = None) -> str:
    """The canonical form of ``text``; ``""`` if nothing visible is left.

    The rules of every known script apply to that script's characters, so the result does not
    depend on ``script`` (which is only checked to be a known script name).
    """
    if script is not None:
        get_script(script)
    t = _tables(generation())
    if t.deprecated_or_invisible.search(text):
        text = text.translate(t.translate)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if ZWNJ in text or ZWJ in text:
        text = t.joiner.sub("", text)
    text = _SPACE_RE.sub(" ", text).strip()
    for has_chars, rules in t.rules:
        if has_chars(text):
            text = rules(text)
    return text


def fold_visual(text: str, script: str | None = None) -> str:
    """``normalize(text)`` with look-alike encodings (``FOLD_TABLE``) folded to one form.

    For lenient metrics only: folded text is not a valid training label.
    """
    text = normalize(text, script)
    t = _tables(generation())
    return t.fold_re.sub(lambda m: t.fold_map[m.group(0)], text)


def __getattr__(name: str):
    """``INVISIBLE_CHARS`` and ``FOLD_TABLE``, from the scripts registered when they are read."""
    if name == "INVISIBLE_CHARS":
        return invisible_chars()
    if name == "FOLD_TABLE":
        return _tables(generation()).fold_table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["normalize", "fold_visual", "invisible_chars", "INVISIBLE_CHARS", "GENERIC_INVISIBLE", "FOLD_TABLE"]
