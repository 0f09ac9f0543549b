"""Writing systems aksar knows: their Unicode ranges, and how much of a text belongs to one."""
from __future__ import annotations

from dataclasses import dataclass

import regex

from aksar.core.errors import AksarError


@dataclass(frozen=True)
class ScriptInfo:
    """A script: ``ranges`` are inclusive code point ranges; ``sample`` is a short real text."""

    name: str
    language: str
    ranges: tuple[tuple[int, int], ...]
    sample: str
    digits: str = ""

    def contains(self, char: str) -> bool:
        o = ord(char)
        return any(lo <= o <= hi for lo, hi in self.ranges)

    @property
    def char_class(self) -> str:
        """The ranges as the inside of a regex character class."""
        return "".join(f"\\U{lo:08X}-\\U{hi:08X}" for lo, hi in self.ranges)


SCRIPTS: dict[str, ScriptInfo] = {
    "khmer": ScriptInfo(
        name="khmer", language="km",
        ranges=((0x1780, 0x17FF), (0x19E0, 0x19FF)),
        sample="ព្រះរាជាណាចក្រកម្ពុជា",
        digits="០១២៣៤៥៦៧៨៩",
    ),
    "thai": ScriptInfo(
        name="thai", language="th",
        ranges=((0x0E00, 0x0E7F),),
        sample="ภาษาไทยเป็นภาษาราชการ",
        digits="๐๑๒๓๔๕๖๗๘๙",
    ),
}

# Letters and marks; spaces, digits, punctuation and symbols are not counted by script_share.
_NON_LETTER_RE = regex.compile(r"[^\p{L}\p{M}]+")
_OUTSIDE_RE = {name: regex.compile(f"[^{info.char_class}]+") for name, info in SCRIPTS.items()}


def get_script(name: str) -> ScriptInfo:
    """The ScriptInfo called ``name`` (AksarError listing the known scripts otherwise)."""
    try:
        return SCRIPTS[name]
    except KeyError:
        raise AksarError(f"unknown script {name!r}; known scripts: {', '.join(sorted(SCRIPTS))}") from None


def script_share(text: str, script: str) -> float:
    """Share of the letters (and marks) of ``text`` that belong to ``script``; 0.0 if it has none."""
    get_script(script)
    letters = _NON_LETTER_RE.sub("", text)
    if not letters:
        return 0.0
    return len(_OUTSIDE_RE[script].sub("", letters)) / len(letters)


def detect_script(text: str) -> str | None:
    """The known script holding most of the letters of ``text`` (at least half), else None."""
    best, best_share = None, 0.0
    for name in SCRIPTS:
        share = script_share(text, name)
        if share > best_share:
            best, best_share = name, share
    return best if best_share >= 0.5 else None


__all__ = ["ScriptInfo", "SCRIPTS", "get_script", "script_share", "detect_script"]
