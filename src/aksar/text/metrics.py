"""Recognition metrics: edit distance, CER/WER, accuracies and edit alignments for confusion analysis.

Edit distances and alignments come from rapidfuzz (``rapidfuzz.distance.Levenshtein``, C++), on any
sequences of hashable items: strings, lists of grapheme clusters or lists of words.

Corpus-level conventions (what the ``aksar eval`` report shows):

- ``cer``: total character edits / total reference characters (not a mean of line CERs).
- ``wer``: the same over words (whitespace tokens by default, or a given tokenizer).
- ``char_accuracy``: ``max(0, 1 - cer)`` (ISRI-style character accuracy, clamped at 0).
- ``line_accuracy``: share of lines whose prediction equals the reference exactly.
- ``norm_edit_distance``: PaddleOCR's ``norm_edit_dis``: ``1 - mean(edit / max(len(pred), len(ref)))``
  over lines (a pair of empty strings counts as distance 0).
- ``grapheme_cer``: CER over grapheme clusters (``aksar.text.graphemes.clusters``).

Empty lines: a text with no visible character (``""`` or only whitespace) is *empty*: there is nothing
to read. An empty reference matches only an empty prediction (``line_accuracy``), and every character
predicted for it is an insertion (CER, WER); a non-empty reference read as empty is all deletions.
Whitespace-only texts count as ``""`` in every metric, so spaces alone are never characters to get
right or wrong. When the references hold no characters at all, a rate is 0.0 if the predictions are
empty too and 1.0 otherwise (never a division by zero, never an unbounded count).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import NamedTuple

from rapidfuzz.distance import Levenshtein

Seq = Sequence[Hashable]

__all__ = [
    "EditOp", "edit_distance", "edit_ops", "error_counts", "cer", "wer", "grapheme_cer",
    "char_accuracy", "line_accuracy", "norm_edit_distance", "split_words", "content", "error_rate",
]


def content(text: str) -> str:
    """``text``, or ``""`` when it holds no visible character (only whitespace): see "Empty lines"."""
    return text if text.strip() else ""


def edit_distance(a: Seq, b: Seq) -> int:
    """Levenshtein distance (unit-cost insert, delete, substitute) between two sequences."""
    return Levenshtein.distance(a, b)


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

    rapidfuzz gives a minimal alignment; each run of edits between two matched stretches is then
    re-aligned so that, among the alignments with the fewest edits, the one with the most matched items
    is chosen ("abcd" -> "axdz" keeps "d" as a match instead of three substitutions; ties broken
    deterministically: diagonal, deletion, insertion).
    """
    ops: list[EditOp] = []
    block: list[int] | None = None  # [i1, i2, j1, j2] of the current run of edits
    for tag, i1, i2, j1, j2 in Levenshtein.opcodes(a, b):
        if tag != "equal":
            block = [i1, i2, j1, j2] if block is None else [block[0], i2, block[2], j2]
            continue
        if block is not None:
            ops.extend(_align_block(a, b, *block))
            block = None
        ops.extend(EditOp("equal", a[i1 + k], b[j1 + k], i1 + k, j1 + k) for k in range(i2 - i1))
    if block is not None:
        ops.extend(_align_block(a, b, *block))
    return ops


def _align_block(a: Seq, b: Seq, i1: int, i2: int, j1: int, j2: int) -> list[EditOp]:
    """Fewest edits, then most matches, for ``a[i1:i2]`` against ``b[j1:j2]`` (a small DP table)."""
    ca, cb = a[i1:i2], b[j1:j2]
    n, m = len(ca), len(cb)
    if not n or not m:
        return ([EditOp("delete", ca[k], None, i1 + k, j1) for k in range(n)]
                + [EditOp("insert", None, cb[k], i1, j1 + k) for k in range(m)])
    # Cost = W * edits - matches with W larger than any match count.
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
    out: list[EditOp] = []
    while i > 0 or j > 0:
        here = rows[i][j]
        if i > 0 and j > 0 and here == rows[i - 1][j - 1] + (w if ca[i - 1] != cb[j - 1] else -1):
            op = "equal" if ca[i - 1] == cb[j - 1] else "replace"
            out.append(EditOp(op, ca[i - 1], cb[j - 1], i1 + i - 1, j1 + j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and here == rows[i - 1][j] + w:
            out.append(EditOp("delete", ca[i - 1], None, i1 + i - 1, j1 + j))
            i -= 1
        else:
            out.append(EditOp("insert", None, cb[j - 1], i1 + i, j1 + j - 1))
            j -= 1
    return out[::-1]


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
    """Total edits / total reference items; with no reference items, 0.0 or 1.0 (see "Empty lines")."""
    _check_pairs(preds, refs)
    return error_rate(sum(edit_distance(p, r) for p, r in zip(preds, refs)), sum(len(r) for r in refs))


def error_rate(edits: int, ref_length: int) -> float:
    """``edits / ref_length``; without reference items 0.0 for no edits, else 1.0 (see "Empty lines")."""
    if ref_length == 0:
        return 1.0 if edits else 0.0
    return edits / ref_length


def _contents(texts: Sequence[str]) -> list[str]:
    return [content(t) for t in texts]


def split_words(text: str) -> list[str]:
    """Whitespace-separated tokens (the default word tokenizer of ``wer``)."""
    return text.split()


def cer(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Character error rate: total edits / total reference characters (code points)."""
    return _rate(_contents(preds), _contents(refs))


def wer(preds: Sequence[str], refs: Sequence[str],
        tokenize: Callable[[str], list[str]] = split_words) -> float:
    """Word error rate: total word edits / total reference words (``tokenize`` splits a line)."""
    _check_pairs(preds, refs)
    return _rate([tokenize(p) for p in preds], [tokenize(r) for r in refs])


def grapheme_cer(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Error rate over grapheme clusters (Khmer/Thai-aware, from ``aksar.text.graphemes``)."""
    from aksar.text.graphemes import clusters

    _check_pairs(preds, refs)
    return _rate([clusters(p) for p in _contents(preds)], [clusters(r) for r in _contents(refs)])


def char_accuracy(preds: Sequence[str], refs: Sequence[str]) -> float:
    """``max(0, 1 - cer)``: share of reference characters recognised (ISRI style, clamped)."""
    return max(0.0, 1.0 - cer(preds, refs))


def line_accuracy(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Share of lines predicted exactly (sequence accuracy); 0.0 for no lines.

    An empty (or whitespace-only) reference is read exactly only by an empty prediction.
    """
    _check_pairs(preds, refs)
    if not refs:
        return 0.0
    return sum(content(p) == content(r) for p, r in zip(preds, refs)) / len(refs)


def norm_edit_distance(preds: Sequence[str], refs: Sequence[str], ignore_space: bool = False) -> float:
    """PaddleOCR's ``norm_edit_dis``: ``1 - mean over lines of edit / max(len(pred), len(ref))``.

    ``ignore_space=True`` removes spaces first, as PaddleOCR's ``RecMetric`` does by default.
    Higher is better (1.0 = all lines exact); 0.0 for no lines.
    """
    _check_pairs(preds, refs)
    if not refs:
        return 0.0
    total = 0.0
    for p, r in zip(_contents(preds), _contents(refs)):
        if ignore_space:
            p, r = p.replace(" ", ""), r.replace(" ", "")
        longest = max(len(p), len(r))
        if longest:
            total += edit_distance(p, r) / longest
    return 1.0 - total / len(refs)
