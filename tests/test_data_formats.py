"""Datasets users already have: tesstrain folders, trdg output, docTR labels.json; same safety as
the other readers (paths out refused, corrupt images and bad entries counted with a reason)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aksar.core.errors import AksarError
from aksar.data.formats import DoctrDataset, TesstrainDataset, TrdgDataset
from aksar.data.render_pool import encode_png
from aksar.data.readers import open_dataset


@pytest.fixture
def tesstrain_dir(tmp_path, rendered_lines) -> Path:
    """line_0..3 as .png/.tif with .gt.txt, plus: a gt without image, a corrupt image, a symlink out, a
    two-line gt."""
    d = tmp_path / "khm-ground-truth"
    d.mkdir()
    for i, it in enumerate(rendered_lines[:4]):
        name = f"line_{i}"
        if i == 1:
            Image.fromarray(it["image"]).save(d / f"{name}.tif")
        else:
            (d / f"{name}.png").write_bytes(encode_png(it["image"]))
        (d / f"{name}.gt.txt").write_text(it["text"] + "\n", encoding="utf-8")
    (d / "no_image.gt.txt").write_text("ក\n", encoding="utf-8")
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (d / "corrupt.gt.txt").write_text("ខ\n", encoding="utf-8")
    outside = tmp_path / "outside.png"
    outside.write_bytes(encode_png(rendered_lines[4]["image"]))
    (d / "linked.png").symlink_to(outside)
    (d / "linked.gt.txt").write_text("គ\n", encoding="utf-8")
    (d / "two.png").write_bytes(encode_png(rendered_lines[5]["image"]))
    (d / "two.gt.txt").write_text("ឃ\nង\n", encoding="utf-8")
    return d


def test_tesstrain_folder(tesstrain_dir, rendered_lines):
    ds = open_dataset(tesstrain_dir)
    assert isinstance(ds, TesstrainDataset)
    assert ds.texts() == ["ខ"] + [it["text"] for it in rendered_lines[:4]]  # sorted by name: corrupt, line_*
    assert ds.errors == {"missing_image": 1, "path_outside_root": 1, "multi_line_label": 1}
    assert any("no_image.gt.txt" in p for p in ds.problems) and any("linked.gt.txt" in p for p in ds.problems)
    assert ds[0] is None and ds.errors["corrupt_image"] == 1  # counted when read, epoch goes on
    for i, ref in enumerate(rendered_lines[:4], 1):
        assert np.array_equal(ds[i]["image"], ref["image"]) and ds[i]["text"] == ref["text"]
    allowed = open_dataset(tesstrain_dir, allow_outside_root=True)
    assert "គ" in allowed.texts() and "path_outside_root" not in allowed.errors


def test_trdg_output(tmp_path, rendered_lines):
    d = tmp_path / "out"
    d.mkdir()
    lines = []
    for i, it in enumerate(rendered_lines[:3]):
        Image.fromarray(it["image"]).save(d / f"{i}.jpg", quality=95)
        lines.append(f"{i}.jpg {it['text']}")  # trdg --name_format 2: "FILE TEXT", texts may hold spaces
    lines += ["3.jpg ក", "../x.jpg ខ", "nospace", "4.jpg "]
    (d / "labels.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (d / "3.jpg").write_bytes(b"")  # empty file: corrupt
    ds = open_dataset(d)
    assert isinstance(ds, TrdgDataset) and open_dataset(d / "labels.txt").texts() == ds.texts()
    assert ds.texts() == [it["text"] for it in rendered_lines[:3]] + ["ក"]
    assert " " in ds.texts()[2]
    assert ds.errors == {"path_outside_root": 1, "malformed_line": 1, "empty_label": 1}
    assert [it is None for it in ds] == [False, False, False, True] and ds.errors["corrupt_image"] == 1
    assert ds[0]["image"].shape == rendered_lines[0]["image"].shape


def test_doctr_labels_json(tmp_path, rendered_lines):
    d = tmp_path / "doctr"
    (d / "images").mkdir(parents=True)
    labels = {}
    for i, it in enumerate(rendered_lines[:3]):
        (d / "images" / f"img_{i}.png").write_bytes(encode_png(it["image"]))
        labels[f"img_{i}.png"] = it["text"]
    labels.update({"missing.png": "ក", "/etc/hostname": "ខ", "bad.png": 3})
    (d / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    ds = open_dataset(d)
    assert isinstance(ds, DoctrDataset) and len(ds) == 4
    assert ds.errors == {"path_outside_root": 1, "malformed_entry": 1}
    assert [ds[i]["text"] for i in range(3)] == [it["text"] for it in rendered_lines[:3]]
    assert ds[3] is None and ds.errors["missing_image"] == 1
    (d / "labels.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(AksarError, match="labels.json: expected a JSON object"):
        open_dataset(d)


def test_stats_count_every_listed_entry(tesstrain_dir):
    from aksar.data.stats import dataset_stats

    s = dataset_stats(tesstrain_dir, show_progress=False)["datasets"][tesstrain_dir.name]
    assert s["kind"] == "TesstrainDataset" and s["listed"] == 8 and s["usable"] == 4
    assert s["errors"] == {"missing_image": 1, "path_outside_root": 1, "multi_line_label": 1, "corrupt_image": 1}


def test_unknown_folder_names_the_formats(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.png").write_bytes(b"")
    with pytest.raises(AksarError, match=r"tesstrain"):
        open_dataset(tmp_path / "x")
