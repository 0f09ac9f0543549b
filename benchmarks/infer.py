"""Inference speed and CER on one CPU thread: aksar ONNX models side by side with Tesseract 5.

    python benchmarks/infer.py --data data/validation_fixed \\
        --model ctc_small=runs/small/checkpoints/best.pt --model ctc_mobilenet=model_mb.onnx \\
        --tesseract-lang khm --out BENCHMARKS.md

- Each ``--model NAME=PATH`` is an exported ``.onnx`` or a checkpoint (exported to a temporary ONNX
  file first, parity-checked). aksar runs with onnxruntime, ``threads=1``, batches of ``--batch-size``;
  images are decoded before timing (both sides get the same, already-decoded-to-disk PNG files: Tesseract
  reads the PNGs itself, which is part of its time; aksar's PNG decoding is timed separately and reported).
- Tesseract: ONE process over a list file (``tesseract list.txt stdout --psm 7 -l LANG``) with
  ``OMP_THREAD_LIMIT=1``, so per-process start-up is paid once, not per line; pages are split on the
  form feed it writes after each image. ``--tesseract-per-image`` runs one process per image instead.
- CER: both predictions and labels through ``aksar.text.normalize`` (corpus-level: edits / reference
  characters).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from engines import load_lines, onnx_model, run_aksar, run_tesseract, score, tesseract_version


def bench_aksar(name: str, path: Path, images: list, refs: list[str], paths: list[Path], batch_size: int,
                workdir: Path) -> dict:
    onnx_path = onnx_model(path, workdir, name)
    preds, secs, rec = run_aksar(onnx_path, images, batch_size)
    from aksar.infer.images import load_image

    t0 = time.perf_counter()
    for p in paths:
        load_image(p)
    decode_secs = time.perf_counter() - t0
    script = rec.script
    return {"system": f"aksar {name} ({rec.info.name}, onnx)", "lines": len(images), "seconds": secs,
            "lines_per_s": len(images) / secs,
            "lines_per_s_with_png_decoding": len(images) / (secs + decode_secs),
            "cer": score(preds, refs, script)["cer"], "size_mb": onnx_path.stat().st_size / 1e6, "script": script}


def bench_tesseract(lang: str, refs: list[str], paths: list[Path], per_image: bool, workdir: Path,
                    script: str | None) -> dict:
    texts, secs = run_tesseract(lang, paths, per_image, workdir)
    return {"system": f"{tesseract_version()} -l {lang} --psm 7 "
                      f"({'process per image' if per_image else 'one process, list file'})",
            "lines": len(paths), "seconds": secs, "lines_per_s": len(paths) / secs,
            "lines_per_s_with_png_decoding": len(paths) / secs,
            "cer": score(texts, refs, script)["cer"], "size_mb": None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="dataset with image files (folder with labels.tsv)")
    ap.add_argument("--model", action="append", default=[], metavar="NAME=PATH", help="checkpoint or .onnx")
    ap.add_argument("--tesseract-lang", default="khm", help="tesseract language (khm, tha); '' to skip")
    ap.add_argument("--tesseract-per-image", action="store_true", help="one tesseract process per image")
    ap.add_argument("--max-lines", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", default=None, help="append the markdown result here")
    args = ap.parse_args(argv)
    if not args.model:
        ap.error("give at least one --model NAME=PATH")
    images, refs, paths = load_lines(args.data, args.max_lines)
    rows = []
    script = None
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.model:
            name, _, path = spec.partition("=")
            if not path:
                ap.error(f"--model {spec!r}: expected NAME=PATH")
            row = bench_aksar(name, Path(path), images, refs, paths, args.batch_size, Path(tmp))
            rows.append(row)
            script = script or row["script"]
            print(row, file=sys.stderr)
        if args.tesseract_lang:
            rows.append(bench_tesseract(args.tesseract_lang, refs, paths, args.tesseract_per_image, Path(tmp), script))
            print(rows[-1], file=sys.stderr)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    md = [f"## {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}: {len(images)} lines of {args.data}",
          "", f"Command: `python benchmarks/{Path(__file__).name} {' '.join(argv or sys.argv[1:])}`",
          f"Machine: {cpu}, nproc {os.cpu_count()}; one thread each (onnxruntime intra_op=1; OMP_THREAD_LIMIT=1)", "",
          "| system | lines | lines/s | lines/s incl. PNG decoding | CER | model MB |",
          "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['system']} | {r['lines']} | {r['lines_per_s']:.1f} | "
                  f"{r['lines_per_s_with_png_decoding']:.1f} | {100 * r['cer']:.2f}% | "
                  f"{'' if r['size_mb'] is None else format(r['size_mb'], '.1f')} |")
    text = "\n".join(md) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
