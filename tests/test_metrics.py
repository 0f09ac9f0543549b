"""Metrics: edit distance against a plain dynamic programme, corpus-level rates, alignments."""
from __future__ import annotations

import random

import pytest

from aksar.text import metrics as M


def _dp_distance(a, b) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_edit_distance_matches_dynamic_programme_on_random_pairs():
    rng = random.Random(7)
    for _ in range(1500):
        alphabet = "កខគងចឆ"[: rng.randint(1, 6)]
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        expected = _dp_distance(a, b)
        assert M.edit_distance(a, b) == expected
        assert M.edit_distance(list(b), list(a)) == expected


def test_edit_distance_over_clusters_and_words():
    assert M.edit_distance(["ក្រ", "ុ", "ម"], ["ក្រ", "ម"]) == 1
    assert M.edit_distance("the cat sat".split(), "the hat sat on".split()) == 2
    assert M.edit_distance("", "abc") == 3
    assert M.edit_distance("kitten", "sitting") == 3


def test_edit_ops_is_a_minimal_alignment_that_reconstructs_both_sides():
    rng = random.Random(3)
    for _ in range(400):
        a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 30)))
        b = "".join(rng.choice("abc") for _ in range(rng.randint(0, 30)))
        ops = M.edit_ops(a, b)
        assert sum(op.op != "equal" for op in ops) == _dp_distance(a, b)
        assert "".join(op.a_item for op in ops if op.a_item is not None) == a
        assert "".join(op.b_item for op in ops if op.b_item is not None) == b
        for op in ops:
            if op.a_item is not None:
                assert a[op.i] == op.a_item
            if op.b_item is not None:
                assert b[op.j] == op.b_item


def test_edit_ops_prefers_matches_among_minimal_alignments():
    # "abcd" -> "axdz": three substitutions also cost 3, but keeping "d" as a match is preferred.
    ops = M.edit_ops("abcd", "axdz")
    assert ("equal", "d", "d") in [(o.op, o.a_item, o.b_item) for o in ops]
    assert M.error_counts("abcd", "axdz") == {"equal": 2, "replace": 1, "delete": 1, "insert": 1}
    assert [(o.op, o.a_item, o.b_item) for o in M.edit_ops("abd", "abxd")] == [
        ("equal", "a", "a"), ("equal", "b", "b"), ("insert", None, "x"), ("equal", "d", "d")]


def test_cer_is_corpus_level_not_a_mean_of_lines():
    refs = ["a", "abcdefghij"]
    preds = ["b", "abcdefghij"]
    # one edit over eleven reference characters (a per-line mean would give 0.5)
    assert M.cer(preds, refs) == pytest.approx(1 / 11)
    assert M.char_accuracy(preds, refs) == pytest.approx(10 / 11)
    assert M.char_accuracy(["xxxxxxxx"], ["a"]) == 0.0  # clamped, CER above 1
    assert M.line_accuracy(preds, refs) == 0.5


def test_wer_counts_word_edits_with_a_custom_tokenizer():
    assert M.wer(["the cat sat"], ["the hat sat"]) == pytest.approx(1 / 3)
    assert M.wer(["ab"], ["a b"], tokenize=list) == pytest.approx(1 / 3)  # tokens a, " ", b


def test_norm_edit_distance_follows_paddleocr():
    preds, refs = ["abcd", "", "xy"], ["abce", "", "x y"]
    expected = 1 - (1 / 4 + 0 + 1 / 3) / 3
    assert M.norm_edit_distance(preds, refs) == pytest.approx(expected)
    assert M.norm_edit_distance(preds, refs, ignore_space=True) == pytest.approx(1 - (1 / 4) / 3)


def test_grapheme_cer_counts_a_wrong_sign_once_per_cluster():
    # ក្រុ (one cluster) vs ក្រូ: one wrong vowel sign -> one of two clusters wrong.
    ref, pred = "\u1780\u17d2\u179a\u17bb\u1798", "\u1780\u17d2\u179a\u17bc\u1798"
    assert M.grapheme_cer([pred], [ref]) == pytest.approx(1 / 2)
    assert M.cer([pred], [ref]) == pytest.approx(1 / 5)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        M.cer(["a"], ["a", "b"])


def test_edit_ops_on_random_grapheme_lists_is_minimal():
    from aksar.text.graphemes import clusters

    rng = random.Random(11)
    pieces = ["ក", "ក្រ", "ុ", "េ", "ា", "ម", " "]
    for _ in range(300):
        a = clusters("".join(rng.choice(pieces) for _ in range(rng.randint(0, 25))))
        b = clusters("".join(rng.choice(pieces) for _ in range(rng.randint(0, 25))))
        expected = _dp_distance(a, b)
        assert M.edit_distance(a, b) == expected
        ops = M.edit_ops(a, b)
        assert sum(op.op != "equal" for op in ops) == expected
        assert [op.a_item for op in ops if op.a_item is not None] == a
        assert [op.b_item for op in ops if op.b_item is not None] == b


@pytest.mark.parametrize("ref", ["", " ", "   ", "\t "])
def test_empty_or_space_only_reference_is_never_matched_by_text(ref):
    # Nothing to read: only an empty (or space-only) prediction reads it exactly.
    assert M.line_accuracy(["ក"], [ref]) == 0.0
    assert M.line_accuracy([""], [ref]) == 1.0
    assert M.line_accuracy(["  "], [ref]) == 1.0
    # Every predicted character is an insertion; with no reference characters the rate is 1.0.
    assert M.cer(["ក"], [ref]) == 1.0
    assert M.cer(["ករ"], [ref]) == 1.0
    assert M.cer([""], [ref]) == 0.0
    assert M.grapheme_cer(["ក"], [ref]) == 1.0
    assert M.wer(["ក"], [ref]) == 1.0
    assert M.norm_edit_distance(["ក"], [ref]) == 0.0
    assert M.norm_edit_distance(["  "], [ref]) == 1.0
    # Among other lines the insertions count against the corpus total.
    assert M.cer(["ក", "ខគ"], [ref, "ខគ"]) == pytest.approx(1 / 2)
    assert M.line_accuracy(["ក", "ខគ"], [ref, "ខគ"]) == 0.5


@pytest.mark.parametrize("pred", ["", " ", "   "])
def test_empty_or_space_only_prediction_of_text_is_all_deletions(pred):
    assert M.line_accuracy([pred], ["ក ខ"]) == 0.0
    assert M.cer([pred], ["ក ខ"]) == 1.0
    assert M.wer([pred], ["ក ខ"]) == 1.0
    assert M.norm_edit_distance([pred], ["ក ខ"]) == 0.0
    assert M.char_accuracy([pred], ["ក ខ"]) == 0.0


def test_line_error_rate_follows_the_corpus_rule():
    assert M.error_rate(2, 4) == 0.5
    assert M.error_rate(3, 0) == 1.0  # text read where there is none: wrong, not "3 times wrong"
    assert M.error_rate(0, 0) == 0.0
    assert M.error_rate(3, 0) == M.cer(["abc"], [""])
