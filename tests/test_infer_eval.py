"""`aksar eval`: metrics raw and folded, error analysis consistent with the counts, breakdown by font,
self-contained HTML; and the orthography repair of predictions."""
from __future__ import annotations

import json

import pytest

from aksar.infer.recognizer import valid_orthography
from aksar.text import metrics as M

pytestmark = pytest.mark.xdist_group("train")


def test_cli_eval_report(exported_onnx, trained_checkpoint, train_data, run_cli, tmp_path):
    out = tmp_path / "rep"
    proc = run_cli(["eval", exported_onnx[0], train_data["val"], "--out-dir", out, "--threads", "1",
                    "--no-progress"], check=True)
    assert "cer" in proc.stdout and "folded" in proc.stdout
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    lines = rep["lines"]
    assert rep["dataset"]["evaluated"] == len(lines) == 16
    preds, refs = [ln["pred"] for ln in lines], [ln["ref"] for ln in lines]
    assert rep["metrics"]["raw"]["cer"] == pytest.approx(M.cer(preds, refs))
    assert rep["metrics"]["raw"]["line_accuracy"] == pytest.approx(M.line_accuracy(preds, refs))
    assert set(rep["metrics"]["folded"]) == set(rep["metrics"]["raw"])
    e = rep["errors"]
    ref_chars = sum(len(r) for r in refs)
    assert e["matches"] + e["substitutions"] + e["deletions"] == ref_chars
    assert e["substitutions"] + e["deletions"] + e["insertions"] == sum(ln["edits"] for ln in lines)
    assert sum(c["count"] for c in rep["per_char"]) == ref_chars
    fonts = rep["breakdown"]["font"]  # from the valset's metadata.json
    assert sum(r["lines"] for r in fonts) == 16 and len(fonts) >= 1
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "folded" in html
    assert 'src="http' not in html and "<script src" not in html
    # the checkpoint gives the same report numbers as its export
    ck = tmp_path / "rep_ck"
    run_cli(["eval", trained_checkpoint, train_data["val"], "--out-dir", ck, "--no-progress"], check=True)
    rep_ck = json.loads((ck / "report.json").read_text(encoding="utf-8"))
    assert [ln["pred"] for ln in rep_ck["lines"]] == preds


def test_valid_orthography_drops_orphan_marks_and_reorders():
    # a vowel sign at the start of the line and after a space has no base
    assert valid_orthography("\u17b6\u1780\u17b6 \u17b7\u1781") == ("\u1780\u17b6 \u1781", True)
    # a trailing COENG has no consonant to subscript
    assert valid_orthography("\u1780\u17d2") == ("\u1780", True)
    # vowel typed before the COENG + consonant: normalize puts the subscript first
    text, repaired = valid_orthography("\u1780\u17b6\u17d2\u179a")
    assert text == "\u1780\u17d2\u179a\u17b6" and not repaired
