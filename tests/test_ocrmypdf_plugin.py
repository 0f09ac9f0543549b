"""The OCRmyPDF plugin: `ocrmypdf --plugin aksar.ocrmypdf_plugin` (a real OCRmyPDF run, no Tesseract or
Ghostscript on its path) adds aksar's text layer to a scanned PDF; the text PDFium extracts from the result is
what `aksar ocr` reads on the same page (OCRmyPDF rasterizes the page itself, so a few characters may differ)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from test_ocr_e2e import pdf_page_texts, squash

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "eval" / "khmer" / "pages_degraded" / "images" / "test_000000.jpg"

pytestmark = pytest.mark.skipif(shutil.which("ocrmypdf", path=str(Path(sys.executable).parent)) is None,
                                reason="ocrmypdf is not installed (pip install aksar[ocrmypdf]; make setup installs it)")


def test_ocrmypdf_with_the_aksar_plugin(tmp_path, run_cli):
    scan = tmp_path / "scan.pdf"
    Image.open(PAGE).convert("RGB").save(scan, "PDF", resolution=150.0)
    out = tmp_path / "out.pdf"
    proc = subprocess.run([str(Path(sys.executable).parent / "ocrmypdf"), "--plugin", "aksar.ocrmypdf_plugin",
                           "--pdf-renderer", "sandwich", "--output-type", "pdf", "--rasterizer", "pypdfium",
                           "--optimize", "0", "-l", "khm", str(scan), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [text] = pdf_page_texts(out)
    ours = run_cli(["ocr", scan, "--format", "json", "--dpi", "150", "--output-dir", tmp_path / "aksar",
                    "--threads", "1", "--no-progress"])
    assert ours.returncode == 0, ours.stderr
    doc = json.loads((tmp_path / "aksar" / "scan.json").read_text(encoding="utf-8"))
    want = "".join(ln["text"] for b in doc["pages"][0]["blocks"] for ln in b["lines"])
    assert len(squash(want)) > 500
    assert Levenshtein.normalized_distance(squash(text), squash(want)) < 0.1
    row = (PAGE.parents[1] / "det_labels.txt").read_text(encoding="utf-8").splitlines()[0]
    truth = squash("".join(r["transcription"] for r in json.loads(row.split("\t", 1)[1])))
    assert Levenshtein.distance(truth, squash(text)) / len(truth) < 0.25  # measured 0.10 (a degraded page)
