"""`aksar corpus build`, `aksar charset build/audit` through the real CLI."""
from __future__ import annotations

import json

import pytest


@pytest.mark.xdist_group("text_cli")
def test_corpus_build_from_files_reports_bad_input(tmp_path, run_cli, khmer_lines):
    src = tmp_path / "in.txt"
    src.write_bytes(("\n".join(khmer_lines[:300]) + "\n").encode() + b"\xff bad\n\xe2\x80\x8b\n")
    out = tmp_path / "corpus"
    proc = run_cli(["corpus", "build", "--input", src, "--output-dir", out, "--no-progress"], check=True)
    assert "Traceback" not in proc.stderr
    assert "kept           300" in proc.stdout
    assert "invalid_utf8             1" in proc.stdout and "invisible_only           1" in proc.stdout
    assert f"{src}:301" in proc.stdout
    stats = json.loads((out / "stats.json").read_text())
    assert stats["script"] == "khmer" and stats["kept"] == 300        # script detected from the input
    assert {p.name for p in out.iterdir()} >= {"train.txt", "val.txt", "test.txt", "charset.txt", "stats.json"}

    proc = run_cli(["corpus", "stats", out], check=True)
    assert "kept           300" in proc.stdout


@pytest.mark.xdist_group("text_cli")
def test_corpus_build_errors_without_traceback(tmp_path, run_cli):
    proc = run_cli(["corpus", "build", "--input", tmp_path / "missing.txt", "--output-dir", tmp_path / "o"])
    assert proc.returncode == 2
    assert f"error: input file not found: {tmp_path / 'missing.txt'}" in proc.stderr
    assert "Traceback" not in proc.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("\u200b\n\n", encoding="utf-8")
    proc = run_cli(["corpus", "build", "--input", empty, "--script", "thai", "--output-dir", tmp_path / "o"])
    assert proc.returncode == 2 and "error: empty corpus" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.xdist_group("text_cli")
def test_charset_build_and_audit(tmp_path, run_cli, thai_corpus_dir, khmer_lines):
    dict_file = tmp_path / "thai_dict.txt"
    run_cli(["charset", "build", "--input", thai_corpus_dir, "--output", dict_file, "--extra"], check=True)
    tokens = dict_file.read_text(encoding="utf-8").split("\n")[:-1]
    assert "ก" in tokens and " " in tokens
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("ภาษาไทย\n" + khmer_lines[0] + "\n", encoding="utf-8")
    report_file = tmp_path / "audit.json"
    proc = run_cli(["charset", "audit", "--charset", dict_file, "--input", mixed, "--json", report_file,
                    "--strict"])
    assert proc.returncode == 1
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["lines_with_missing"] == 1
    assert sum(m["count"] for m in report["missing"]) == report["missing_chars"] > 0
    first = report["missing"][0]
    assert f"{first['count']:>8,}" in proc.stdout and first["codepoints"] in proc.stdout
    proc = run_cli(["charset", "audit", "--charset", dict_file, "--input", thai_corpus_dir], check=True)
    assert "all characters are covered" in proc.stdout
