"""`aksar valset`: byte-identical rebuilds, recorded sha256, --validate-only naming bad files."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from aksar.data.preprocess import PreprocessConfig, resize_to_height
from aksar.data.readers import LabelFileDataset, open_dataset
from aksar.text.corpus import read_split

pytestmark = pytest.mark.xdist_group("data")

N = 24


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_valset_identical_twice_and_validate_only(run_cli, tmp_path, khmer_corpus_dir):
    a, b = tmp_path / "a", tmp_path / "b"
    base = ["valset", "--corpus-dir", khmer_corpus_dir, "--num-samples", str(N), "--random-seed", "42"]
    run_cli([*base, "--output-dir", a, "--workers", "2"], check=True)
    run_cli([*base, "--output-dir", b, "--workers", "0"], check=True)
    ha, hb = _hashes(a), _hashes(b)
    assert len(ha) == 2 * N + 3 and ha == hb  # images, labels, labels.tsv, validation_texts.txt, metadata.json
    for name in ("labels.tsv", "validation_texts.txt", "metadata.json"):
        assert name in ha

    meta = json.loads((a / "metadata.json").read_text(encoding="utf-8"))
    val_lines = set(read_split(khmer_corpus_dir, "val"))
    assert meta["num_samples"] == N and meta["config"]["random_seed"] == 42 and not meta["augmentation_applied"]
    assert all(s["augment"] == [] and s["text"] in val_lines for s in meta["samples"])
    assert len({s["text"] for s in meta["samples"]}) == N  # drawn without repetition
    assert all(ha[s["image_path"]] == s["image_sha256"] and ha[s["label_path"]] == s["label_sha256"]
               for s in meta["samples"])
    assert (a / "validation_texts.txt").read_text(encoding="utf-8").splitlines() == [s["text"] for s in meta["samples"]]

    ds = open_dataset(a)
    assert isinstance(ds, LabelFileDataset) and len(ds) == N and ds[5]["text"] == meta["samples"][5]["text"]
    cfg = PreprocessConfig(height=32, max_width=100)
    assert ds.widths(cfg) == [resize_to_height(ds[i]["image"], cfg)[0].shape[1] for i in range(N)]

    ok = run_cli(["valset", "--validate-only", "--output-dir", a], check=True)
    assert f"OK, {N} images" in ok.stdout

    (a / "images" / "val_000003.png").write_bytes(b"\x89PNG corrupt")
    (a / "labels" / "val_000007.txt").unlink()
    (a / "labels" / "val_000011.txt").write_text("wrong\n", encoding="utf-8")
    bad = run_cli(["valset", "--validate-only", "--output-dir", a])
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "3 problem(s)" in bad.stderr
    for name in ("val_000003.png", "val_000007.txt", "val_000011.txt"):
        assert name in bad.stderr

    # a different seed gives a different set; rebuilding over a damaged set repairs it exactly
    run_cli([*base, "--output-dir", a, "--workers", "0"], check=True)
    assert _hashes(a) == hb
    c = tmp_path / "c"
    run_cli([*base[:-1], "7", "--output-dir", c, "--workers", "0"], check=True)
    assert _hashes(c)["validation_texts.txt"] != hb["validation_texts.txt"]


def test_valset_refuses_foreign_output_dir(run_cli, tmp_path, khmer_corpus_dir):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    proc = run_cli(["valset", "--corpus-dir", khmer_corpus_dir, "--num-samples", "2", "--output-dir", out,
                    "--workers", "0"])
    assert proc.returncode == 2 and "not a validation set" in proc.stderr
    assert (out / "precious.txt").read_text() == "keep me"
    missing = run_cli(["valset", "--validate-only", "--output-dir", tmp_path / "none"])
    assert missing.returncode == 2 and "metadata.json" in missing.stderr
