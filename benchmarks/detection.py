"""Text-line detector accuracy and speed, one CPU thread: hmean at IoU 0.5 on page sets, ms per page.

    .venv/bin/python benchmarks/detection.py MODEL.onnx --sets clean=DIR degraded=DIR --a4 DIR

Each set is a detection dataset (a folder with det_labels.txt, e.g. an `aksar pages` split). `--a4` is a set
of A4 pages at 150 dpi: its ms per page (resize, network, post-processing) is the speed figure. Prints a
Markdown table for BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import platform

from aksar.infer.det_eval import evaluate_detection
from aksar.infer.detector import Detector


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="a detection .onnx export or checkpoint")
    ap.add_argument("--sets", nargs="+", default=[], metavar="NAME=DIR", help="page sets to score")
    ap.add_argument("--a4", metavar="DIR", help="A4 pages at 150 dpi, for ms per page")
    ap.add_argument("--limit-side", type=int, default=None, help="long-side limit (default: the model's)")
    args = ap.parse_args()
    detector = Detector(args.model, det_limit_side=args.limit_side, threads=1)
    rows = []
    for spec in args.sets:
        name, _, folder = spec.partition("=")
        report, _ = evaluate_detection(detector, folder, model=args.model, progress=False)
        m, d = report["metrics"], report["dataset"]
        rows.append((name, d["pages"], m["gt"], m["precision"], m["recall"], m["hmean"],
                     report["speed"]["ms_per_page"]))
    if args.a4:
        report, _ = evaluate_detection(detector, args.a4, model=args.model, progress=False)
        m, d = report["metrics"], report["dataset"]
        rows.append(("A4 150 dpi", d["pages"], m["gt"], m["precision"], m["recall"], m["hmean"],
                     report["speed"]["ms_per_page"]))
    print(f"model {args.model}, long side {detector.det_limit_side} px, one thread, {platform.processor() or platform.machine()}")
    print("| set | pages | lines | precision | recall | hmean | ms/page |")
    print("|---|---|---|---|---|---|---|")
    for name, pages, lines, p, r, h, ms in rows:
        print(f"| {name} | {pages} | {lines} | {p:.3f} | {r:.3f} | {h:.3f} | {ms:.0f} |")


if __name__ == "__main__":
    main()
