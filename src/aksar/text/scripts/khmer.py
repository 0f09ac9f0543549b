"""Khmer: code ranges, normalization (canonical mark order), clusters, orthography repair, fonts, corpus.

Canonical order of the marks that follow a base character (run by ``normalize``):

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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import regex

from aksar.text.safe_pickle import load_str_list
from aksar.text.scripts.base import DomainWords, Preset, Repaired, Script, Segmenter, register
from aksar.text.scripts.repair import Units, grammar_repair, text_ok_regex

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


# -- orthography repair ------------------------------------------------------------------------------
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
_KHMER_TEXT_OK = text_ok_regex(KHMER_SYLLABLE, f"{_KM}\u17d2")
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
    return grammar_repair(text, confidences, _KHMER_TEXT_OK, _KHMER_SPAN, KHMER_SYLLABLE, _khmer_units,
                          _khmer_unit_key)


# -- word segmenter, text domains, corpus --------------------------------------------------------------

def khmer_segmenter() -> Segmenter | None:
    """``khmer-nltk`` if installed."""
    try:
        from khmernltk import word_tokenize  # type: ignore[import-not-found]
    except ImportError:
        return None
    return "khmer-nltk", word_tokenize


def _chars(lo: int, hi: int, skip: str = "") -> list[str]:
    return [chr(c) for c in range(lo, hi + 1) if chr(c) not in skip]


_CONSONANTS = _chars(0x1780, 0x17A2)
_INDEPENDENT = _chars(0x17A5, 0x17B3, skip="\u17a8")     # QUK deprecated
_SUBSCRIPT = _chars(0x1780, 0x17A2, skip="\u17a1\u17a2")   # LA, QA: no subscript form in most fonts
_VOWELS = _chars(0x17B6, 0x17C5)
_SIGNS = ["\u17c6", "\u17c7", "\u17cb"]                   # NIKAHIT, REAHMUK, BANTOC


def khmer_random_cluster(pick: Callable[[Any, Sequence[str]], str], rng: Any) -> str:
    """One orthographic cluster: base, subscripts (COENG RO last), a vowel, a sign."""
    u = rng.random(5)
    if u[0] < 0.1:
        return pick(rng, _INDEPENDENT)
    out = pick(rng, _CONSONANTS)
    if u[1] < 0.3:
        out += "\u17d2" + pick(rng, _SUBSCRIPT)
        if u[2] < 0.1:
            out += "\u17d2\u179a"  # COENG RO, last of the subscripts
    if u[3] < 0.65:
        out += pick(rng, _VOWELS)
    if u[4] < 0.12:
        out += pick(rng, _SIGNS)
    return out


def read_rdlab(path: Path) -> Iterator[tuple[str, int, str | None]]:
    """The sentences of rdlab-dataset's pickled list of str (a loader that refuses anything else)."""
    source = str(path)
    for i, text in enumerate(load_str_list(path), 1):
        yield source, i, text


KHMER = register(Script(
    name="khmer", language="km",
    ranges=((0x1780, 0x17FF), (0x19E0, 0x19FF)),
    sample="ព្រះរាជាណាចក្រកម្ពុជា",
    digits="០១២៣៤៥៦៧៨៩",
    invisible="\u17b4\u17b5",            # KHMER VOWEL INHERENT AQ / AA (invisible, discouraged)
    deprecated={
        "\u17a3": "\u17a2",               # KHMER INDEPENDENT VOWEL QAQ -> QA
        "\u17a4": "\u17a2\u17b6",         # KHMER INDEPENDENT VOWEL QAA -> QA + AA
        "\u17d8": "\u17d4\u179b\u17d4",   # KHMER SIGN BEYYAL -> KHAN LO KHAN
    },
    zwnj_context=("\u17c9\u17ca", "\u17b6-\u17d1\u17d3\u17dd"),  # between a register shifter and a vowel
    normalize=khmer_canonical_order,
    cluster="[\u1780-\u17b3](?:\u17d2[\u1780-\u17b3]?|[\u17b6-\u17d1\u17d3\u17dd\u200c\u200d])*",
    repair=repair_khmer,
    folds=(("\u17d2\u178a", "\u17d2\u178f",
            "KHMER COENG DA and COENG TA: the subscript forms of DA and TA are one glyph in most fonts"),),
    segmenter=khmer_segmenter,
    random_cluster=khmer_random_cluster,
    words=DomainWords(
        months=tuple("មករា កុម្ភៈ មីនា មេសា ឧសភា មិថុនា កក្កដា សីហា កញ្ញា តុលា វិច្ឆិកា ធ្នូ".split()),
        date=("ថ្ងៃទី", "ខែ", "ឆ្នាំ"), time="ម៉ោង", phone="ទូរស័ព្ទ", price="តម្លៃ",
        currency=("៛", "រៀល", "ដុល្លារ", "$", "USD"), percent="ភាគរយ", number="លេខ",
        section=("មាត្រា", "ជំពូក", "ផ្នែក", "ចំណុច"), phone_code="+855"),
    preset=Preset("khmer", "khmer", "rdlab_dataset", "rdlab-dataset", "data/wild_khmer_sentences.pkl",
                  "about 212K real Khmer sentences (rdlab-dataset)", read_rdlab),
    reference_fonts=("Noto Sans Khmer", "Khmer OS", "Noto Serif Khmer"),
    probe_line="ព្រះរាជាណាចក្រកម្ពុជា ស្រីខ្មែរ",
    joining_marks=frozenset("\u17d2"),     # COENG: a working font turns COENG + consonant into a subscript
    broken_probe="\u1780\u17b6\u17b6",     # a dependent vowel on a dependent vowel
    heldout_families=("Khmer Mondulkiri", "Khmer Busra"),
    # ornamental (Metal Chrieng; Muol Pali, whose Pali-style letterforms differ from the Muol headings) or
    # handwriting faces; Khmer OS Muol / Muol Light stay in (the heading faces of Cambodian official print)
    excluded_fonts=("Khmer OS Metal Chrieng", "Khmer OS Muol Pali", "Khmer OS Fasthand", "Khmer OS Freehand"),
    # SIL builds of fonts-sil-mondulkiri-extra: diagnostic faces draw hidden characters, the others are
    # dictionary/dotted/spacing variants
    special_purpose_families=("Khmer Busra diagnostic", "Khmer Busra dict", "Khmer Busra dot",
                              "Khmer Busra xspace", "Khmer Busra high", "Khmer Busra MOE", "Khmer Busra Bunong"),
    font_packages="fonts-khmeros fonts-noto-core fonts-sil-mondulkiri fonts-sil-mondulkiri-extra",
    # AKbalthom KhmerBasic, Angkor, Khmer Moul, Khmer OS Apsara (its inscription fonts are legacy-encoded:
    # no Khmer code points, so discovery passes them by)
    python_font_packages=("khmer-ocr-ocm",),
    x_height_char="\u1793",                # NO
    eval_x_height_char="ក",                # KA
))

__all__ = ["KHMER", "KHMER_CHAR_RE", "KHMER_SYLLABLE", "khmer_canonical_order", "repair_khmer"]
