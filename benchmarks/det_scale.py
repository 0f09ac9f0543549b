"""The detector's input size against page reading: for each ``det_limit_side`` (and DB ``min_size``,
``box_thresh``), the page
CER, the page CER in the truth's line order (what detection and recognition leave, without reading order),
the CER of matched lines and the line hmean, on page sets (one CPU thread, greedy decoding).

    .venv/bin/python benchmarks/det_scale.py --script thai --sets DIR [DIR ...] --sides 640 800 960 1120 \\
        [--min-size 3] [--box-thresh 0.6] [--det thai_det] [--rec thai] [--out det_scale.json]

Choose on pages that are not evaluation pages, e.g. the corpus's val split in the held-out families
(BENCHMARKS.md, "Reading pages"):

    aksar pages --corpus-dir data/thai/corpus --splits val -o pages.val=10 --font "Arundina Sans" \\
        --font "Arundina Serif" --font "Noto Serif Thai" -o "page.layout.dpi=[100,300]" --seed 301 \\
        --output-dir /tmp/tune/thai_deg          # clean: -o page.degrade.enabled=false --seed 302
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from aksar.core.io import atomic_write_json
from aksar.infer.detector import Detector
from aksar.infer.page_eval import evaluate_pages
from aksar.infer.reader import Reader


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", required=True)
    ap.add_argument("--sets", nargs="+", required=True, help="page datasets (aksar pages split folders)")
    ap.add_argument("--sides", nargs="+", type=int, default=[640, 800, 960, 1120])
    ap.add_argument("--min-size", nargs="+", type=float, default=[3.0])
    ap.add_argument("--box-thresh", nargs="+", type=float, default=[0.6])
    ap.add_argument("--det", help="detector (default SCRIPT_det)")
    ap.add_argument("--rec", help="recognizer (default SCRIPT)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    for side in args.sides:
        for min_size, box_thresh in ((m, b) for m in args.min_size for b in args.box_thresh):
            det = Detector(args.det or f"{args.script}_det", det_limit_side=side, threads=1, min_size=min_size,
                           box_thresh=box_thresh)
            reader = Reader(det=det, rec=args.rec or args.script, threads=1, lm=None)  # greedy
            for data in args.sets:
                t0 = time.perf_counter()
                m = evaluate_pages(reader, data, args.script, progress=False)["metrics"]
                row = {"set": data, "det_limit_side": side, "min_size": min_size, "box_thresh": box_thresh,
                       "page_cer": m["page_cer"],
                       "page_cer_gt_order": m["page_cer_gt_order"], "line_cer": m["line_cer"],
                       "hmean": m["detection"]["hmean"], "seconds": round(time.perf_counter() - t0, 1)}
                rows.append(row)
                print(f"{side:5d} min_size {min_size:g} box_thresh {box_thresh:g}  {data}: page CER {100 * row['page_cer']:.2f}%  "
                      f"truth's order {100 * row['page_cer_gt_order']:.2f}%  lines {100 * row['line_cer']:.2f}%  "
                      f"hmean {row['hmean']:.3f}", flush=True)
    if args.out:
        atomic_write_json(args.out, {"script": args.script, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
