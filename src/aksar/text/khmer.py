"""Khmer cluster rules: canonical order of the marks that follow a base character.

The order follows the structure of a Khmer orthographic syllable described in the Unicode Standard
(Khmer chapter) and used by SIL's ``khnormal``:

    base, ROBAT, subscripts (COENG + consonant; COENG RO last), register shifter (+ ZWNJ),
    pre-base vowel, below vowel, above vowel, post-base vowel (AA), other signs, final signs

Marks of the same rank keep their relative order. After sorting, a mark typed twice in a row is kept
once. U+17BB (vowel u) before an upper vowel, which fonts draw exactly like a lowered register
shifter, is encoded as that shifter (TRIISAP U+17CA or MUUSIKATOAN U+17C9, chosen from the consonants
as khnormal does). Then split vowels that render the same as a compound vowel become the compound:
U+17C1 + U+17B8 -> U+17BE, U+17C1 + U+17B6 -> U+17C4, but only when nothing stands between them:
HarfBuzz draws a dotted circle for a compound followed by a below vowel (U+17C4 U+17BB), and draws
the split form (U+17C1 U+17BB U+17B6) cleanly, so a compound with a below vowel is split instead.
(khnormal also maps U+17BE U+17B6 to U+17C4 U+17B8; HarfBuzz draws a dotted circle for the latter,
so aksar leaves U+17BE U+17B6 alone.)

Lines that are already canonical are detected with one regex search and returned unchanged, so
normalizing a large corpus costs little more than that search.
"""
from __future__ import annotations

import re

KHMER_CHAR_RE = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")

BASES = "\u1780-\u17b3"                    # consonants and independent vowels
_MARKS = "\u17b6-\u17d1\u17d3\u17dd"       # dependent vowels and signs (COENG U+17D2 handled apart)

# Unit patterns by rank (a unit is one mark, a COENG + consonant pair or a shifter + ZWNJ).
_RANKS: list[tuple[int, str]] = [
    (2, "\u17cc"),                                  # ROBAT
    (3, f"\u17d2(?!\u179a)[{BASES}]?"),             # COENG + consonant (a lone COENG too)
    (4, "\u17d2\u179a"),                            # COENG RO: after the other subscripts
    (5, "[\u17c9\u17ca]\u200c?"),                   # register shifters (+ ZWNJ)
    (7, "[\u17be-\u17c5]"),                         # pre-base and split vowels
    (8, "[\u17bb-\u17bd]"),                         # below vowels
    (9, "[\u17b7-\u17ba]"),                         # above vowels
    (10, "\u17b6"),                                 # AA
    (11, "[\u17c6\u17cb\u17cd-\u17d1\u17d3\u17dd]"),  # NIKAHIT, BANTOC, TOANDAKHIAT, ... signs
    (12, "[\u17c7\u17c8]"),                         # REAHMUK, YUUKALEAPINTU (final)
]

BA = "\u1794"
MUUSIKATOAN, TRIISAP = "\u17c9", "\u17ca"
# Consonants whose cluster takes TRIISAP for a lowered shifter (khnormal's series-1 set).
TRIISAP_CONSONANTS = frozenset(
    "\u1780\u1781\u1782\u1783\u1785\u1786\u1787\u1788\u178a\u178b\u178c\u178d\u178f\u1790\u1791"
    "\u1792\u1795\u1796\u1797\u179e\u179f\u17a0\u17a2"
)
_UPPER_AFTER_U_RE = re.compile("[\u17b7-\u17ba\u17be\u17bf\u17d0\u17dd]|\u17b6\u17c6")
_SHIFTER_RE = re.compile("[\u17c9\u17ca]")

_CLUSTER_RE = re.compile(f"[{BASES}](?:\u17d2[{BASES}]?|[\u17c9\u17ca]\u200c|[{_MARKS}])+")
_UNIT_RE = re.compile(f"\u17d2[{BASES}]?|[\u17c9\u17ca]\u200c?|.", re.S)
_COMPOUND_VOWELS = [
    (re.compile("\u17c1\u17b8"), "\u17be"),
    (re.compile("\u17c1\u17b6"), "\u17c4"),
    (re.compile("\u17be([\u17bb-\u17bd])"), "\u17c1\\1\u17b8"),   # compound + below vowel: split
    (re.compile("\u17c4([\u17bb-\u17bd])"), "\u17c1\\1\u17b6"),
]


def _needs_fix_pattern() -> str:
    """A regex matching any place where a line is not canonical yet."""
    inversions = []
    for rank, pattern in _RANKS:
        lower = [p for r, p in _RANKS if r < rank]
        if lower:
            inversions.append(f"(?:{pattern})(?:{'|'.join(lower)})")
    duplicates = f"([{_MARKS}])\\1"
    compounds = "\u17c1[\u17b6\u17b8]|[\u17be\u17c4][\u17bb-\u17bd]"
    u_as_shifter = "\u17bb(?:[\u17b7-\u17ba\u17d0\u17dd]|\u17b6\u17c6)|[\u17be\u17bf]\u17bb"
    # the lookahead lets the engine skip non-mark positions quickly
    return f"(?=[\u17b6-\u17dd])(?:{'|'.join([*inversions, duplicates, compounds, u_as_shifter])})"


_NEEDS_FIX_RE = re.compile(_needs_fix_pattern())


def _rank(unit: str) -> int:
    c = unit[0]
    if c == "\u17cc":
        return 2
    if c == "\u17d2":
        return 4 if unit == "\u17d2\u179a" else 3
    if c in "\u17c9\u17ca":
        return 5
    if "\u17be" <= c <= "\u17c5":
        return 7
    if "\u17bb" <= c <= "\u17bd":
        return 8
    if "\u17b7" <= c <= "\u17ba":
        return 9
    if c == "\u17b6":
        return 10
    if c in "\u17c7\u17c8":
        return 12
    return 11


def _shifter_for(base: str, units: list[str]) -> str:
    """The register shifter whose lowered form stands for U+17BB in this cluster (as khnormal)."""
    subs = [u[1] for u in units if u[0] == "\u17d2" and len(u) == 2]
    if BA == base or BA in subs:
        return MUUSIKATOAN
    if base in TRIISAP_CONSONANTS or any(c in TRIISAP_CONSONANTS for c in subs):
        return TRIISAP
    return MUUSIKATOAN


def _sorted_units(cluster: str) -> list[str]:
    units = sorted(_UNIT_RE.findall(cluster, 1), key=_rank)
    kept = units[:1]
    for u in units[1:]:
        if u != kept[-1] or len(u) > 1:   # a mark typed twice renders once: keep one
            kept.append(u)
    return kept


def _fix_cluster(m: re.Match) -> str:
    cluster = m.group(0)
    units = _sorted_units(cluster)
    out = "".join(units)
    if "\u17bb" in out and _UPPER_AFTER_U_RE.search(out) and not _SHIFTER_RE.search(out):
        # U+17BB before an upper vowel is drawn like a lowered shifter: encode it as the shifter
        out = "".join(_sorted_units(cluster[0] + out.replace("\u17bb", _shifter_for(cluster[0], units), 1)))
    for pattern, repl in _COMPOUND_VOWELS:
        out = pattern.sub(repl, out)
    return cluster[0] + out


def khmer_canonical_order(text: str) -> str:
    """``text`` with the marks of every Khmer cluster in canonical order (see module doc)."""
    if not _NEEDS_FIX_RE.search(text):
        return text
    return _CLUSTER_RE.sub(_fix_cluster, text)


__all__ = ["KHMER_CHAR_RE", "khmer_canonical_order"]
