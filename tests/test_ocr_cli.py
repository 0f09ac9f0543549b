"""`aksar ocr`: pages in, txt + json out (the JSON reads back as the same Document), an owned output
folder, unreadable inputs of a folder reported, foreign folders and files left alone."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from aksar.infer.document import Document
from test_reader import det_model, synthetic_page  # noqa: F401  (the detector fixture)


def test_ocr_writes_txt_and_json(run_cli, det_model, khmer_lines, tmp_path):  # noqa: F811
    pages = tmp_path / "in"
    pages.mkdir()
    images = [Image.fromarray(synthetic_page(khmer_lines, 1, seed=s).image) for s in (7, 8)]
    images[0].save(pages / "scan.tif", save_all=True, append_images=images[1:])
    images[0].save(pages / "scan.png")  # read first (by name): scan.*; the TIFF then gets scan_tif.*
    (pages / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    proc = run_cli(["ocr", pages, "--det", det_model, "--format", "txt,json", "--output-dir", out, "--threads",
                    "1", "--no-progress"])
    assert proc.returncode == 0, proc.stderr
    assert "3 pages" in proc.stdout and "1 input(s) skipped" in proc.stdout
    assert "torn.png" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ocr_outputs.json", "scan.json", "scan.txt", "scan_tif.json",
                                                     "scan_tif.txt"]
    doc = Document.from_dict(json.loads((out / "scan_tif.json").read_text(encoding="utf-8")))
    assert [p.source_page for p in doc.pages] == [0, 1] and doc.models["recognizer"]["script"] == "khmer"
    assert (out / "scan_tif.txt").read_text(encoding="utf-8") == doc.text() + "\n"
    assert doc.to_dict() == json.loads((out / "scan_tif.json").read_text(encoding="utf-8"))
    single = Document.from_dict(json.loads((out / "scan.json").read_text(encoding="utf-8")))
    assert single.pages[0].text() == doc.pages[0].text()  # the same page read alone
    assert "\f" in doc.text() and doc.pages[0].lines

    # a second run into its own folder replaces its files; a file it did not write stops it
    again = run_cli(["ocr", pages / "scan.png", "--det", det_model, "--output-dir", out, "--no-progress"])
    assert again.returncode == 0, again.stderr
    (out / "other.txt").write_text("mine")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "scan.txt").write_text("not aksar's")
    refused = run_cli(["ocr", pages / "scan.png", "--det", det_model, "--output-dir", foreign, "--no-progress"])
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    forced = run_cli(["ocr", pages / "scan.png", "--det", det_model, "--output-dir", foreign, "--overwrite",
                      "--no-progress"])
    assert forced.returncode == 2 and "was not written by aksar ocr" in forced.stderr
    assert (foreign / "scan.txt").read_text() == "not aksar's"


def test_ocr_refuses_an_unknown_format(run_cli, tmp_path):
    png = tmp_path / "p.png"
    Image.new("L", (50, 50), 255).save(png)
    proc = run_cli(["ocr", png, "--format", "txt,docx", "--output-dir", tmp_path / "o"])
    assert proc.returncode == 2 and "docx" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_ocr_refuses_a_drop_score_outside_0_to_1(run_cli, tmp_path):
    png = tmp_path / "p.png"
    Image.new("L", (50, 50), 255).save(png)
    proc = run_cli(["ocr", png, "--drop-score", "1.5", "--output-dir", tmp_path / "o", "--no-progress"])
    assert proc.returncode == 2 and "drop_score" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
