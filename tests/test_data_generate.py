"""`aksar generate`: layout, determinism, shards, and resume after SIGKILL."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aksar.data.journal import png_complete
from aksar.data.readers import decode_image, open_dataset
from aksar.text.corpus import read_split

pytestmark = pytest.mark.xdist_group("data")

FONTS = ["--font", "Khmer OS", "--font", "Noto Sans Khmer", "--font", "Khmer OS Siemreap"]


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".journal" not in p.parts}


def _check_complete(out: Path, split: str, lines: list[str], n: int) -> None:
    images = sorted((out / split / "images").iterdir())
    labels = sorted((out / split / "labels").iterdir())
    assert [p.name for p in images] == [f"{split}_{i:06d}.png" for i in range(n)]
    assert [p.name for p in labels] == [f"{split}_{i:06d}.txt" for i in range(n)]
    for i, (img, lbl) in enumerate(zip(images, labels)):
        assert png_complete(img) and decode_image(img).shape[0] == 32
        assert lbl.read_text(encoding="utf-8") == lines[i] + "\n"
    meta = json.loads((out / split / "metadata.json").read_text(encoding="utf-8"))
    assert meta["total_samples"] == n and [s["index"] for s in meta["samples"]] == list(range(n))
    assert all(s["text"] == lines[s["index"]] and s["font"] for s in meta["samples"])
    tsv = (out / split / "labels.tsv").read_text(encoding="utf-8").splitlines()
    assert tsv[3] == f"images/{split}_000003.png\t{lines[3]}"


def test_generate_killed_with_sigkill_then_rerun_completes(run_cli, tmp_path, khmer_corpus_dir):
    out = tmp_path / "synthetic"
    n = 150
    args = ["generate", "--corpus-dir", khmer_corpus_dir, "--output-dir", out, "--splits", "train", "val",
            "--max-lines", str(n), "--workers", "1", "--seed", "5", *FONTS]
    proc = subprocess.Popen([sys.executable, "-m", "aksar", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    labels = out / "train" / "labels"
    deadline = time.time() + 120
    while time.time() < deadline:
        if labels.is_dir() and len(list(labels.glob("*.txt"))) >= 10:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "train" / "metadata.json").exists(), "the run finished before it could be killed"
    done_before = len(list(labels.glob("*.txt")))
    assert 10 <= done_before < n
    # more damage of the kind a crash leaves: a truncated image under a label, an orphan image, a temp file
    victim = out / "train" / "images" / "train_000002.png"
    victim.write_bytes(victim.read_bytes()[:100])
    (out / "train" / "images" / f"train_{n - 1:06d}.png").write_bytes(b"\x89PNG partial")
    (out / "train" / "images" / ".train_000009.png.abc.tmp").write_bytes(b"junk")

    result = run_cli([*args, "--json"], check=True)
    summary = json.loads(result.stdout)
    train = summary["splits"]["train"]
    assert train["complete"] and train["already_done"] >= done_before - 1
    assert train["rendered"] + train["already_done"] == n and train["removed_broken"] >= 3
    for split in ("train", "val"):
        _check_complete(out, split, read_split(khmer_corpus_dir, split), n)
    assert not list((out / "train" / "images").glob(".*.tmp"))
    gen = json.loads((out / "generation_metadata.json").read_text(encoding="utf-8"))
    assert gen["total_images"] == 2 * n and gen["corpus_hash"] and len(gen["fonts"]) == 3
    assert gen["splits"]["train"]["augmentation_applied"] and not gen["splits"]["val"]["augmentation_applied"]

    # byte-identical to an uninterrupted run with other workers and shards (same seed, same indices)
    ref = tmp_path / "ref"
    ref_args = ["generate", "--corpus-dir", khmer_corpus_dir, "--output-dir", ref, "--splits", "train",
                "--max-lines", "12", "--seed", "5", *FONTS]
    r0 = run_cli([*ref_args, "--workers", "0", "--shard", "1/2"], check=True)
    assert "incomplete, 6 missing" in r0.stdout and not (ref / "train" / "metadata.json").exists()
    run_cli([*ref_args, "--workers", "2", "--shard", "0/2"], check=True)
    ref_files = _files(ref / "train" / "images")
    out_files = _files(out / "train" / "images")
    assert len(ref_files) == 12 and all(out_files[k] == v for k, v in ref_files.items())
    ref_meta = json.loads((ref / "train" / "metadata.json").read_text(encoding="utf-8"))["samples"]
    out_meta = json.loads((out / "train" / "metadata.json").read_text(encoding="utf-8"))["samples"][:12]
    assert ref_meta == out_meta

    # --stats reads what exists; the split folders open as datasets
    stats = run_cli(["generate", "--output-dir", out, "--stats", "--json"], check=True)
    s = json.loads(stats.stdout)["datasets"]
    assert s["train"]["usable"] == n and s["val"]["usable"] == n and not s["train"]["errors"]
    assert len(open_dataset(out / "val")) == n


def test_generate_no_augment_and_bad_options(run_cli, tmp_path, khmer_corpus_dir):
    out = tmp_path / "plain"
    base = ["generate", "--corpus-dir", khmer_corpus_dir, "--output-dir", out, "--splits", "train",
            "--max-lines", "6", "--workers", "0", *FONTS]
    run_cli([*base, "--no-augment"], check=True)
    meta = json.loads((out / "train" / "metadata.json").read_text(encoding="utf-8"))
    assert not meta["augmentation_applied"] and all(s["augment"] == [] for s in meta["samples"])
    bad = run_cli([*base, "--shard", "3/2"])
    assert bad.returncode == 2 and "--shard" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli(["generate", "--corpus-dir", tmp_path / "nope", "--output-dir", out, "--workers", "0"])
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_generate_thai_corpus_api(tmp_path, thai_corpus_dir):
    from aksar.data.generate import GenerateConfig, generate
    from aksar.render.synth import SynthConfig

    cfg = GenerateConfig(corpus_dir=str(thai_corpus_dir), output_dir=str(tmp_path / "th"), splits=["test"],
                         max_lines=5, workers=0, synth=SynthConfig(fonts=["Garuda", "Loma"]))
    result = generate(cfg)
    assert result["splits"]["test"]["complete"] and result["rendered"] == 5
    lines = read_split(thai_corpus_dir, "test")
    _check_complete(tmp_path / "th", "test", lines, 5)
    meta = json.loads((tmp_path / "th" / "test" / "metadata.json").read_text(encoding="utf-8"))
    assert set(meta["fonts_used"]) <= {"Garuda", "Loma"}
