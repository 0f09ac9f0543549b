"""Whole-page OCR on the same pages, one CPU thread each: aksar (``Reader``: line detector + recognizer, reading
order) against Tesseract 5 (its own page layout and recognition, ``--psm 3``). Page CER without whitespace,
CER of the lines matched at IoU > 0.5, line-detection hmean and seconds per page
(:mod:`aksar.infer.page_eval`; both engines' texts through ``aksar.text.normalize``).

    .venv/bin/python benchmarks/page_ocr.py --sets khmer:degraded=DIR khmer:clean=DIR thai:degraded=DIR ... \\
        [--det khmer=khmer_det thai=thai_det] [--rec khmer=khmer thai=thai] [--engines aksar aksar+lm tesseract] \\
        [--max-pages N] [--out page_ocr.json]

A set is ``SCRIPT:NAME=DIR``, DIR a page dataset with transcriptions (an ``aksar pages`` split folder). The
held-out-font pages of BENCHMARKS.md ("Text-line detection (issue 11)"), e.g. for Thai::

    aksar pages --corpus-dir THAI_CORPUS --splits test -o pages.test=20 --font "Arundina Sans" \\
        "Arundina Serif" "Noto Serif Thai" -o "page.layout.dpi=[100,200]" --seed 102 --output-dir DIR  # degraded
    # clean: the same with -o page.degrade.enabled=false --seed 101

- aksar: ``Reader(det, rec, threads=1).read_page(image_path)``; its time covers decoding, detection,
  recognition and ordering. One untimed warm-up page first (onnxruntime's first run).
- Tesseract 5: ``tesseract PAGE stdout -l LANG tsv`` (default ``--psm 3``), ``OMP_THREAD_LIMIT=1``, one process
  per page (its start-up is in its time, as when it is run on a page). The TSV gives the same words as the
  plain-text output plus its line boxes, which the line metrics need; a line's text is its words joined by
  spaces (spaces do not count in the page CER).

Prints a Markdown table; ``--out`` writes the reports (metrics, per-page CER and seconds) as JSON.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

from aksar.core.io import atomic_write_json
from aksar.infer.document import Page
from aksar.infer.page_eval import evaluate_pages

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import TESSERACT_LANGS, tesseract_page, tesseract_page_tsv, tesseract_version  # noqa: E402


class TesseractPages:
    """Tesseract 5 reading a whole page: ``read_page(path)`` -> a :class:`Page` (blocks, lines, texts)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def read_page(self, image: str, index: int = 0, source: str = "") -> Page:
        return tesseract_page(tesseract_page_tsv(image, self.lang), index, source or str(image))


def aksar_reader(det: str, rec: str, first_page: str, lm: str | None = None) -> Any:
    from aksar.infer.reader import Reader

    reader = Reader(det=det, rec=rec, threads=1, lm=lm)
    reader.read_page(first_page)  # warm-up, untimed
    return reader


def pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"{what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", required=True, metavar="SCRIPT:NAME=DIR")
    ap.add_argument("--det", nargs="*", default=[], metavar="SCRIPT=MODEL", help="default: SCRIPT_det (shipped)")
    ap.add_argument("--rec", nargs="*", default=[], metavar="SCRIPT=MODEL", help="default: SCRIPT (shipped)")
    ap.add_argument("--engines", nargs="+", default=["aksar", "tesseract"], choices=["aksar", "aksar+lm", "tesseract"],
                    help="aksar+lm: the recognizer's shipped character LM in a beam search")
    ap.add_argument("--max-pages", type=int, default=None)
    ap.add_argument("--out", help="write the results here (JSON)")
    args = ap.parse_args()
    dets, recs = pairs(args.det, "--det"), pairs(args.rec, "--rec")
    results = []
    for spec in args.sets:
        head, eq, folder = spec.partition("=")
        script, _, name = head.partition(":")
        if not eq or script not in TESSERACT_LANGS:
            raise SystemExit(f"--sets {spec!r}: expected SCRIPT:NAME=DIR with SCRIPT in {sorted(TESSERACT_LANGS)}")
        for engine in args.engines:
            if engine.startswith("aksar"):
                from aksar.data.det_dataset import read_det_dataset

                det, rec = dets.get(script, f"{script}_det"), recs.get(script, script)
                lm = "shipped" if engine == "aksar+lm" else None
                reader = aksar_reader(det, rec, read_det_dataset(folder)[0].image, lm)
                models = {"detector": det, "recognizer": rec, "lm": lm}
            else:
                reader, models = TesseractPages(TESSERACT_LANGS[script]), {"tesseract": tesseract_version()}
            report = evaluate_pages(reader, folder, script=script, max_pages=args.max_pages, progress=False,
                                    models=models)
            print(f"{script} {name} {engine}: page CER {report['metrics']['page_cer']:.4f}", file=sys.stderr)
            results.append({"script": script, "set": name, "path": folder, "engine": engine, "models": models,
                            "metrics": report["metrics"], "speed": report["speed"],
                            "pages": [{"image": p["image"], "cer": p["cer"], "chars": p["chars"],
                                       "seconds": p["seconds"]} for p in report["pages"]]})
    machine = f"{platform.processor() or platform.machine()}, one thread per engine"
    print(f"{machine}; {tesseract_version()}")
    print("| script | set | pages | engine | page CER | page grapheme CER | page CER, truth's line order "
          "| line CER (matched) | line hmean | s/page |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        m = r["metrics"]
        rates = " | ".join(f"{100 * m[k]:.2f}%" for k in ("page_cer", "page_grapheme_cer", "page_cer_gt_order",
                                                           "line_cer"))
        print(f"| {r['script']} | {r['set']} | {m['pages']} | {r['engine']} | {rates} "
              f"| {m['detection']['hmean']:.3f} | {r['speed']['seconds_per_page']:.2f} |")
    if args.out:
        atomic_write_json(args.out, {"machine": machine, "tesseract": tesseract_version(), "results": results})


if __name__ == "__main__":
    main()
