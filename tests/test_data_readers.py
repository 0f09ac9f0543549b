"""Readers (labels.tsv / PaddleOCR lists, LMDB), safe image loading, stats and to-lmdb."""
from __future__ import annotations

import json

import lmdb
import numpy as np
import pytest
import torch
from PIL import Image

from aksar.core.errors import AksarError
from aksar.data.collate import Collate
from aksar.data.preprocess import PreprocessConfig
from aksar.data.readers import LabelFileDataset, LmdbDataset, decode_image, open_dataset


def test_label_list_reads_images_and_texts(label_dir, rendered_lines):
    ds = open_dataset(label_dir)
    assert isinstance(ds, LabelFileDataset) and len(ds) == len(rendered_lines)
    for i, ref in enumerate(rendered_lines):
        item = ds[i]
        assert item["text"] == ref["text"]
        assert np.array_equal(item["image"], ref["image"])
    assert not ds.errors


def test_paddleocr_list_with_root_and_escapes_refused(tmp_path, label_dir):
    # a PaddleOCR list elsewhere, paths relative to a given root; hostile paths are refused and counted
    lst = tmp_path / "train_list.txt"
    lst.write_text("images/000.png\tក\n/etc/passwd\tx\n../secret.png\ty\nimages/../../ds2/x.png\tz\n"
                   "no tab here\n\nimages/001.png\t\n", encoding="utf-8")
    ds = LabelFileDataset(lst, root=label_dir)
    assert len(ds) == 1 and ds[0]["text"] == "ក"
    assert ds.errors == {"path_outside_root": 3, "malformed_line": 1, "empty_label": 1}
    assert any("train_list.txt:2" in p for p in ds.problems)


def test_bad_images_are_skipped_counted_and_named(label_dir):
    (label_dir / "images" / "001.png").unlink()                       # missing
    data = (label_dir / "images" / "002.png").read_bytes()
    (label_dir / "images" / "002.png").write_bytes(data[: len(data) // 2])  # truncated
    (label_dir / "images" / "003.png").write_bytes(b"not an image at all")  # corrupt
    ds = open_dataset(label_dir)
    items = [ds[i] for i in range(len(ds))]
    assert [it is None for it in items] == [False, True, True, True, False, False]
    assert ds.errors["missing_image"] == 1 and ds.errors["truncated_image"] + ds.errors["corrupt_image"] == 2
    assert any("002.png" in p for p in ds.problems) and any("003.png" in p for p in ds.problems)
    # a DataLoader epoch never crashes on them: Collate drops and counts
    loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=Collate(PreprocessConfig()))
    batches = list(loader)
    assert sum(b["images"].shape[0] for b in batches) == 3 and sum(b["dropped"] for b in batches) == 3


def test_decompression_bomb_refused(tmp_path):
    big = tmp_path / "bomb.png"
    Image.new("L", (9000, 9000), 255).save(big)  # 81 Mpx of blank: tiny file, huge decode
    from aksar.data.readers import BadImage

    with pytest.raises(BadImage) as exc:
        decode_image(big)
    assert exc.value.reason == "too_large_image"
    assert decode_image(big, max_pixels=10**9).shape == (9000, 9000)


def test_lmdb_roundtrip_via_cli(run_cli, tmp_path, label_dir, rendered_lines):
    (label_dir / "images" / "004.png").write_bytes(b"garbage")
    out = tmp_path / "lmdb"
    proc = run_cli(["dataset", "to-lmdb", label_dir, out], check=True)
    assert "wrote 5 samples" in proc.stdout and "corrupt_image=1" in proc.stdout
    env = lmdb.open(str(out), readonly=True, lock=False)
    with env.begin() as txn:  # the PaddleOCR / PARSeq key layout
        assert txn.get(b"num-samples") == b"5"
        assert txn.get(b"label-000000001").decode() == rendered_lines[0]["text"]
        assert txn.get(b"image-000000001") == (label_dir / "images" / "000.png").read_bytes()
    env.close()
    ds = open_dataset(out)
    assert isinstance(ds, LmdbDataset) and len(ds) == 5
    assert [ds[i]["text"] for i in range(5)] == [rendered_lines[i]["text"] for i in (0, 1, 2, 3, 5)]
    assert np.array_equal(ds[4]["image"], rendered_lines[5]["image"])
    # works in DataLoader workers (env opened per process)
    loader = torch.utils.data.DataLoader(ds, batch_size=5, num_workers=1, collate_fn=Collate())
    assert next(iter(loader))["texts"] == [ds[i]["text"] for i in range(5)]
    assert run_cli(["dataset", "to-lmdb", label_dir, out]).returncode == 2  # never overwrites


def test_stats_cli_reports_counts_lengths_and_bad_files(run_cli, label_dir, rendered_lines):
    (label_dir / "images" / "003.png").write_bytes(b"broken")
    (label_dir / "charset.txt").write_text("\n".join(sorted(set("".join(DATA := [
        it["text"] for it in rendered_lines[:2]])))) + "\n", encoding="utf-8")
    proc = run_cli(["dataset", "stats", label_dir, "--json"], check=True)
    stats = json.loads(proc.stdout)
    s = next(iter(stats["datasets"].values()))
    assert s["usable"] == 5 and s["errors"] == {"corrupt_image": 1}
    assert any("003.png" in p for p in s["problems"])
    lengths = [len(it["text"]) for i, it in enumerate(rendered_lines) if i != 3]
    assert s["label_length"]["max"] == max(lengths) and s["label_length"]["min"] == min(lengths)
    assert s["image_height"]["min"] == s["image_height"]["max"] == rendered_lines[0]["image"].shape[0]
    cov = s["charset_coverage"]
    assert cov["labels_fully_covered"] == 2 and cov["unknown_characters"]
    text = run_cli(["dataset", "stats", label_dir], check=True).stdout
    assert "5 usable of 6 listed" in text and "corrupt_image=1" in text


def test_open_dataset_errors_name_the_path(tmp_path):
    with pytest.raises(AksarError, match="not found"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AksarError, match="not a dataset"):
        open_dataset(tmp_path / "empty")
