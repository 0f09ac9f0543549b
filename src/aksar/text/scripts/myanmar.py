"""Myanmar (Burmese, Unicode encoding): code ranges, normalization, clusters, repair, fonts (Noto).

- normalize (Unicode Technical Note #11 storage order; text typed in visual order is put back):
  a vowel sign E (U+1031) that follows nothing able to carry it (typed before its consonant, as it is
  drawn) is moved after that consonant and its medials; medials in the order YA, RA, WA, HA
  (U+103B-U+103E); vowels and signs in the order E, upper vowels I/II, lower vowels, AA, AI and
  ANUSVARA, DOT BELOW, ASAT, VISARGA (HarfBuzz's order: AI is drawn above but shaped after the lower
  vowels); a mark typed twice in a row is kept once. NFC composes U+1025 U+102E to U+1026
  and orders DOT BELOW before ASAT.
- clusters: a base (consonant, independent vowel, digit used as a letter) with its stacked consonants
  (VIRAMA + consonant), medials, vowels and signs; kinzi (NGA ASAT VIRAMA) joins the next consonant.
- repair: HarfBuzz's syllable grammar (a strict subset of it): base, stacks, one medial of each kind,
  one vowel of each position, then ANUSVARA, DOT BELOW, VISARGA; ASAT only right after the base (a
  final consonant), after medial YA, WA or HA, after AA or after DOT BELOW (HarfBuzz draws a dotted circle for ASAT after an
  upper or lower vowel). Burmese only: marks of the extension letters (Shan, Mon,
  Karen, ...) are dropped from predictions.

Zawgyi (the legacy font encoding that reuses Myanmar code points) is out of scope: such text is not
converted (a Zawgyi line normalizes to mostly invalid clusters; convert it first, e.g. with
myanmar-tools' detector and a converter). No built-in corpus: build one from a text file.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import regex

from aksar.text.scripts.base import DomainWords, Repaired, Script, register
from aksar.text.scripts.repair import Units, grammar_repair, text_ok_regex

_C = "\u1000-\u1021"                           # consonants
_MB = "\u1000-\u102a\u103f\u104e"              # bases: consonants, independent vowels, GREAT SA, ...
_MD = "0-9\u1040-\u1049\u25cc"                 # placeholders: digits and the dotted circle
_MED = "\u103b-\u103e"                         # medials YA RA WA HA
_VOW = "\u102b-\u1032\u1036-\u1038\u103a"      # vowels and signs (VIRAMA U+1039 apart)
_KINZI = "\u1004\u103a\u1039"
# Marks of the extension letters (Shan, Mon, Karen, ...: U+1056-U+109D, Extended-A/B): the repair knows
# Burmese syllables only, so it drops these from predictions.
_XM = "".join(re.escape(chr(c)) for c in (*range(0x1050, 0x10A0), *range(0xA9E0, 0xAA00), *range(0xAA60, 0xAA80))
              if unicodedata.category(chr(c))[0] == "M")
_RANKS = {"\u1031": 1, "\u102d": 2, "\u102e": 2, "\u102f": 3, "\u1030": 3, "\u102b": 4, "\u102c": 4,
          "\u1032": 5, "\u1036": 5, "\u1037": 6, "\u103a": 7, "\u1038": 8}

_E_RE = re.compile(f"(?<![{_MB}{_MED}\u1040-\u1049])\u1031((?:{_KINZI})?[{_C}\u103f](?:\u1039[{_C}])*[{_MED}]*)")
_MEDIAL_RUN = re.compile(f"[{_MED}]{{2,}}")
_VOWEL_RUN = re.compile(f"[{_VOW}]{{2,}}")
_DOUBLE_MARK_RE = re.compile(f"([{_MED}{_VOW}])\\1+")


def myanmar_rules(text: str) -> str:
    """Vowel sign E after its consonant; medials, then vowels and signs, in storage order, each once."""
    if "\u1031" in text:
        text = _E_RE.sub("\\1\u1031", text)
    text = _MEDIAL_RUN.sub(lambda m: "".join(sorted(m.group(0))), text)
    text = _VOWEL_RUN.sub(lambda m: "".join(sorted(m.group(0), key=_RANKS.__getitem__)), text)
    return _DOUBLE_MARK_RE.sub("\\1", text)


# -- orthography repair ------------------------------------------------------------------------------
MYANMAR_SYLLABLE = regex.compile(
    f"(?:{_KINZI}[{_C}]|[{_MB}{_MD}])(?:\u1039[{_C}])*\u103a?\u103b?\u103a?\u103c?(?:(?:\u103d\u103e?|\u103e)\u103a?)?"
    "\u1031?[\u102d\u102e]?[\u102f\u1030]?(?:[\u102b\u102c]\u103a?)?\u1032?\u1036?(?:\u1037\u103a?)?\u1038?")
_M = f"{_MED}{_VOW}{_XM}\u1033-\u1035"          # every mark but VIRAMA
_SPAN = regex.compile(f"(?P<c>(?:{_KINZI})?[{_MB}{_MD}](?:\u1039[{_C}]?|[{_M}])*)|(?:\u1039|[{_M}])+")
_TEXT_OK = text_ok_regex(MYANMAR_SYLLABLE, f"{_M}\u1039")
_UNIT = regex.compile(f"\u1039[{_C}]?|.", regex.S)


def _unit_key(unit: str) -> int:
    if unit[0] == "\u1039":
        return 0
    return 1 + ord(unit) - 0x103B if "\u103b" <= unit <= "\u103e" else 4 + _RANKS.get(unit, 9)


def _units(cluster: str, confs: Sequence[float]) -> Units:
    start = 4 if cluster.startswith(_KINZI) else 1
    return [(m.group(0), list(confs[m.start():m.end()])) for m in _UNIT.finditer(cluster, start)
            if m.group(0) != "\u1039"]  # a VIRAMA with no consonant stacks nothing


def repair_myanmar(text: str, confidences: Sequence[float]) -> Repaired:
    """Myanmar clusters of ``text`` made valid (syllable order above); orphan marks dropped."""
    return grammar_repair(text, confidences, _TEXT_OK, _SPAN, MYANMAR_SYLLABLE, _units, _unit_key)


_CONSONANTS = [chr(c) for c in range(0x1000, 0x1022) if c not in (0x1009,)]
_VOWELS = ["ာ", "ါ", "ိ", "ီ", "ု", "ူ", "ေ", "ဲ", "ော", "ော်", "ို", "ံ", "ုံ", "ိုး", "ေး", "ီး", "ား", "ူး"]
_FINALS = ["က", "င", "စ", "ည", "တ", "န", "ပ", "မ", "ယ", "ဉ"]


def myanmar_random_cluster(pick: Callable[[Any, Sequence[str]], str], rng: Any) -> str:
    """One syllable: consonant, a medial or two, a vowel, a final consonant with ASAT, a tone."""
    u = rng.random(6)
    out = pick(rng, _CONSONANTS)
    if u[0] < 0.2:
        out += pick(rng, ["\u103b", "\u103c"])
    if u[1] < 0.12:
        out += "\u103d"
    if u[2] < 0.06:
        out += "\u103e"
    if u[3] < 0.6:
        out += pick(rng, _VOWELS)
    elif u[4] < 0.5:
        out += pick(rng, _FINALS) + "\u103a"
    if u[5] < 0.15:
        out += pick(rng, ["\u1037", "\u1038"])
    return out


MYANMAR = register(Script(
    name="myanmar", language="my",
    ranges=((0x1000, 0x109F), (0xA9E0, 0xA9FF), (0xAA60, 0xAA7F)),
    sample="ပြည်ထောင်စု သမ္မတ မြန်မာနိုင်ငံတော်",
    digits="၀၁၂၃၄၅၆၇၈၉",
    normalize=myanmar_rules,
    cluster=f"(?:{_KINZI})?[{_MB}](?:\u1039[{_C}]?|[{_MED}{_VOW}\u1033-\u1035])*",
    repair=repair_myanmar,
    folds=(("\u1040", "\u101d", "MYANMAR DIGIT ZERO and LETTER WA are the same circle"),
           ("\u1025", "\u1009", "MYANMAR LETTER U and LETTER NYA are one glyph in most fonts")),
    random_cluster=myanmar_random_cluster,
    # month names: glibc's my_MM locale
    words=DomainWords(
        months=tuple("ဇန်နဝါရီ ဖေဖော်ဝါရီ မတ် ဧပြီ မေ ဇွန် ဇူလိုင် ဩဂုတ် စက်တင်ဘာ အောက်တိုဘာ နိုဝင်ဘာ ဒီဇင်ဘာ".split()),
        date=("", "", ""), time="အချိန်", phone="ဖုန်း", price="ဈေးနှုန်း",
        currency=("ကျပ်", "K", "$", "USD"), percent="ရာခိုင်နှုန်း", number="အမှတ်",
        section=("ပုဒ်မ", "အခန်း", "အပိုင်း"), phone_code="+95"),
    reference_fonts=("Noto Sans Myanmar", "Noto Serif Myanmar", "Padauk", "Myanmar Text"),
    probe_line="ပြည်ထောင်စု သမ္မတ မြန်မာနိုင်ငံတော် မင်္ဂလာပါ",
    joining_marks=frozenset("\u1039"),     # VIRAMA: a working font stacks VIRAMA + consonant
    broken_probe="\u1000\u102c\u103b",     # a medial after a vowel
    heldout_families=("Noto Serif Myanmar",),
    font_packages="fonts-noto-core",
    x_height_char="\u101d",                # WA
    eval_x_height_char="\u1000",           # KA
))

__all__ = ["MYANMAR", "MYANMAR_SYLLABLE", "myanmar_rules", "repair_myanmar"]
