"""Lao: code ranges, normalization, clusters, orthography repair, fonts (Noto, fonts-noto-core).

- normalize: SARA AM is the precomposed U+0EB3 (U+0ECD [tone] U+0EB2 -> [tone] U+0EB3); the marks of a
  consonant in the order semivowel LO (U+0EBC), vowel (above/below vowels, NIGGAHITA), tone mark,
  cancellation mark; a mark typed twice in a row is kept once.
- clusters: a consonant with its marks (and a following SARA AM); leading vowels (U+0EC0-U+0EC4) and
  spacing vowels are clusters of their own, as in Thai.
- repair: a consonant takes at most a LO subscript, one vowel mark and one tone mark or sign.

No built-in corpus: no installed PyPI package holds Lao running text; build one from a text file
(``aksar corpus build --input FILE --script lao``). HarfBuzz shapes Lao with its Thai/Lao shaper, which
never inserts dotted circles: broken clusters are caught by the orphan-mark rule and the repair.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import regex

from aksar.text.scripts.base import LeadingVowelSyllables, DomainWords, Repaired, Script, register
from aksar.text.scripts.repair import char_units, grammar_repair, text_ok_regex

_LB = "\u0e81-\u0eae\u0edc-\u0edf"             # consonants (HO NO, HO MO, KHMU GO, KHMU NYO)
_LV = "\u0eb1\u0eb4-\u0ebb\u0ecd"              # above/below vowels, MAI KON, Pali VIRAMA, NIGGAHITA
_LT = "\u0ec8-\u0ecc\u0ece"                    # tone marks, CANCELLATION MARK, YAMAKKAN
_MARKS = f"\u0ebc{_LV}{_LT}"
LAO_TONES = "\u0ec8\u0ec9\u0eca\u0ecb"
_AM_RE = re.compile(f"\u0ecd([{LAO_TONES}]?)\u0eb2")
_RUN_RE = re.compile(f"[{_MARKS}]{{2,}}")
_DOUBLE_MARK_RE = re.compile(f"([{_MARKS}])\\1+")


_VOWEL_SET = frozenset(regex.findall(f"[{_LV}]", "".join(map(chr, range(0x0E80, 0x0F00)))))


def _rank(ch: str) -> int:
    return 0 if ch == "\u0ebc" else 1 if ch in _VOWEL_SET else 2 if ch in LAO_TONES else 3


def lao_rules(text: str) -> str:
    """SARA AM precomposed; the marks of a consonant in canonical order, each once."""
    if "\u0ecd" in text:
        text = _AM_RE.sub("\\1\u0eb3", text)
    text = _RUN_RE.sub(lambda m: "".join(sorted(m.group(0), key=_rank)), text)
    return _DOUBLE_MARK_RE.sub("\\1", text)


LAO_SYLLABLE = regex.compile(f"[{_LB}]\u0ebc?[{_LV}]?[{_LT}]?")
_LAO_SPAN = regex.compile(f"(?P<c>[{_LB}][{_MARKS}]*)|[{_MARKS}]+")
_LAO_TEXT_OK = text_ok_regex(LAO_SYLLABLE, _MARKS)


def repair_lao(text: str, confidences: Sequence[float]) -> Repaired:
    """Lao clusters of ``text`` made valid: LO subscript, one vowel mark, one tone mark or sign."""
    return grammar_repair(text, confidences, _LAO_TEXT_OK, _LAO_SPAN, LAO_SYLLABLE, char_units, _rank)


lao_random_cluster = LeadingVowelSyllables(
    consonants=tuple("ກຂຄງຈສຊຍດຕຖທນບປຜຝພຟມຢຣລວຫອຮໜໝ"),
    leading=("\u0ec0", "\u0ec1", "\u0ec2", "\u0ec3", "\u0ec4"),
    above_below=("\u0eb4", "\u0eb5", "\u0eb6", "\u0eb7", "\u0eb8", "\u0eb9", "\u0eb1", "\u0ebb"),
    tones=tuple(LAO_TONES),
    following=("\u0eb2", "\u0eb0", "\u0eb3"))


LAO = register(Script(
    name="lao", language="lo",
    ranges=((0x0E80, 0x0EFF),),
    sample="ສາທາລະນະລັດ ປະຊາທິປະໄຕ ປະຊາຊົນລາວ",
    digits="໐໑໒໓໔໕໖໗໘໙",
    normalize=lao_rules,
    cluster=f"[{_LB}][{_MARKS}]*\u0eb3?",
    repair=repair_lao,
    folds=(("\u0ec0\u0ec0", "\u0ec1", "two LAO E look the same as one LAO EI"),),
    random_cluster=lao_random_cluster,
    # month names: glibc's lo_LA locale
    words=DomainWords(
        months=tuple("ມັງກອນ ກຸມພາ ມີນາ ເມສາ ພຶດສະພາ ມິຖຸນາ ກໍລະກົດ ສິງຫາ ກັນຍາ ຕຸລາ ພະຈິກ ທັນວາ".split()),
        date=("ວັນທີ", "ເດືອນ", "ປີ"), time="ເວລາ", phone="ໂທ", price="ລາຄາ",
        currency=("ກີບ", "₭", "$", "USD"), percent="ເປີເຊັນ", number="ເລກທີ",
        section=("ມາດຕາ", "ໝວດ", "ພາກ", "ຂໍ້"), phone_code="+856"),
    # the Pali letters of Unicode 12 (and the Pali VIRAMA): Noto Sans/Serif Lao have none of them
    optional_letters="\u0e86\u0e89\u0e8c\u0e8e\u0e8f\u0e90\u0e91\u0e92\u0e93\u0e98\u0ea0\u0ea8\u0ea9\u0eac\u0eba",
    reference_fonts=("Noto Sans Lao", "Noto Serif Lao", "Noto Sans Lao UI"),
    probe_line="ສາທາລະນະລັດ ປະຊາທິປະໄຕ ປະຊາຊົນລາວ ນ້ຳ ເກົ້າ ຫຼວງ",
    heldout_families=("Noto Serif Lao",),
    # faces whose tone marks HarfBuzz draws on top of the above vowels (no mark-to-mark stacking): DejaVu
    # Sans, Noto Looped Lao (and its UI build)
    excluded_fonts=("DejaVu Sans", "Noto Looped Lao", "Noto Looped Lao UI"),
    font_packages="fonts-noto-core",
    x_height_char="ອ",                     # O
    eval_x_height_char="ນ",                # NO
))

__all__ = ["LAO", "LAO_SYLLABLE", "lao_rules", "repair_lao"]
