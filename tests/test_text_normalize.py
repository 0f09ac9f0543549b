"""Normalization rules, each with real examples (most taken from the rdlab Khmer and ORCHID Thai corpora)."""
from __future__ import annotations

import pytest

from aksar.core.errors import AksarError
from aksar.text.normalize import FOLD_TABLE, INVISIBLE_CHARS, fold_visual, normalize
from aksar.text.scripts import detect_script, get_script, script_share


def cps(text: str) -> list[str]:
    return [f"{ord(c):04X}" for c in text]


# --- generic rules -------------------------------------------------------------------------------
def test_nfc_composes_and_orders_marks():
    assert normalize("Cafe\u0301") == "Caf\u00e9"
    # Thai: a tone mark typed before a below vowel (ปู่ as 0E1B 0E48 0E39) gets the canonical order
    assert normalize("\u0e1b\u0e48\u0e39") == "\u0e1b\u0e39\u0e48" == normalize("ปู่")


@pytest.mark.parametrize("raw, expected", [
    ("ឈ្មោះ\u00ad", "ឈ្មោះ"),                           # soft hyphen at the end (rdlab line)
    ("(៦១០\u00ad\u00ad-៦៥០)", "(៦១០-៦៥០)"),              # soft hyphens inside a date range (rdlab line)
    ("ខ្ញុំ\u200bស្រលាញ់\u200bកម្ពុជា", "ខ្ញុំស្រលាញ់កម្ពុជា"),  # zero width spaces between words
    ("\ufeffภาษาไทย", "ภาษาไทย"),                       # BOM
    ("ក\u200eខ\u202bគ\u202c", "កខគ"),                   # bidi controls
    ("ក\u17b4ា", "កា"),                                 # invisible inherent vowel U+17B4
])
def test_invisible_characters_are_removed(raw, expected):
    assert normalize(raw) == expected


def test_line_of_only_invisible_characters_is_empty():
    assert normalize("\u200b\u00ad\ufeff\u200c\u200d \t") == ""
    assert normalize("\u00ad") == ""                   # a whole rdlab "sentence"


def test_stray_joiners_removed_but_zwnj_after_shifter_kept():
    # rdlab: "បឋម" typed with two ZWNJ inside the word; they change nothing visible
    assert normalize("មានឈ្មោះជាប\u200c\u200cឋមគឺ") == "មានឈ្មោះជាបឋមគឺ"
    assert normalize("ទស្សន\u200cវិជ្ជា") == "ទស្សនវិជ្ជា"
    assert normalize("ក\u200dខ") == "កខ"
    # ZWNJ between a register shifter and an upper vowel keeps the shifter's own shape
    kept = "\u1794\u17ca\u200c\u17b8"
    assert normalize(kept) == kept
    assert normalize("\u1794\u17ca\u200c ") == "\u1794\u17ca"


def test_whitespace_is_collapsed():
    assert normalize("  ខ្ញុំ \t\u00a0 ទៅ\nផ្សារ\u3000 ") == "ខ្ញុំ ទៅ ផ្សារ"


def test_invisible_set_is_invisible():
    for ch in INVISIBLE_CHARS:
        assert normalize(f"a{ch}b") == "ab"


# --- Khmer ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mixed, canonical", [
    # COENG RO after the other subscript (ស្ត្រ, not ស្រ្ត): rdlab has both
    ("\u179c\u17b7\u1791\u17d2\u1799\u17b6\u179f\u17b6\u179f\u17d2\u179a\u17d2\u178f", "វិទ្យាសាស្ត្រ"),
    ("\u1798\u1793\u17d2\u179a\u17d2\u178f\u17b8", "មន្ត្រី"),
    # NIKAHIT typed before AA: ឆ្នំា -> ឆ្នាំ
    ("\u1786\u17d2\u1793\u17c6\u17b6", "ឆ្នាំ"),
    # register shifter before the subscript: ម៉្យាង -> ម្យ៉ាង
    ("\u1798\u17c9\u17d2\u1799\u17b6\u1784", "ម្យ៉ាង"),
    # vowel typed before the subscript: វិចិ្ឆកា -> វិច្ឆិកា, និសិ្សត -> និស្សិត
    ("\u179c\u17b7\u1785\u17b7\u17d2\u1786\u1780\u17b6", "វិច្ឆិកា"),
    ("\u1793\u17b7\u179f\u17b7\u17d2\u179f\u178f", "និស្សិត"),
    # a mark typed twice: របស់់ -> របស់, កម្ពុុជា -> កម្ពុជា
    ("\u179a\u1794\u179f\u17cb\u17cb", "របស់"),
    ("\u1780\u1798\u17d2\u1796\u17bb\u17bb\u1787\u17b6", "កម្ពុជា"),
    # split vowels: េ+ី -> ើ (ឃេីញ -> ឃើញ), េ+ា -> ោ (ព្រេាះ -> ព្រោះ)
    ("\u1783\u17c1\u17b8\u1789", "ឃើញ"),
    ("\u1796\u17d2\u179a\u17c1\u17b6\u17c7", "ព្រោះ"),
    # ROBAT right after the base: មាគា៌ -> មាគ៌ា, ជយវម្ម៌ -> ជយវម៌្ម (rdlab has both orders of each)
    ("\u1798\u17b6\u1782\u17b6\u17cc", "\u1798\u17b6\u1782\u17cc\u17b6"),
    ("\u1787\u1799\u179c\u1798\u17d2\u1798\u17cc", "\u1787\u1799\u179c\u1798\u17cc\u17d2\u1798"),
    # ុ before an upper vowel is drawn as a lowered shifter: សុី -> ស៊ី, ញុំា -> ញ៉ាំ, អីុ -> អ៊ី
    ("\u179f\u17bb\u17b8", "ស៊ី"),
    ("\u1789\u17bb\u17c6\u17b6", "ញ៉ាំ"),
    ("\u17a2\u17b8\u17bb\u178f\u17b6\u179b\u17b8", "អ៊ីតាលី"),
])
def test_khmer_cluster_canonical_order(mixed, canonical):
    assert normalize(mixed) == canonical
    assert normalize(canonical) == canonical


def test_khmer_oe_plus_aa_left_alone():
    # khnormal maps U+17BE U+17B6 to U+17C4 U+17B8, but shapers draw a dotted circle for that one
    assert cps(normalize("\u1780\u17be\u17b6")) == cps("\u1780\u17be\u17b6")


@pytest.mark.parametrize("word", ["ប៉ុន្មាន", "ខ្ញុំ", "ស្ត្រី", "ព្រះរាជាណាចក្រកម្ពុជា", "ប៊ី", "ក្រុមហ៊ុន"])
def test_khmer_canonical_words_unchanged(word):
    assert normalize(word) == word


@pytest.mark.parametrize("raw, expected", [
    ("\u17a3\u17d2\u179c\u17b8", "អ្វី"),                 # deprecated QAQ (rdlab: ឣ្វី)
    ("\u17a4", "\u17a2\u17b6"),                           # deprecated QAA
    ("ជីវវិទ្យា\u17d8", "ជីវវិទ្យា។ល។"),                 # deprecated BEYYAL (rdlab line end)
])
def test_khmer_deprecated_characters(raw, expected):
    assert normalize(raw) == expected


def test_normalize_is_idempotent_on_real_lines(khmer_lines, thai_lines):
    for line in khmer_lines + thai_lines:
        assert normalize(line) == line


def test_normalize_does_not_depend_on_script_argument():
    text = "\u1786\u17d2\u1793\u17c6\u17b6 \u0e19\u0e4d\u0e49\u0e32"
    assert normalize(text) == normalize(text, "khmer") == normalize(text, "thai")
    with pytest.raises(AksarError, match="known scripts"):
        normalize("x", "klingon")


# --- Thai ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("\u0e17\u0e4d\u0e32", "ทำ"),                       # NIKHAHIT + SARA AA -> SARA AM
    ("\u0e01\u0e4d\u0e32\u0e25\u0e31\u0e07", "กำลัง"),
    ("\u0e19\u0e49\u0e4d\u0e32", "น้ำ"),                 # tone before NIKHAHIT
    ("\u0e19\u0e4d\u0e49\u0e32", "น้ำ"),                 # tone between NIKHAHIT and SARA AA moves before AM
    ("\u0e17\u0e35\u0e48\u0e48", "ที่"),                 # tone mark typed twice
])
def test_thai_sara_am_and_marks(raw, expected):
    assert normalize(raw) == expected
    assert "\u0e4d" not in normalize(raw)


# --- visual folding --------------------------------------------------------------------------------
def test_fold_visual_coeng_da_ta():
    da, ta = "សម្ដេច", "សម្តេច"                         # both spellings are in rdlab
    assert normalize(da) != normalize(ta)
    assert fold_visual(da) == fold_visual(ta) == ta


def test_fold_visual_thai_double_sara_e():
    orchid = "ดังเเสดงไว้ในรูปที่ 1"                     # ORCHID types แ as two เ
    assert normalize(orchid) != "ดังแสดงไว้ในรูปที่ 1"
    assert fold_visual(orchid) == "ดังแสดงไว้ในรูปที่ 1"


def test_fold_table_entries_are_documented_and_applied():
    for src, dst, why in FOLD_TABLE:
        assert why and src != dst
        assert fold_visual(f"x{src}y") == normalize(f"x{dst}y")


# --- scripts -------------------------------------------------------------------------------------
def test_script_share_and_detection():
    assert script_share("ខ្ញុំ abc", "khmer") == pytest.approx(5 / 8)  # 5 Khmer letters/marks, 3 Latin
    assert script_share("១២៣ ។ 456 !", "khmer") == 0.0      # digits and punctuation do not count
    assert script_share("ภาษาไทย", "thai") == 1.0
    assert detect_script("ខ្ញុំទៅផ្សារ") == "khmer"
    assert detect_script("ภาษาไทย") == "thai"
    assert detect_script("hello") is None
    assert get_script("khmer").language == "km"
    with pytest.raises(AksarError, match="khmer"):
        get_script("nope")
