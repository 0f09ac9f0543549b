"""`aksar generate --format webdataset` and streaming training from the tar shards."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from aksar.core.errors import AksarError
from aksar.data.collate import Collate
from aksar.data.generate import GenerateConfig, generate
from aksar.data.onthefly import make_train_loader, set_loader_epoch
from aksar.data.readers import open_dataset
from aksar.data.wds_write import tar_bytes
from aksar.data.shards import expand_braces, iter_samples
from aksar.data.webdataset import ShardStream
from aksar.text.corpus import read_split
from fixtures.train import TINY_HEIGHT, tiny_config_dict, tiny_synth

pytestmark = pytest.mark.xdist_group("train")

SHARD = 8


def _generate(corpus: Path, out: Path, **kw) -> dict:
    cfg = dict(corpus_dir=str(corpus), output_dir=str(out), splits=["train"], workers=0, seed=3, format="webdataset",
               shard_size=SHARD, synth=tiny_synth())
    cfg.update(kw)
    return generate(GenerateConfig(**cfg))


@pytest.fixture(scope="module")
def shards(train_data, tmp_path_factory) -> Path:
    """The train split of the tiny corpus (first 96 lines) as 12 shards of 8 samples."""
    out = tmp_path_factory.mktemp("wds") / "data"
    _generate(train_data["corpus"], out, max_lines=96)
    return out / "train"


def _tars(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar"))}


def test_generate_writes_webdataset_shards_byte_for_byte_and_resumes(shards, train_data, tmp_path):
    lines = read_split(train_data["corpus"], "train")
    index = json.loads((shards / "index.json").read_text(encoding="utf-8"))
    assert index["kind"] == "aksar-webdataset" and index["total_samples"] == 96 and index["seed"] == 3
    assert [s["name"] for s in index["shards"]] == [f"train_{k:06d}.tar" for k in range(12)]
    assert index["charset"]["size"] > 0 and index["skipped_unrenderable"] == 0
    with tarfile.open(shards / "train_000001.tar") as tar:
        members = tar.getmembers()
        assert [m.name for m in members[:3]] == ["train_000008.png", "train_000008.txt", "train_000008.json"]
        assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in members} == {(0, 0, 0, "", 0o644)}
        assert tar.extractfile("train_000008.txt").read().decode() == lines[8]
        meta = json.loads(tar.extractfile("train_000008.json").read())
        assert meta["index"] == 8 and meta["text"] == lines[8] and meta["font"]
        png = tar.extractfile("train_000008.png").read()
    # the same pixels as the files layout of generate for that seed
    files = tmp_path / "files"
    generate(GenerateConfig(corpus_dir=str(train_data["corpus"]), output_dir=str(files), splits=["train"],
                            workers=0, seed=3, max_lines=9, synth=tiny_synth()))
    assert (files / "train" / "images" / "train_000008.png").read_bytes() == png
    # one seed reproduces every shard byte for byte; a lost shard is rendered again, identical
    again = tmp_path / "again"
    _generate(train_data["corpus"], again, max_lines=96)
    assert _tars(again / "train") == _tars(shards)
    (again / "train" / "train_000005.tar").unlink()
    result = _generate(train_data["corpus"], again, max_lines=96)
    assert result["rendered"] == SHARD and result["already_done"] == 96 - SHARD
    assert _tars(again / "train") == _tars(shards)
    # resuming with another shard size would mix layouts: refused, naming the key
    with pytest.raises(AksarError, match="shard_size"):
        _generate(train_data["corpus"], again, max_lines=96, shard_size=4)
    # never writes into a folder generate did not create
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(AksarError, match="not empty"):
        _generate(train_data["corpus"], foreign, max_lines=8)


def test_cli_format_webdataset(run_cli, train_data, tmp_path):
    out = tmp_path / "cli"
    result = run_cli(["generate", "--corpus-dir", train_data["corpus"], "--output-dir", out, "--format", "webdataset",
                      "--json", "--shard-size", "8", "--max-lines", "12", "--splits", "train", "--workers", "0"],
                     check=True)
    summary = json.loads(result.stdout)["splits"]["train"]
    assert summary["shards"] == 2 and summary["total_samples"] + summary["total_skipped"] == 12
    assert sorted(p.name for p in (out / "train").iterdir()) == [".journal", "index.json", "train_000000.tar",
                                                                  "train_000001.tar"]
    assert [len(list(iter_samples(out / "train" / n))) for n in ("train_000000.tar", "train_000001.tar")] == [8, 4]


def _keys(stream: ShardStream, worker: int, workers: int) -> list[str]:
    return [item["meta"]["key"] for item in stream.worker_samples(worker, workers)]


def test_partition_is_disjoint_across_ranks_and_workers(shards):
    assert expand_braces(str(shards / "train_{000000..000011}.tar"))[-1] == str(shards / "train_000011.tar")
    all_keys = {f"train_{i:06d}" for i in range(96)}
    for epoch in (0, 1):
        seen: list[str] = []
        for rank in range(2):
            stream = open_dataset(shards / "train_{000000..000011}.tar")
            stream.configure(rank, 2, 2, batch_size=4, seed=11)
            stream.set_epoch(epoch)
            assert stream.batches == 6  # 3 shards x 8 samples per slot
            seen += [k for w in range(2) for k in _keys(stream, w, 2)]
        assert len(seen) == len(set(seen)) == 96 and set(seen) == all_keys  # each sample exactly once
    # fewer shards than ranks x workers: a clear error
    with pytest.raises(AksarError, match="12 shards cannot feed 4 rank"):
        ShardStream(shards).configure(0, 4, 8, batch_size=4, seed=0)


def test_loader_workers_resume_mid_epoch_exactly(shards):
    loader = make_train_loader(open_dataset(shards), 4, num_workers=2, seed=5, rank=1, world_size=2)
    assert len(loader.batch_sampler) == 12  # 2 workers x (3 shards x 8 / 4)
    set_loader_epoch(loader, 1, 0)
    full = [[m["key"] for m in b["meta"]] for b in loader]
    assert len(full) == 12 and all(len(b) == 4 for b in full)
    set_loader_epoch(loader, 1, 5)  # resume: the batches an uninterrupted epoch would have given
    assert [[m["key"] for m in b["meta"]] for b in loader] == full[5:]
    set_loader_epoch(loader, 0, 0)
    assert [[m["key"] for m in b["meta"]] for b in loader] != full


def test_train_streams_shards(train_data, shards, tmp_path):
    from aksar.train.config import config_from_dict
    from aksar.train.trainer import Trainer

    cfg = tiny_config_dict(train_data, tmp_path / "run", run={"epochs": 1, "val_every_steps": 0},
                           data={"train_dataset": str(shards), "num_workers": 2, "batch_size": 8})
    keys: list[str] = []
    result = Trainer(config_from_dict(cfg),
                     batch_callback=lambda r, b: keys.extend(m["key"] for m in b["meta"])).fit()
    assert result.step == 12 and len(keys) == len(set(keys)) == 96  # 2 workers x 6 shards: every sample once
    assert (tmp_path / "run" / "checkpoints" / "latest.pt").is_file()


def _png(value: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((TINY_HEIGHT, 40), value, np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def test_bad_shard_and_corrupt_image(tmp_path, caplog):
    good = [(f"s_{i:06d}", _png(200), f"line {i}", {}) for i in range(4)]
    broken = good[:1] + [("s_000001", b"\x89PNG\r\n\x1a\nnot really", "broken", {})] + good[2:]
    (tmp_path / "a_000000.tar").write_bytes(tar_bytes(broken))
    stream = ShardStream(tmp_path / "a_000000.tar")
    items = list(stream)
    assert len(items) == 4 and sum(it is None for it in items) == 1  # the buffer shuffles: order is seeded
    assert sorted(it["text"] for it in items if it) == ["line 0", "line 2", "line 3"]
    assert sum(stream.errors.values()) == 1 and "a_000000.tar:s_000001.png" in stream.problems[0]
    assert "s_000001" in caplog.text
    batch = Collate()(items)
    assert batch["dropped"] == 1 and batch["images"].shape[0] == 3 and isinstance(batch["images"], torch.Tensor)
    # a shard that is not a tar, and one cut short: errors naming the file
    (tmp_path / "b.tar").write_bytes(b"this is not a tar archive" * 40)
    with pytest.raises(AksarError, match=r"b\.tar: not a readable tar shard"):
        ShardStream(tmp_path / "b.tar")
    data = tar_bytes(good)
    (tmp_path / "c.tar").write_bytes(data[:1700])
    with pytest.raises(AksarError, match=r"c\.tar: not a readable tar shard"):
        list(iter_samples(tmp_path / "c.tar"))
    with pytest.raises(AksarError, match=r"d_000000\.tar: shard not found"):
        ShardStream(tmp_path / "d_{000000..000001}.tar")


def test_truncated_shard_against_index(shards, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    for p in [shards / "index.json", *sorted(shards.glob("*.tar"))]:
        (folder / p.name).write_bytes(p.read_bytes())
    cut = folder / "train_000003.tar"
    cut.write_bytes(cut.read_bytes()[:5000])
    with pytest.raises(AksarError, match=r"train_000003\.tar: 5000 bytes, index\.json says"):
        open_dataset(folder)


def test_dataset_stats_and_to_lmdb_read_shards(shards, tmp_path):
    """`aksar dataset stats|to-lmdb` take shards like any dataset: every sample in order, problems counted."""
    from aksar.data.lmdb_io import write_lmdb
    from aksar.data.stats import dataset_stats

    stats = dataset_stats(shards.parent, show_progress=False)   # the generate root: its split found
    assert list(stats["datasets"]) == ["train"]
    one = stats["datasets"]["train"]
    assert one["kind"] == "ShardStream" and one["listed"] == one["usable"] == 96
    assert one["image_height"]["max"] == TINY_HEIGHT
    out = write_lmdb(open_dataset(shards), tmp_path / "lmdb", show_progress=False)
    assert out["written"] == 96 and not out["skipped"]
    lmdb = open_dataset(tmp_path / "lmdb")
    first = [s for _, s in zip(range(1), iter_samples(sorted(shards.glob("*.tar"))[0]))][0]
    assert lmdb[0]["text"] == first[1]["txt"].decode()              # shard order kept
    good = [(f"s_{i:06d}", _png(200), f"line {i}", {}) for i in range(3)]
    bad = good + [("s_000003", b"\x89PNG\r\n\x1a\nnot really", "broken", {}), ("s_000004", _png(9), "", {})]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x_000000.tar").write_bytes(tar_bytes(bad))
    one = dataset_stats(tmp_path / "bad", show_progress=False)["datasets"]["bad"]
    assert one["usable"] == 3 and sum(one["errors"].values()) == 2
    out = write_lmdb(open_dataset(tmp_path / "bad"), tmp_path / "lmdb2", show_progress=False)
    assert out["written"] == 3 and sum(out["skipped"].values()) == 2
    assert any("x_000000.tar:s_000003.png" in p for p in out["problems"])


def test_opening_a_labels_dataset_does_not_import_torch():
    """Readers ask whether a path names shards through aksar.data.shards (no torch): `aksar eval` with an ONNX
    model stays torch-free."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    code = ("import sys; from aksar.data.readers import open_dataset; "
            f"d = open_dataset({str(root / 'eval' / 'khmer' / 'heldout_fonts')!r}); "
            "print(type(d).__name__, len(d) > 0, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["LabelFileDataset", "True", "False"], out.stdout + out.stderr
