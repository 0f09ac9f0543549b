"""The two engines the benchmarks compare, run the same way everywhere, and how their output is scored.

- aksar: an exported ``.onnx`` (a checkpoint is exported to a temporary ONNX file first, parity-checked),
  ``aksar.Recognizer`` on onnxruntime with ONE thread; images decoded before timing.
- Tesseract 5: ONE process over a list file (``tesseract list.txt stdout --psm 7 -l LANG``) with
  ``OMP_THREAD_LIMIT=1``, so start-up is paid once, not per line (pages are split on the form feed it
  writes after each image); or one process per image. It reads the PNG/JPEG files itself (in its time).
- Scoring: predictions and labels through ``aksar.text.normalize`` (Tesseract's too), corpus-level CER
  raw and after ``fold_visual``, each also with spaces removed (Khmer and Thai write no word spaces, so
  where a space goes is a layout choice), and line accuracy.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

from aksar.data.readers import open_dataset
from aksar.infer.document import Block, Line, Page, box_polygon
from aksar.infer.recognizer import Recognizer, is_onnx_file
from aksar.text import metrics as M
from aksar.text.normalize import fold_visual, normalize

TESSERACT_LANGS = {"khmer": "khm", "thai": "tha"}


def load_lines(data: str | Path, max_lines: int | None = None) -> tuple[list, list[str], list[Path]]:
    """(decoded images, labels, image paths) of a labels.tsv folder or pre-generated split."""
    ds = open_dataset(data)
    n = len(ds) if max_lines is None else min(max_lines, len(ds))
    images, refs, paths = [], [], []
    for i in range(n):
        item = ds[i]
        if item is None:
            continue
        images.append(item["image"])
        refs.append(item["text"])
        paths.append(ds.path(i) if hasattr(ds, "path") else None)
    if any(p is None for p in paths):
        raise SystemExit(f"{data}: must be a labels.tsv or pre-generated dataset (Tesseract reads image files)")
    if ds.errors:
        raise SystemExit(f"{data}: unreadable items {dict(ds.errors)}")
    return images, refs, paths


def onnx_model(path: Path, workdir: Path, name: str) -> Path:
    """``path`` if it is an ONNX file, else the checkpoint exported to ``workdir/NAME.onnx``."""
    if is_onnx_file(path):
        return path
    from aksar.infer.export import export_onnx

    out = workdir / f"{name}.onnx"
    export_onnx(path, out)
    return out


def run_aksar(onnx_path: Path, images: list, batch_size: int, rounds: int = 3,
              **options) -> tuple[list[str], float, Recognizer]:
    """(predictions, seconds, recognizer) on one thread; a warm-up batch first (session start). The seconds
    are the median of ``rounds`` reads of all images (one read of 400 lines takes under a second, where a
    pause of the machine shows), each by a new recognizer, so that no read finds what another cached (the
    LM's scores). ``options``: more Recognizer arguments (decoder, lm, lm_weight, ...)."""
    times = []
    for _ in range(max(1, rounds)):
        rec = Recognizer(onnx_path, threads=1, batch_size=batch_size, **options)
        rec.predict(images[: min(len(images), batch_size)])
        t0 = time.perf_counter()
        preds = rec.predict(images)
        times.append(time.perf_counter() - t0)
    return [p.text for p in preds], statistics.median(times), rec


def tesseract_version() -> str:
    return subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]


def run_tesseract(lang: str, paths: list[Path], per_image: bool, workdir: Path) -> tuple[list[str], float]:
    """(raw texts, seconds): ``tesseract ... --psm 7 -l LANG`` with OMP_THREAD_LIMIT=1."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    t0 = time.perf_counter()
    if per_image:
        texts = [subprocess.run(["tesseract", str(p), "stdout", "--psm", "7", "-l", lang], env=env,
                                capture_output=True, text=True, check=True).stdout for p in paths]
    else:
        lst = workdir / "tesseract_list.txt"
        lst.write_text("".join(f"{p.resolve()}\n" for p in paths), encoding="utf-8")
        out = subprocess.run(["tesseract", str(lst), "stdout", "--psm", "7", "-l", lang], env=env,
                             capture_output=True, text=True, check=True)
        texts = out.stdout.split("\f")[: len(paths)]
        if len(texts) != len(paths):
            raise SystemExit(f"tesseract returned {len(texts)} pages for {len(paths)} images")
    return texts, time.perf_counter() - t0


def tesseract_page_tsv(image: str | Path, lang: str) -> str:
    """Tesseract 5's TSV output for a whole page (its own layout, ``--psm 3``), one thread."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    return subprocess.run(["tesseract", str(image), "stdout", "-l", lang, "--psm", "3", "tsv"], env=env,
                          capture_output=True, text=True, check=True).stdout


def tesseract_page(tsv: str, index: int = 0, source: str = "") -> Page:
    """A Page from Tesseract's TSV: level-4 rows are lines (their boxes), level-5 rows their words, in its order."""
    width = height = 0
    blocks: dict[str, list[tuple[str, str, str]]] = {}
    boxes: dict[tuple[str, str, str], list[float]] = {}
    words: dict[tuple[str, str, str], list[tuple[str, float]]] = {}
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12:
            continue
        level, key = f[0], (f[2], f[3], f[4])
        x, y, w, h = (float(v) for v in f[6:10])
        if level == "1":
            width, height = int(w), int(h)
        elif level == "4":
            boxes[key] = [x, y, x + w, y + h]
            blocks.setdefault(f[2], []).append(key)
        elif level == "5" and f[11].strip():
            words.setdefault(key, []).append((f[11], float(f[10]) / 100))

    def line(key: tuple[str, str, str]) -> Line:
        found = words.get(key, [])
        conf = sum(c for _, c in found) / len(found) if found else 0.0
        return Line(box_polygon(*boxes[key]), " ".join(t for t, _ in found), conf)

    return Page(index, width, height, source, blocks=[Block.around([line(k) for k in b]) for b in blocks.values()])


def score(preds: list[str], refs: list[str], script: str | None) -> dict:
    """CER raw / folded, each with and without spaces, and line accuracy (both sides normalized)."""
    p = [normalize(x, script) for x in preds]
    r = [normalize(x, script) for x in refs]
    pf = [fold_visual(x, script) for x in p]
    rf = [fold_visual(x, script) for x in r]

    def nospace(xs: list[str]) -> list[str]:
        return [x.replace(" ", "") for x in xs]

    return {"cer": M.cer(p, r), "cer_folded": M.cer(pf, rf),
            "cer_nospace": M.cer(nospace(p), nospace(r)), "cer_folded_nospace": M.cer(nospace(pf), nospace(rf)),
            "line_accuracy": M.line_accuracy(p, r), "line_accuracy_nospace": M.line_accuracy(nospace(p), nospace(r))}


__all__ = ["TESSERACT_LANGS", "tesseract_page", "tesseract_page_tsv", "load_lines", "onnx_model", "run_aksar", "run_tesseract", "tesseract_version",
           "score"]
