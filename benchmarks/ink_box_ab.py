"""``ink_box`` with connected-component labelling (before 2026-12-02) against the 3x3 box sum it uses now,
inside ``Recognizer.predict``: the two alternate round by round in one process on the same lines.

    python benchmarks/ink_box_ab.py --model khmer --data eval/khmer/heldout_fonts --rounds 10

Prints lines/s (median over each version's rounds) and checks the two give the same boxes.
"""
from __future__ import annotations

import argparse
import statistics
import time

import cv2

import aksar.data.preprocess as P
from aksar.data.readers import open_dataset
from aksar.infer.recognizer import Recognizer

NEW = P.ink_box


def labelled(gray):
    """The former ink_box: the same ink mask, specks removed by labelling 8-connected components."""
    found = P.ink_mask(gray)
    if found is None:
        return None
    mask, paper = found
    _, _, st, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    kept = st[1:][st[1:, cv2.CC_STAT_AREA] >= 2]
    if not len(kept):
        return None
    return (int(kept[:, 1].min()), int((kept[:, 1] + kept[:, 3]).max()),
            int(kept[:, 0].min()), int((kept[:, 0] + kept[:, 2]).max()), paper)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="khmer")
    ap.add_argument("--data", default="eval/khmer/heldout_fonts")
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args(argv)
    ds = open_dataset(args.data)
    images = [ds[i]["image"] for i in range(len(ds))]
    grays = [P.to_gray(im) for im in images]
    assert all(NEW(g) == labelled(g) for g in grays), "the two versions disagree"
    rec = Recognizer(args.model, threads=1)
    rec.predict(images[:32])
    times: dict[str, list[float]] = {"labelled": [], "box_sum": []}
    for r in range(args.rounds):
        order = [("labelled", labelled), ("box_sum", NEW)]
        for name, fn in order if r % 2 else order[::-1]:
            P.ink_box = fn
            t0 = time.perf_counter()
            rec.predict(images)
            times[name].append(time.perf_counter() - t0)
    P.ink_box = NEW
    for name, ts in times.items():
        print(f"{name}: {len(images) / statistics.median(ts):.1f} lines/s (median of {len(ts)} rounds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
