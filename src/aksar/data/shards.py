"""Tar shard files as ``aksar generate --format webdataset`` writes them: naming them (a folder, a brace
pattern, one ``.tar``), their counts from ``index.json``, and their samples in order. No torch: readers,
``aksar dataset`` and the trainer's preparation ask what a path is without loading the streaming side
(``aksar.data.webdataset``)."""
from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

from aksar.core.errors import AksarError

INDEX_NAME = "index.json"  # a split's shard list, written by aksar.data.wds_write
IMAGE_EXTS = ("png", "jpg", "jpeg", "webp")
_BRACE = re.compile(r"\{(\d+)\.\.(\d+)\}")
Sample = tuple[str, dict[str, bytes]]  # key, {extension: bytes}


def expand_braces(pattern: str) -> list[str]:
    """``a_{000..002}.tar`` -> ``a_000.tar, a_001.tar, a_002.tar`` (zero padding kept; several ranges nest)."""
    m = _BRACE.search(pattern)
    if m is None:
        return [pattern]
    lo, hi = int(m.group(1)), int(m.group(2))
    if hi < lo:
        raise AksarError(f"shard pattern {pattern!r}: range {m.group(0)} goes backwards")
    width = len(m.group(1))
    return [name for k in range(lo, hi + 1)
            for name in expand_braces(pattern[:m.start()] + f"{k:0{width}d}" + pattern[m.end():])]


def is_shard_spec(spec: str | Path) -> bool:
    """True for a brace pattern, a ``.tar`` file, or a folder with a webdataset ``index.json`` or ``*.tar``."""
    s = str(spec)
    if _BRACE.search(s) or s.endswith(".tar"):
        return True
    p = Path(s)
    if not p.is_dir():
        return False
    if (p / INDEX_NAME).is_file():
        return True
    other = ("data.mdb", "labels.tsv", "labels", "labels.json", "labels.txt")  # the other readers' markers
    return not any((p / name).exists() for name in other) and any(p.glob("*.tar"))


def _read_index(folder: Path) -> dict | None:
    path = folder / INDEX_NAME
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        return {s["name"]: s for s in index["shards"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AksarError(f"{path}: not a webdataset index ({exc})") from None


def resolve_shards(spec: str | Path) -> tuple[list[Path], list[int]]:
    """The shard files of ``spec`` and their sample counts (``index.json`` when it lists them, checked
    against the file sizes; else read from the tar headers)."""
    p = Path(spec)
    if p.is_dir():
        paths = [p / name for name in _read_index(p) or {}] or sorted(p.glob("*.tar"))
    else:
        paths = [Path(x) for x in expand_braces(str(spec))]
    if not paths:
        raise AksarError(f"{spec}: no .tar shards")
    indexes: dict[Path, dict] = {}
    counts = []
    for path in paths:
        if not path.is_file():
            raise AksarError(f"{path}: shard not found")
        if path.parent not in indexes:
            indexes[path.parent] = _read_index(path.parent) or {}
        entry = indexes[path.parent].get(path.name)
        if entry is not None:
            if path.stat().st_size != entry["bytes"]:
                raise AksarError(f"{path}: {path.stat().st_size} bytes, {INDEX_NAME} says {entry['bytes']}: the shard "
                                 "was truncated or replaced; generate it again")
            counts.append(int(entry["count"]))
        else:
            counts.append(sum(1 for _ in iter_samples(path)))
    return paths, counts


def iter_samples(path: Path) -> Iterator[Sample]:
    """The samples of one shard in order: members grouped by key (the name up to the first dot of its base name)."""
    key, parts = None, {}
    try:
        with tarfile.open(path, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                folder, _, base = member.name.rpartition("/")
                stem, _, ext = base.partition(".")
                k = f"{folder}/{stem}" if folder else stem
                if k != key and key is not None:
                    yield key, parts
                    parts = {}
                key = k
                parts[ext.lower()] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise AksarError(f"{path}: not a readable tar shard ({type(exc).__name__}: {exc})") from None
    if key is not None:
        yield key, parts


__all__ = ["INDEX_NAME", "IMAGE_EXTS", "Sample", "expand_braces", "is_shard_spec", "resolve_shards", "iter_samples"]
