"""Grapheme clusters of real Khmer and Thai words."""
from __future__ import annotations

import pytest

from aksar.text.graphemes import clusters


@pytest.mark.parametrize("text, expected", [
    ("ស្ត្រី", ["ស្ត្រី"]),                          # base + two subscripts + vowel
    ("កម្ពុជា", ["ក", "ម្ពុ", "ជា"]),
    ("ខ្មែរ", ["ខ្មែ", "រ"]),                         # pre-base vowel stays in its consonant's cluster
    ("ព្រះ", ["ព្រះ"]),                              # final sign REAHMUK
    ("ម្យ៉ាង", ["ម្យ៉ា", "ង"]),                       # shifter
    ("ឥឡូវ", ["ឥ", "ឡូ", "វ"]),                        # independent vowel as base
    ("ខ្ញុំ ទៅ", ["ខ្ញុំ", " ", "ទៅ"]),
])
def test_khmer_clusters(text, expected):
    assert clusters(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("น้ำ", ["น้ำ"]),                                # tone mark and SARA AM join the consonant
    ("เสียง", ["เ", "สี", "ย", "ง"]),                 # leading vowel is its own cluster
    ("ที่นี่", ["ที่", "นี่"]),
    ("กำลัง", ["กำ", "ลั", "ง"]),
    ("ไทย", ["ไ", "ท", "ย"]),
    ("ปู่", ["ปู่"]),
    ("ภาษา", ["ภ", "า", "ษ", "า"]),                  # SARA AA is a following vowel
])
def test_thai_clusters(text, expected):
    assert clusters(text) == expected


def test_other_scripts_use_extended_grapheme_clusters():
    assert clusters("Cafe\u0301 1") == ["C", "a", "f", "e\u0301", " ", "1"]


def test_clusters_cover_real_lines(khmer_lines, thai_lines):
    for lines in (khmer_lines, thai_lines):
        n_clusters = 0
        for line in lines[:300]:
            parts = clusters(line)
            assert "".join(parts) == line
            n_clusters += len(parts)
        assert n_clusters < 0.9 * sum(len(line) for line in lines[:300])
    for line in khmer_lines[:300]:
        parts = clusters(line)
        # no Khmer cluster starts with a subscript or a dependent vowel
        assert not any("\u17b6" <= p[0] <= "\u17d3" for p in parts)
