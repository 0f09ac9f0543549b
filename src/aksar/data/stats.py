"""``aksar dataset stats PATH``: what a dataset on disk really holds.

Counts, image sizes, label lengths, charset coverage, and every missing or corrupt file by name (the
checks otherwise done by hand with ``find | wc -l``). Every image is decoded, so truncated files show.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from aksar.core.errors import AksarError


def _summary(values: list[int]) -> dict[str, float] | None:
    if not values:
        return None
    a = np.asarray(values)
    return {"min": int(a.min()), "mean": round(float(a.mean()), 2), "median": float(np.median(a)),
            "p95": float(np.percentile(a, 95)), "max": int(a.max())}


def _find_charset(path: Path) -> Path | None:
    """A charset.txt next to the dataset, or the corpus one recorded in generation_metadata.json."""
    for d in (path, path.parent):
        if (d / "charset.txt").is_file():
            return d / "charset.txt"
        meta = d / "generation_metadata.json"
        if meta.is_file():
            try:
                corpus = json.loads(meta.read_text(encoding="utf-8"))["generation_config"]["corpus_dir"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
            if (Path(corpus) / "charset.txt").is_file():
                return Path(corpus) / "charset.txt"
    return None


def _dataset_paths(path: Path) -> dict[str, Path]:
    """One dataset, or the splits of a pre-generated root (files or tar shards)."""
    from aksar.data.shards import is_shard_spec

    if path.is_dir() and not (path / "labels").is_dir() and not (path / "labels.tsv").is_file() \
            and not (path / "data.mdb").is_file() and not is_shard_spec(path):
        splits = {d.name: d for d in sorted(path.iterdir()) if (d / "labels").is_dir() or is_shard_spec(d)}
        if splits:
            return splits
    return {path.name or str(path): path}


def _one_stats(path: Path, charset: Any, show_progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    from aksar.data.readers import open_dataset

    ds = open_dataset(path)
    widths, heights, lengths = [], [], []
    chars: Counter = Counter()
    unknown: Counter = Counter()
    covered = 0
    shards = hasattr(ds, "in_order")  # tar shards: read in order, not partitioned for training
    items = ds.in_order() if shards else (ds[i] for i in range(len(ds)))
    total = ds.num_samples if shards else len(ds)
    for item in tqdm(items, total=total, desc=path.name or str(path), unit="img", disable=not show_progress):
        if item is None:
            continue
        h, w = item["image"].shape
        heights.append(h)
        widths.append(w)
        text = item["text"]
        lengths.append(len(text))
        chars.update(text)
        if charset is not None:
            missing = charset.unknown(text)
            unknown.update(missing)
            covered += not missing
    usable = len(widths)
    result: dict[str, Any] = {
        "path": str(path),
        "kind": type(ds).__name__,
        "listed": total + getattr(ds, "dropped", 0),
        "usable": usable,
        "errors": dict(ds.errors),
        "problems": list(ds.problems),
        "image_width": _summary(widths),
        "image_height": _summary(heights),
        "label_length": _summary(lengths),
        "distinct_characters": len(chars),
    }
    if isinstance(path, Path) and path.is_dir():
        result["disk_bytes"] = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if (path / "images").is_dir():
            result["image_files"] = sum(1 for p in (path / "images").iterdir() if p.suffix == ".png")
        if (path / "labels").is_dir():
            result["label_files"] = sum(1 for p in (path / "labels").iterdir() if p.suffix == ".txt")
    if charset is not None:
        result["charset_coverage"] = {
            "labels_fully_covered": covered,
            "share": round(covered / usable, 4) if usable else None,
            "unknown_characters": {f"U+{ord(c):04X} {c}" if len(c) == 1 else c: n
                                   for c, n in unknown.most_common(50)},
        }
    return result


def dataset_stats(path: str | Path, charset: str | Path | None = None, show_progress: bool = True) -> dict:
    """Statistics of a dataset (or each split of a pre-generated root); see module doc."""
    p = Path(path)
    if not p.exists():
        raise AksarError(f"dataset not found: {p}")
    cs = None
    cs_path = Path(charset) if charset is not None else _find_charset(p)
    if cs_path is not None:
        from aksar.text.charset import Charset

        cs = Charset.load(cs_path)
    parts = _dataset_paths(p)
    result = {name: _one_stats(sub, cs, show_progress) for name, sub in parts.items()}
    return {"path": str(p), "charset": str(cs_path) if cs_path else None, "datasets": result}


def format_stats(stats: dict) -> str:
    """Human-readable text of ``dataset_stats`` output."""
    lines = [f"dataset: {stats['path']}" + (f"  (charset {stats['charset']})" if stats["charset"] else "")]
    for name, s in stats["datasets"].items():
        lines.append(f"[{name}] {s['kind']}: {s['usable']} usable of {s['listed']} listed")
        for key in ("image_files", "label_files", "disk_bytes"):
            if key in s:
                lines.append(f"  {key}: {s[key]}")
        for key in ("image_height", "image_width", "label_length"):
            v = s[key]
            if v:
                lines.append(f"  {key}: min {v['min']}  mean {v['mean']}  median {v['median']}  "
                             f"p95 {v['p95']}  max {v['max']}")
        lines.append(f"  distinct characters: {s['distinct_characters']}")
        if "charset_coverage" in s:
            c = s["charset_coverage"]
            lines.append(f"  charset coverage: {c['labels_fully_covered']} labels fully covered ({c['share']})")
            for ch, n in c["unknown_characters"].items():
                lines.append(f"    unknown {ch}: {n}")
        if s["errors"]:
            lines.append("  problems: " + ", ".join(f"{k}={v}" for k, v in sorted(s["errors"].items())))
            for p in s["problems"][:50]:
                lines.append(f"    {p}")
            if len(s["problems"]) > 50:
                lines.append(f"    ... {len(s['problems']) - 50} more")
        else:
            lines.append("  problems: none")
    return "\n".join(lines)


__all__ = ["dataset_stats", "format_stats"]
