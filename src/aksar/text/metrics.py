"""Recognition metrics: edit distance, CER/WER, accuracies and edit alignments for confusion analysis.

Pure Python (no torch, no numpy needed). ``edit_distance`` uses Hyyrö's bit-parallel Levenshtein
algorithm on Python integers (one big-int operation per item of the longer sequence), so a 100-character
line costs a few microseconds rather than a 10,000-cell dynamic programme. Sequences may be strings,
lists of grapheme clusters or lists of words - any sequence of hashable items.

Corpus-level conventions (what the ``aksar eval`` report shows):

- ``cer``: total character edits / total reference characters (not a mean of line CERs).
- ``wer``: the same over words (whitespace tokens by default, or a given tokenizer).
- ``char_accuracy``: ``max(0, 1 - cer)`` (ISRI-style character accuracy, clamped at 0).
- ``line_accuracy``: share of lines whose prediction equals the reference exactly.
- ``norm_edit_distance``: PaddleOCR's ``norm_edit_dis``: ``1 - mean(edit / max(len(pred), len(ref)))``
  over lines (a pair of empty strings counts as distance 0).
- ``grapheme_cer``: CER over grapheme clusters (``aksar.text.graphemes.clusters``).

An empty reference set gives 0.0 when the predictions are empty too; otherwise rates are divided by
``max(1, total reference length)``.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import NamedTuple

Seq = Sequence[Hashable]

__all__ = [
    "EditOp", "edit_distance", "edit_ops", "error_counts", "cer", "wer", "grapheme_cer",
    "char_accuracy", "line_accuracy", "norm_edit_distance", "split_words",
]


def _strip_common(a: Seq, b: Seq) -> tuple[int, int]:
    """Lengths of the common prefix and (after it) common suffix of ``a`` and ``b``."""
    n = min(len(a), len(b))
    p = 0
    while p < n and a[p] == b[p]:
        p += 1
    s = 0
    while s < n - p and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    return p, s


def edit_distance(a: Seq, b: Seq) -> int:
    """Levenshtein distance (unit-cost insert, delete, substitute) between two sequences."""
    if a == b:
        return 0
    p, s = _strip_common(a, b)
    a = a[p:len(a) - s]
    b = b[p:len(b) - s]
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    # Hyyrö (2001) bit-vector algorithm; `b` is the pattern (bit i = position i of b).
    peq: dict[Hashable, int] = {}
    for i, item in enumerate(b):
        peq[item] = peq.get(item, 0) | (1 << i)
    full = (1 << m) - 1
    last = 1 << (m - 1)
    pv, mv, score = full, 0, m
    for item in a:
        eq = peq.get(item, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
    return score


class EditOp(NamedTuple):
    """One step of an alignment turning ``a`` into ``b``.

    ``op`` is ``"equal"``, ``"replace"``, ``"delete"`` (item ``a_item`` of ``a`` is missing from
    ``b``) or ``"insert"`` (item ``b_item`` of ``b`` has no counterpart in ``a``); ``i``/``j`` are the
    positions in ``a``/``b`` (the position where the item would be for the side that lacks it).
    For evaluation call ``edit_ops(reference, prediction)``: deletions are missed characters,
    insertions are spurious ones.
    """

    op: str
    a_item: Hashable | None
    b_item: Hashable | None
    i: int
    j: int


def edit_ops(a: Seq, b: Seq) -> list[EditOp]:
    """A minimal-cost alignment of ``a`` and ``b`` (equal, replace, delete and insert steps in order).

    Among alignments with the fewest edits the one with the most matched items is chosen (ties then
    broken deterministically: diagonal, deletion, insertion). The common prefix and suffix are aligned
    directly, so near-identical lines cost almost nothing.
    """
    p, s = _strip_common(a, b)
    ops = [EditOp("equal", a[k], b[k], k, k) for k in range(p)]
    ca, cb = a[p:len(a) - s], b[p:len(b) - s]
    n, m = len(ca), len(cb)
    if n and m:
        # Full DP table over the differing middle part. Cost = W * edits - matches with W larger than
        # any match count: fewest edits first, then the most matched items (so "abcd" -> "axdz" keeps
        # "d" as a match instead of three substitutions).
        w = min(n, m) + 1
        prev = [j * w for j in range(m + 1)]
        rows = [prev]
        for i in range(1, n + 1):
            ai = ca[i - 1]
            cur = [i * w] + [0] * m
            for j in range(1, m + 1):
                sub = prev[j - 1] + (w if ai != cb[j - 1] else -1)
                dele = prev[j] + w
                ins = cur[j - 1] + w
                cur[j] = sub if sub <= dele and sub <= ins else (dele if dele <= ins else ins)
            rows.append(cur)
            prev = cur
        i, j = n, m
        middle: list[EditOp] = []
        while i > 0 or j > 0:
            here = rows[i][j]
            if i > 0 and j > 0 and here == rows[i - 1][j - 1] + (w if ca[i - 1] != cb[j - 1] else -1):
                op = "equal" if ca[i - 1] == cb[j - 1] else "replace"
                middle.append(EditOp(op, ca[i - 1], cb[j - 1], p + i - 1, p + j - 1))
                i, j = i - 1, j - 1
            elif i > 0 and here == rows[i - 1][j] + w:
                middle.append(EditOp("delete", ca[i - 1], None, p + i - 1, p + j))
                i -= 1
            else:
                middle.append(EditOp("insert", None, cb[j - 1], p + i, p + j - 1))
                j -= 1
        ops.extend(reversed(middle))
    else:
        ops.extend(EditOp("delete", ca[k], None, p + k, p) for k in range(n))
        ops.extend(EditOp("insert", None, cb[k], p, p + k) for k in range(m))
    na, nb = len(a), len(b)
    ops.extend(EditOp("equal", a[na - s + k], b[nb - s + k], na - s + k, nb - s + k) for k in range(s))
    return ops


def error_counts(a: Seq, b: Seq) -> dict[str, int]:
    """Counts of ``equal``/``replace``/``delete``/``insert`` steps of ``edit_ops(a, b)``."""
    counts = {"equal": 0, "replace": 0, "delete": 0, "insert": 0}
    for op in edit_ops(a, b):
        counts[op.op] += 1
    return counts


def _check_pairs(preds: Sequence, refs: Sequence) -> None:
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions for {len(refs)} references")


def _rate(preds: Sequence[Seq], refs: Sequence[Seq]) -> float:
    _check_pairs(preds, refs)
    edits = sum(edit_distance(p, r) for p, r in zip(preds, refs))
    total = sum(len(r) for r in refs)
    return edits / max(1, total)


def split_words(text: str) -> list[str]:
    """Whitespace-separated tokens (the default word tokenizer of ``wer``)."""
    return text.split()


def cer(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Character error rate: total edits / total reference characters (code points)."""
    return _rate(preds, refs)


def wer(preds: Sequence[str], refs: Sequence[str],
        tokenize: Callable[[str], list[str]] = split_words) -> float:
    """Word error rate: total word edits / total reference words (``tokenize`` splits a line)."""
    _check_pairs(preds, refs)
    return _rate([tokenize(p) for p in preds], [tokenize(r) for r in refs])


def grapheme_cer(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Error rate over grapheme clusters (Khmer/Thai-aware, from ``aksar.text.graphemes``)."""
    from aksar.text.graphemes import clusters

    _check_pairs(preds, refs)
    return _rate([clusters(p) for p in preds], [clusters(r) for r in refs])


def char_accuracy(preds: Sequence[str], refs: Sequence[str]) -> float:
    """``max(0, 1 - cer)``: share of reference characters recognised (ISRI style, clamped)."""
    return max(0.0, 1.0 - cer(preds, refs))


def line_accuracy(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Share of lines predicted exactly (sequence accuracy); 0.0 for no lines."""
    _check_pairs(preds, refs)
    if not refs:
        return 0.0
    return sum(p == r for p, r in zip(preds, refs)) / len(refs)


def norm_edit_distance(preds: Sequence[str], refs: Sequence[str], ignore_space: bool = False) -> float:
    """PaddleOCR's ``norm_edit_dis``: ``1 - mean over lines of edit / max(len(pred), len(ref))``.

    ``ignore_space=True`` removes spaces first, as PaddleOCR's ``RecMetric`` does by default.
    Higher is better (1.0 = all lines exact); 0.0 for no lines.
    """
    _check_pairs(preds, refs)
    if not refs:
        return 0.0
    total = 0.0
    for p, r in zip(preds, refs):
        if ignore_space:
            p, r = p.replace(" ", ""), r.replace(" ", "")
        longest = max(len(p), len(r))
        if longest:
            total += edit_distance(p, r) / longest
    return 1.0 - total / len(refs)
