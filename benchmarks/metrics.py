"""Edit distance and alignment: aksar.text.metrics (rapidfuzz) against a plain-Python dynamic programme.

Run: PYTHONPATH=src python benchmarks/metrics.py --labels eval/khmer/heldout_fonts/labels.tsv

Pairs are (reference, reference with ~5% random edits), the way OCR output differs from its label.
Times are CPU time of this process (time.process_time); results are checked equal before timing.
"""
from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence

from aksar.text.graphemes import clusters
from aksar.text.metrics import edit_distance, edit_ops


def dp_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance, the textbook two-row dynamic programme."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def dp_ops(a: Sequence, b: Sequence) -> int:
    """A full-table alignment with backtrace (what a hand-written confusion analysis does); its cost."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        table[i][0] = i
    for j in range(m + 1):
        table[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1,
                              table[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    i, j, edits = n, m, 0
    while i or j:
        if i and j and table[i][j] == table[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            edits += a[i - 1] != b[j - 1]
            i, j = i - 1, j - 1
        elif i and table[i][j] == table[i - 1][j] + 1:
            edits, i = edits + 1, i - 1
        else:
            edits, j = edits + 1, j - 1
    return edits


def perturb(text: str, rng: random.Random, rate: float = 0.05) -> str:
    out = []
    alphabet = sorted(set(text)) or ["x"]
    for ch in text:
        r = rng.random()
        if r < rate / 3:
            continue
        if r < 2 * rate / 3:
            out.append(rng.choice(alphabet))
            continue
        out.append(ch)
        if r < rate:
            out.append(rng.choice(alphabet))
    return "".join(out)


def timed(fn: Callable, pairs: list, repeat: int) -> tuple[float, list]:
    t = time.process_time()
    for _ in range(repeat):
        results = [fn(a, b) for a, b in pairs]
    return (time.process_time() - t) / repeat, results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", required=True, help="labels.tsv (path TAB text) whose texts are the references")
    ap.add_argument("--num-samples", dest="n", type=int, default=400)
    ap.add_argument("--n", dest="n", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # old spelling
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    refs = [line.split("\t", 1)[1] for line in open(args.labels, encoding="utf-8").read().splitlines()
            if "\t" in line][:args.n]
    rng = random.Random(args.seed)
    chars = [(r, perturb(r, rng)) for r in refs]
    graphs = [(clusters(a), clusters(b)) for a, b in chars]
    mean_len = sum(len(a) for a, _ in chars) / len(chars)
    print(f"{len(chars)} pairs, mean reference length {mean_len:.1f} code points")
    print("| measure | plain Python ms/line | aksar (rapidfuzz) ms/line | speed-up | same results |")
    print("|---|---:|---:|---:|---|")
    rows = [("edit distance, code points", dp_distance, edit_distance, chars),
            ("edit distance, grapheme clusters", dp_distance, edit_distance, graphs),
            ("alignment (edit ops), code points", dp_ops,
             lambda a, b: sum(op.op != "equal" for op in edit_ops(a, b)), chars)]
    for name, slow, fast, pairs in rows:
        t_slow, r_slow = timed(slow, pairs, 1)
        t_fast, r_fast = timed(fast, pairs, 5)
        print(f"| {name} | {1000 * t_slow / len(pairs):.3f} | {1000 * t_fast / len(pairs):.4f} "
              f"| {t_slow / t_fast:.1f}x | {r_slow == r_fast} |")


if __name__ == "__main__":
    main()
