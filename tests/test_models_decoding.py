"""CTC greedy / prefix beam search and attention decoding on hand-checkable probability matrices."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from aksar.core.errors import AksarError
from aksar.models import decoding


def _brute_force_best(probs: np.ndarray) -> tuple[tuple[int, ...], float]:
    """Most probable CTC labelling by summing every alignment (tiny T and C only)."""
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(probs.shape[1]), repeat=probs.shape[0]):
        label = tuple(c for i, c in enumerate(path) if c != 0 and (i == 0 or path[i - 1] != c))
        totals[label] = totals.get(label, 0.0) + float(np.prod([probs[t, c] for t, c in enumerate(path)]))
    best = max(totals, key=totals.get)
    return best, totals[best]


def test_greedy_collapses_repeats_and_drops_blanks():
    # classes: blank, a(0), b(1); best path a a blank a b b -> "a a b" (token ids 0 0 1)
    best = [1, 1, 0, 1, 2, 2]
    probs = np.full((6, 3), 0.1)
    for t, c in enumerate(best):
        probs[t, c] = 0.8
    ids, conf = decoding.ctc_greedy(probs)
    assert ids == [0, 0, 1]
    assert conf == pytest.approx(0.8)
    # length trims frames: only the first 2 frames -> "a"
    assert decoding.ctc_greedy(probs, length=2)[0] == [0]


def test_beam_finds_label_that_greedy_misses():
    # Greedy best path is blank,blank ("" with p=0.36) but "a" sums to 0.64 over three alignments.
    probs = np.array([[0.6, 0.4], [0.6, 0.4]])
    assert decoding.ctc_greedy(probs)[0] == []
    ids, conf = decoding.ctc_prefix_beam_search(probs, beam_width=3)
    assert ids == [0]
    assert conf == pytest.approx(0.64)


def test_beam_keeps_repeated_label_separated_by_blank():
    probs = np.array([[0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.05, 0.9, 0.05]])
    assert decoding.ctc_prefix_beam_search(probs, beam_width=4)[0] == [0, 0]
    merged = np.array([[0.05, 0.9, 0.05], [0.05, 0.9, 0.05]])
    assert decoding.ctc_prefix_beam_search(merged, beam_width=4)[0] == [0]


def test_beam_matches_brute_force_on_random_matrices():
    rng = np.random.default_rng(3)
    better = 0
    for _ in range(40):
        probs = rng.dirichlet(np.full(3, 0.7), size=5)
        label, p = _brute_force_best(probs)
        ids, conf = decoding.ctc_prefix_beam_search(probs, beam_width=50, prune=0.0)
        assert tuple(c + 1 for c in ids) == label
        assert conf == pytest.approx(p ** (1 / max(1, len(label))), rel=1e-6)
        better += decoding.ctc_greedy(probs)[0] != ids
    assert better > 0  # the set contains cases where beam search beats the best path


def _brute_force_alignment(probs: np.ndarray, ids: tuple[int, ...]) -> list[float] | None:
    """Each id's probability at its first frame on the most probable path that collapses to ``ids``."""
    best, best_p = None, -1.0
    for path in itertools.product(range(probs.shape[1]), repeat=probs.shape[0]):
        starts = [t for t, c in enumerate(path) if c != 0 and (t == 0 or path[t - 1] != c)]
        if tuple(path[t] - 1 for t in starts) == ids:
            p = float(np.prod([probs[t, c] for t, c in enumerate(path)]))
            if p > best_p:
                best, best_p = [float(probs[t, path[t]]) for t in starts], p
    return best


def test_aligned_confidences_follow_the_best_alignment_of_any_decode():
    rng = np.random.default_rng(3)
    for _ in range(40):
        probs = rng.dirichlet(np.full(3, 0.6), size=int(rng.integers(1, 7)))
        ids, first_frame, _ = decoding.ctc_best_path(probs)
        assert decoding.ctc_aligned_confidences(probs, ids) == pytest.approx(first_frame)  # greedy: the same
        beam, _ = decoding.ctc_prefix_beam_search(probs, beam_width=4, prune=0.0)
        assert decoding.ctc_aligned_confidences(probs, beam) == pytest.approx(_brute_force_alignment(probs, tuple(beam)))
    # a batch of lines of their own lengths reads each as alone (padding frames and states never count)
    probs = rng.dirichlet(np.full(4, 0.5), size=(6, 7))
    lengths = [7, 3, 5, 1, 6, 2]
    ids = [decoding.ctc_prefix_beam_search(p, n, beam_width=3)[0] for p, n in zip(probs, lengths)]
    ids[3], ids[5] = [], [0, 0, 0]                                    # nothing read; more than 2 frames can carry
    alone = [decoding.ctc_aligned_confidences(p, i, n) for p, i, n in zip(probs, ids, lengths)]
    assert alone[3] == [] and alone[5] is None and all(a is not None for a in alone[:3])
    assert decoding.ctc_aligned_confidences_batch(probs, ids, lengths) == alone
    flat = np.full((3, 3), 1 / 3)
    assert decoding.ctc_aligned_confidences(flat, [0, 0, 0]) is None     # a repeat needs a blank: 5 frames
    assert decoding.ctc_aligned_confidences(flat, [0, 0], length=2) is None
    assert decoding.ctc_aligned_confidences(flat, []) == []


def test_batch_decode_respects_lengths_and_method():
    probs = np.zeros((2, 3, 3))
    probs[:, :, 0] = 0.1
    probs[0, :, 1] = 0.9
    probs[1, :, 2] = 0.9
    probs[1, 2] = [0.9, 0.05, 0.05]
    out = decoding.ctc_decode_batch(probs, np.array([1, 3]))
    assert [o[0] for o in out] == [[0], [1]]
    assert decoding.ctc_decode_batch(probs, None, method="beam")[1][0] == [1]
    with pytest.raises(AksarError, match="viterbi"):
        decoding.ctc_decode_batch(probs, None, method="viterbi")


def test_attention_ids_stop_at_eos_and_average_probabilities():
    ids = np.array([[3, 5, 2, 7, 7], [2, 4, 4, 4, 4], [4, 4, 4, 4, 4]])
    probs = np.array([[0.9, 0.8, 0.7, 0.1, 0.1], [0.5, 0.1, 0.1, 0.1, 0.1], [0.5] * 5])
    out = decoding.attention_ids_to_tokens(ids, probs)
    assert out[0][0] == [0, 2] and out[0][1] == pytest.approx(0.8)
    assert out[1] == ([], 0.5)
    assert out[2][0] == [1] * 5  # no EOS within the steps: everything is read


def test_classify_returns_exactly_one_token():
    probs = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    assert decoding.classify(probs) == [([1], pytest.approx(0.7)), ([0], pytest.approx(0.6))]


def test_empty_input_gives_empty_result():
    assert decoding.ctc_greedy(np.zeros((0, 3))) == ([], 0.0)
    assert decoding.ctc_prefix_beam_search(np.zeros((0, 3))) == ([], 0.0)
    assert math.isclose(decoding.ctc_greedy(np.array([[1.0, 0.0]]))[1], 1.0)
