"""Text-line detector accuracy and speed, one CPU thread: hmean at IoU 0.5 on page sets, ms per page.

    .venv/bin/python benchmarks/detection.py MODEL.onnx --sets clean=DIR degraded=DIR --a4 DIR [--tesseract khm]

Each set is a detection dataset (a folder with det_labels.txt, e.g. an `aksar pages` split). `--a4` is a set
of A4 pages at 150 dpi: its ms per page (resize, network, post-processing) is the speed figure. With
`--tesseract LANG`, Tesseract 5's own page layout (`--psm 3`, its text-line boxes from the TSV output, one
thread) is scored on the same pages and ground truth. Prints a Markdown table for BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np

from aksar.infer.det_eval import evaluate_detection
from aksar.infer.detector import Detector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import tesseract_page, tesseract_page_tsv  # noqa: E402


class TesseractLines:
    """Tesseract's text-line boxes (TSV level 4) as a detector: ``detect_page(path)`` -> boxes."""

    def __init__(self, lang: str) -> None:
        self.lang, self.name, self.session, self.det_limit_side = lang, f"tesseract-{lang}", None, 0
        self.postprocess = type("NoSettings", (), {"settings": staticmethod(dict)})()

    def detect_page(self, image: np.ndarray) -> list:
        from PIL import Image

        from aksar.models.det_postprocess import Detection

        buf = "/tmp/aksar_tess_page.png"
        Image.fromarray(image).save(buf)
        lines = tesseract_page(tesseract_page_tsv(buf, self.lang)).lines
        return [Detection(np.asarray(line.polygon, np.float32), 1.0) for line in lines]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="a detection .onnx export or checkpoint")
    ap.add_argument("--sets", nargs="+", default=[], metavar="NAME=DIR", help="page sets to score")
    ap.add_argument("--a4", metavar="DIR", help="A4 pages at 150 dpi, for ms per page")
    ap.add_argument("--limit-side", type=int, default=None, help="long-side limit (default: the model's)")
    ap.add_argument("--tesseract", metavar="LANG", help="also score Tesseract's page layout (e.g. khm, tha)")
    args = ap.parse_args()
    detector = Detector(args.model, det_limit_side=args.limit_side, threads=1)
    engines = [("aksar", detector)] + ([("tesseract", TesseractLines(args.tesseract))] if args.tesseract else [])
    rows = []
    sets = [spec.partition("=")[::2] for spec in args.sets] + ([("A4 150 dpi", args.a4)] if args.a4 else [])
    for name, folder in sets:
        for engine, det in engines:  # Tesseract's time includes its recognition: it cannot lay out alone
            report, _ = evaluate_detection(det, folder, model=args.model, progress=False)
            m, d = report["metrics"], report["dataset"]
            rows.append((f"{name}, {engine}", d["pages"], m["gt"], m["precision"], m["recall"], m["hmean"],
                         report["speed"]["ms_per_page"]))
    print(f"model {args.model}, long side {detector.det_limit_side} px, one thread, {platform.processor() or platform.machine()}")
    print("| set | pages | lines | precision | recall | hmean | ms/page |")
    print("|---|---|---|---|---|---|---|")
    for name, pages, lines, p, r, h, ms in rows:
        print(f"| {name} | {pages} | {lines} | {p:.3f} | {r:.3f} | {h:.3f} | {ms:.0f} |")


if __name__ == "__main__":
    main()
