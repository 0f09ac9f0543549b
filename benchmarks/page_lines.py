"""The recognizer alone on page lines: every ground-truth line of a page set cut at its true polygon with the
page reader's own crop (``crop_line``, default padding), read by one or more recognizers. It separates
what the recognizer gets wrong on page lines from what detection and reading order cost.

    python benchmarks/page_lines.py --pages eval/khmer/pages_degraded --model khmer
    python benchmarks/page_lines.py --pages eval/khmer/pages_degraded --model old=A.onnx --model new=B.onnx

Per model: CER with whitespace removed (as the page benchmark's line CER), by the crop's height in px
(small print at 100 dpi is where lines become unreadable), and the share of all edits that the
``--worst`` lines with most edits hold.
"""
from __future__ import annotations

import argparse
import json

from aksar.core.errors import AksarError
from aksar.data.det_dataset import load_page, read_det_dataset
from aksar.infer.line_crops import crop_line
from aksar.infer.page_eval import without_whitespace
from aksar.infer.recognizer import Recognizer
from aksar.text import metrics as M
from aksar.text.normalize import normalize

HEIGHTS = ((0, 20), (20, 25), (25, 30), (30, 40), (40, 10_000))  # crop height buckets, px


def truth_crops(pages: str) -> tuple[list, list[str]]:
    """(line images, reference texts) of every ground-truth line of ``pages`` that is not ignored."""
    crops, refs = [], []
    for sample in read_det_dataset(pages, key="--pages"):
        gray = load_page(sample.image)
        for region in sample.regions:
            if not region.ignore:
                crops.append(crop_line(gray, region.polygon).image)
                refs.append(region.text)
    return crops, refs


def measure(preds: list[str], refs: list[str], heights: list[int], script: str | None, worst: int) -> dict:
    """CER overall and per height bucket (whitespace removed), and the worst lines' share of the edits."""
    p = [without_whitespace(normalize(x, script)) for x in preds]
    r = [without_whitespace(normalize(x, script)) for x in refs]
    edits = sorted((M.edit_distance(a, b) for a, b in zip(p, r)), reverse=True)
    buckets = {}
    for lo, hi in HEIGHTS:
        idx = [i for i, h in enumerate(heights) if lo <= h < hi]
        if idx:
            buckets[f"{lo}-{hi - 1}" if hi < 10_000 else f">={lo}"] = {
                "lines": len(idx), "cer": M.cer([p[i] for i in idx], [r[i] for i in idx])}
    return {"lines": len(refs), "cer": M.cer(p, r), "by_crop_height": buckets,
            f"worst_{worst}_share_of_edits": sum(edits[:worst]) / max(1, sum(edits))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", required=True, help="a page set: det_labels.txt, PAGE-XML or its folder")
    ap.add_argument("--model", action="append", required=True, metavar="[NAME=]MODEL",
                    help="shipped model name, .onnx or checkpoint (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--worst", type=int, default=15)
    ap.add_argument("--json", default=None, help="write the results here too")
    args = ap.parse_args(argv)
    try:
        crops, refs = truth_crops(args.pages)
    except AksarError as exc:
        raise SystemExit(f"error: {exc}") from None
    heights = [c.shape[0] for c in crops]
    results = {}
    for spec in args.model:
        name, _, model = spec.rpartition("=")
        rec = Recognizer(model, threads=args.threads)
        preds = [p.text for p in rec.predict(crops)]
        results[name or model] = measure(preds, refs, heights, rec.script, args.worst)
    print(json.dumps(results, indent=1, ensure_ascii=False))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"pages": args.pages, "results": results}, f, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
