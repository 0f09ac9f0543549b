"""``aksar generate --format webdataset``: a split as deterministic tar shards for streaming training.

Layout of a split folder::

    {split}/{split}_{k:06d}.tar      shard k: indices k*shard_size .. (k+1)*shard_size - 1 of the split
    {split}/index.json               manifest: shards with sample counts and sizes, totals, seed, charset
    {split}/.journal/*.jsonl         one line per finished shard (what makes a killed run resumable)

Each sample is three members named by its key ``{split}_{index:06d}``: ``KEY.png`` (or ``.jpg`` /
``.webp`` with ``image_format``), ``KEY.txt`` (the label, UTF-8) and ``KEY.json`` (text, font, size,
augmentation record), in index order, the order WebDataset readers expect. The PNG bytes are those
``aksar generate`` writes as files for the same seed. Tar headers are fixed (mtime 0, uid/gid 0, no
user names, mode 0644, ustar), so one seed reproduces every shard byte for byte.

A shard is the unit of work: rendered in memory, written by an atomic rename, then journaled; a shard
without its journal line (a killed run) is deleted and rendered again. ``--shard i/N`` splits the
shards (not the lines) over machines.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_bytes, atomic_write_json, sha256_bytes
from aksar.data.journal import SplitJob, stem
from aksar.data.shards import INDEX_NAME

INDEX_KIND = "aksar-webdataset"
SHARD_FILES = ((".", ".tar"),)  # what shard k writes, for the journal scan
IMAGE_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


def shard_indices(k: int, n: int, size: int) -> range:
    """The sample indices of shard ``k`` of a split of ``n`` samples in shards of ``size`` (the last may be short)."""
    return range(k * size, min(n, (k + 1) * size))


def shard_name(split: str, k: int) -> str:
    return f"{stem(split, k)}.tar"


def _member(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, io.BytesIO(data)


def encode_as(png: bytes, image_format: str) -> bytes:
    """``png`` re-encoded as ``image_format`` (fixed settings: the same bytes on every run)."""
    if image_format == "png":
        return png
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        buf = io.BytesIO()
        im.save(buf, format=IMAGE_FORMATS[image_format], quality=95, **({"method": 4} if image_format == "webp" else {}))
    return buf.getvalue()


def tar_bytes(samples: list[tuple[str, bytes, str, dict]], image_format: str = "png") -> bytes:
    """A shard: ``(key, png, label, meta)`` samples as ``KEY.{image_format}``, ``KEY.txt``, ``KEY.json``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, png, label, meta in samples:
            for name, data in ((f"{key}.{image_format}", encode_as(png, image_format)),
                               (f"{key}.txt", label.encode("utf-8")),
                               (f"{key}.json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"))):
                tar.addfile(*_member(name, data))
    return buf.getvalue()


def render_split_shards(pool: Any, cfg: Any, job: SplitJob, lines: list[str], n: int, augment: bool,
                        policy: str, bar: Any) -> tuple[int, int]:
    """Render this machine's unfinished shards of a split (``job`` counts shards); returns (rendered, skipped)."""
    rendered = skipped = 0
    with job.journal() as record:
        for k in job.todo:
            todo = [(i, lines[i]) for i in shard_indices(k, n, cfg.shard_size)]
            results = dict(pool.render(("generate", job.split), cfg.seed, policy, augment, todo))
            samples, unrenderable = [], []
            for i, _ in todo:
                if results[i] is None:
                    unrenderable.append({"index": i, "text": lines[i]})
                    continue
                png, meta = results[i]
                samples.append((stem(job.split, i), png, meta["text"], {"index": i, **meta}))
            data = tar_bytes(samples, cfg.image_format)
            atomic_write_bytes(job.split_dir / shard_name(job.split, k), data)
            record({"index": k, "count": len(samples), "bytes": len(data), "sha256": sha256_bytes(data),
                    "unrenderable": unrenderable, "fonts": sorted({s[3]["font"] for s in samples})})
            rendered += len(samples)
            skipped += len(unrenderable)
            bar.update(len(todo))
    return rendered, skipped


def finalize_shards(split_dir: Path, split: str, n_shards: int, journal: dict[int, dict], settings: dict,
                    cfg: Any, charset: dict | None) -> dict:
    """Write ``index.json`` once every shard of the split is done; returns it."""
    shards, skipped, fonts = [], [], set()
    for k in range(n_shards):
        rec = journal.get(k)
        if rec is None or "count" not in rec:
            raise AksarError(f"{split_dir}: shard {k} has no journal record; rerun `aksar generate`")
        shards.append({"name": shard_name(split, k), "count": rec["count"], "bytes": rec["bytes"],
                       "sha256": rec["sha256"]})
        skipped.extend(rec.get("unrenderable", []))
        fonts.update(rec.get("fonts", []))
    index = {"kind": INDEX_KIND, "split": split, "shard_size": cfg.shard_size, "image_format": cfg.image_format,
             "total_samples": sum(s["count"] for s in shards), "skipped_unrenderable": len(skipped),
             "shards": shards, "seed": cfg.seed, "script": settings["script"],
             "corpus_hash": settings["corpus_hash"], "charset": charset, "fonts_used": sorted(fonts),
             "skipped": skipped}
    atomic_write_json(split_dir / INDEX_NAME, index)
    return index


__all__ = ["render_split_shards", "finalize_shards", "tar_bytes", "shard_indices", "shard_name", "INDEX_KIND",
           "SHARD_FILES", "IMAGE_FORMATS"]
