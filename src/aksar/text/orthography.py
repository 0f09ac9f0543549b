"""Valid orthography: turn any decoded string into one that shapes without a dotted circle.

``valid_orthography(text, script=None, confidences=None) -> (text, repaired)`` is THE post-processing
of every prediction (``Recognizer``, ``aksar eval`` and validation during training): the text is
``normalize``d and every cluster a shaper would draw on a dotted circle is repaired, by the rules of
each script whose characters it holds (one function per script, ``SCRIPT_REPAIRS``):

- ``khmer``: HarfBuzz's Khmer syllable grammar (``KHMER_SYLLABLE``: base, ROBAT/shifters, subscripts,
  at most one pre-base, below, above and post-base vowel in that order, signs, final signs);
- ``thai``: a consonant takes at most one above or below vowel, then at most one tone mark or sign.

Marks are first put in canonical order; a mark that still does not fit its cluster is dropped,
keeping the most likely reading: with per-character ``confidences`` (aligned with ``text``) the
marks are admitted most confident first, else in reading order (the first one stays). Marks with no
base (line start, after a space, after another script's letter) and COENG without a consonant are
dropped. ``repaired`` is True when characters were dropped or moved beyond what ``normalize`` does.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import regex

from aksar.text.normalize import INVISIBLE_CHARS, normalize
from aksar.text.scripts import get_script

Units = list[tuple[str, list[float]]]  # (unit text, confidences of its characters)
Repaired = tuple[str, list[float]]  # text and the confidences of its characters

# -- Khmer -------------------------------------------------------------------------------------------
# Categories of HarfBuzz's Khmer shaper (hb-ot-shaper-khmer); split vowels are decomposed by it into
# a pre-base part plus an above (U+17BE) or post-base (U+17BF U+17C0 U+17C4 U+17C5) part.
_KB = "\u1780-\u17b3"                           # consonants and independent vowels (C, Ra, V)
_KM = "\u17b6-\u17d1\u17d3\u17dd"               # dependent vowels and signs (COENG apart)
_J = "[\u200c\u200d]"
_R = "[\u17c9\u17ca\u17cc]"                     # Robatic: register shifters, ROBAT
_X = f"(?:{_J}*[\u17c6\u17cb\u17cd-\u17d1])*"   # Xgroup: NIKAHIT, BANTOC, ... signs
_Y = "[\u17c7\u17c8\u17d3\u17dd]"               # Ygroup: REAHMUK, YUUKALEAPINTU, BATHAMASAT, ATTHACAN
_BLW, _ABV, _PST = "[\u17bb-\u17bd]", "[\u17b7-\u17ba]", "\u17b6"
_MATRA = (f"(?:[\u17c1-\u17c3]{_X}{_BLW}?{_X}(?:{_J}?{_ABV})?{_X}{_PST}?"
          f"|\u17be{_X}{_PST}?|[\u17bf\u17c0\u17c4\u17c5]"
          f"|{_BLW}?{_X}(?:{_J}?{_ABV})?{_X}{_PST}?)")
_KP = "0-9\u17e0-\u17e9\u25cc"                # placeholders: digits and the dotted circle carry marks too
_CN = f"[{_KB}](?:{_J}?{_R})?"
# A syllable that shapes without a dotted circle (a trailing COENG is refused too: it subscripts nothing).
KHMER_SYLLABLE = regex.compile(f"(?:{_CN}|[{_KP}]){_R}?(?:\u17d2{_CN})*{_X}{_MATRA}{_X}(?:\u17d2[{_KB}])?{_Y}*")
# A base with everything that may belong to it, or a run of marks with no base.
_KHMER_SPAN = regex.compile(f"(?P<c>[{_KB}{_KP}](?:\u17d2[{_KB}]?|{_J}|[{_KM}])*)|(?:\u17d2|[{_KM}])+")
# Fast path: a whole line whose every base-led span is a syllable and that has no baseless mark.
_KHMER_TEXT_OK = regex.compile(f"(?:{KHMER_SYLLABLE.pattern}(?![{_KM}\u17d2])|[^{_KM}\u17d2])*")
_KHMER_UNIT = regex.compile(f"\u17d2[{_KB}]?|[\u17c9\u17ca]\u200c?|.", regex.S)
_KHMER_YGROUP = frozenset("\u17c7\u17c8\u17d3\u17dd")


def _khmer_unit_key(unit: str) -> int:
    # Ygroup signs last (normalize ranks BATHAMASAT/ATTHACAN with the Xgroup signs); the rest in the
    # order normalize sorts them.
    return 1 if unit[0] in _KHMER_YGROUP else 0


def _khmer_units(cluster: str, confs: Sequence[float]) -> Units:
    return [(m.group(0), list(confs[m.start():m.end()])) for m in _KHMER_UNIT.finditer(cluster, 1)
            if m.group(0) != "\u17d2"]  # a COENG with no consonant subscripts nothing


def repair_khmer(text: str, confidences: Sequence[float]) -> Repaired:
    """Khmer clusters of ``text`` made valid (HarfBuzz grammar); orphan marks and COENGs dropped."""
    if _KHMER_TEXT_OK.fullmatch(text):
        return text, list(confidences)
    return _repair_spans(text, confidences, _KHMER_SPAN, _khmer_units, _khmer_unit_key,
                         lambda s: KHMER_SYLLABLE.fullmatch(s) is not None)


# -- Thai --------------------------------------------------------------------------------------------
_TB = "\u0e01-\u0e2e"                          # consonants
_TV = "\u0e31\u0e34-\u0e3a"                    # above and below vowels, PHINTHU
_TS = "\u0e47-\u0e4e"                          # MAITAIKHU, tone marks, THANTHAKHAT, NIKHAHIT, YAMAKKAN
THAI_SYLLABLE = regex.compile(f"[{_TB}][{_TV}]?[{_TS}]?")
_THAI_SPAN = regex.compile(f"(?P<c>[{_TB}][{_TV}{_TS}]*)|[{_TV}{_TS}]+")
_THAI_TEXT_OK = regex.compile(f"(?:{THAI_SYLLABLE.pattern}(?![{_TV}{_TS}])|[^{_TV}{_TS}])*")
_THAI_VOWELS = frozenset(chr(c) for c in (0x0E31, *range(0x0E34, 0x0E3B)))


def _thai_units(cluster: str, confs: Sequence[float]) -> Units:
    return [(ch, [confs[i]]) for i, ch in enumerate(cluster) if i]


def repair_thai(text: str, confidences: Sequence[float]) -> Repaired:
    """Thai clusters of ``text`` made valid: one vowel mark, then one tone mark or sign, per consonant."""
    if _THAI_TEXT_OK.fullmatch(text):
        return text, list(confidences)
    return _repair_spans(text, confidences, _THAI_SPAN, _thai_units,
                         lambda u: 0 if u in _THAI_VOWELS else 1,
                         lambda s: THAI_SYLLABLE.fullmatch(s) is not None)


# -- shared machinery --------------------------------------------------------------------------------

def _repair_spans(text: str, confs: Sequence[float], span_re: regex.Pattern,
                  units_of: Callable[[str, Sequence[float]], Units], key: Callable[[str], int],
                  valid: Callable[[str], bool]) -> Repaired:
    """Each base-led span of ``text`` reduced to its most likely valid form; baseless spans dropped."""
    out: list[str] = []
    out_confs: list[float] = []
    pos = 0
    for m in span_re.finditer(text):
        out.append(text[pos:m.start()])
        out_confs += confs[pos:m.start()]
        pos = m.end()
        cluster = m.group("c")
        if cluster is None:  # marks with no base
            continue
        if valid(cluster):  # (a cluster that normalize breaks is caught by the next round)
            out.append(cluster)
            out_confs += confs[m.start():m.end()]
            continue
        units = units_of(cluster, confs[m.start():m.end()])
        # admit the most confident units first (ties: reading order), keep each that leaves it valid
        order = sorted(range(len(units)), key=lambda i: -sum(units[i][1]) / len(units[i][1]))
        kept: list[int] = []
        for i in order:
            trial = sorted([*kept, i], key=lambda j: (key(units[j][0]), j))
            if valid(normalize(cluster[0] + "".join(units[j][0] for j in trial))):
                kept = trial
        out.append(cluster[0] + "".join(units[j][0] for j in kept))
        out_confs += [confs[m.start()], *(c for j in kept for c in units[j][1])]
    out.append(text[pos:])
    out_confs += confs[pos:]
    return "".join(out), out_confs


# Combining marks that follow nothing able to carry them (start, space, punctuation), any script.
_ORPHAN_MARKS = regex.compile(r"(?<![\p{L}\p{N}\p{M}\p{Cf}])\p{M}+")

SCRIPT_REPAIRS: dict[str, Callable[[str, Sequence[float]], str]] = {
    "khmer": repair_khmer,
    "thai": repair_thai,
}
_SCRIPT_CHARS = {name: regex.compile(f"[{get_script(name).char_class}]") for name in SCRIPT_REPAIRS}


def is_valid(text: str) -> bool:
    """True if ``text`` (normalized) holds no cluster a shaper would draw on a dotted circle."""
    return valid_orthography(text)[0] == text


def valid_orthography(text: str, script: str | None = None, confidences: Sequence[float] | None = None,
                      ) -> tuple[str, bool]:
    """``normalize(text)`` made valid orthography; returns ``(text, repaired)`` (see module doc).

    ``confidences``: one per character of ``text`` (e.g. per-character probabilities of a decoder).
    The rules of every script in ``SCRIPT_REPAIRS`` apply to that script's characters, whatever
    ``script`` says (it is only checked to be a known script name).
    """
    if script is not None:
        get_script(script)
    if confidences is not None and len(confidences) != len(text):
        raise ValueError(f"confidences: {len(confidences)} values for {len(text)} characters")
    plain = normalize(text)
    confs = list(confidences) if confidences is not None else [1.0] * len(text)
    if any(ch in INVISIBLE_CHARS for ch in text):  # drop them in lockstep with their confidences
        keep = [i for i, ch in enumerate(text) if ch not in INVISIBLE_CHARS]
        text, confs = "".join(text[i] for i in keep), [confs[i] for i in keep]
    for _ in range(3):  # normalize can recompose marks into a new conflict: repair again
        fixed, confs = _drop_orphans(text, confs)
        for name, fn in SCRIPT_REPAIRS.items():
            if _SCRIPT_CHARS[name].search(fixed):
                fixed, confs = fn(fixed, confs)
        fixed = normalize(fixed)
        if fixed == text:
            break
        text, confs = fixed, [1.0] * len(fixed)
    return text, text != plain


def _drop_orphans(text: str, confs: list[float]) -> Repaired:
    if not _ORPHAN_MARKS.search(text):
        return text, confs
    drop = {i for m in _ORPHAN_MARKS.finditer(text) for i in range(m.start(), m.end())}
    keep = [i for i in range(len(text)) if i not in drop]
    return "".join(text[i] for i in keep), [confs[i] for i in keep]


__all__ = ["valid_orthography", "is_valid", "repair_khmer", "repair_thai", "SCRIPT_REPAIRS",
           "KHMER_SYLLABLE", "THAI_SYLLABLE"]
