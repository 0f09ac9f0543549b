"""The fixed validation set: ``aksar valset``.

Layout (``output_dir``, default ``data/validation_fixed``)::

    images/val_NNNNNN.png   labels/val_NNNNNN.txt   labels.tsv   validation_texts.txt   metadata.json

Texts: the val split walked in a permutation seeded by ``random_seed``; candidate ``k`` is rendered with
``rng_for(random_seed, "valset", k)``, the font chosen by a stable hash of the text, no augmentation
unless asked. Candidates no font can render are skipped (counted) and the next one is used, so the set
always has ``num_samples`` images. Nothing in the output depends on time, paths or worker count:
building twice gives byte-identical files. ``metadata.json`` records every file's sha256;
``validate_valset`` checks them.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from aksar.core.config import to_dict
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_bytes, sha256_file
from aksar.core.outputs import claim_output_dir, remove_own_files
from aksar.core.rng import rng_for
from aksar.data.render_pool import RenderPool, default_synth, progress, resolve_workers

log = logging.getLogger(__name__)

KIND = "aksar-validation-set"  # recorded in metadata.json: marks a folder as valset's own output
FORMAT_VERSION = 1
BUILDING_MARKER = ".aksar-valset-building"  # in the temporary build folder
OWN_FILE = re.compile(r"metadata\.json|labels\.tsv|validation_texts\.txt|images/val_\d{6}\.png|labels/val_\d{6}\.txt")


@dataclass
class ValsetConfig:
    """Options of ``aksar valset`` (CLI defaults come from here)."""

    corpus_dir: str = "data/processed"
    output_dir: str = "data/validation_fixed"
    num_samples: int = 6400
    random_seed: int = 42
    augment: bool = False
    split: str = "val"
    workers: int | None = None  # None: one per core; 0: in this process
    overwrite: bool = False  # write into a folder valset did not create (deleting only valset's own files)
    synth: Any = field(default_factory=default_synth)


def _candidates(lines: list[str], seed: int) -> Iterator[tuple[int, str]]:
    """(candidate position, text): the split in a seeded order, one pass after another."""
    pos = 0
    cycle = 0
    while True:
        for j in rng_for(seed, "valset", "order", cycle).permutation(len(lines)):
            yield pos, lines[int(j)]
            pos += 1
        cycle += 1


def build_valset(cfg: ValsetConfig) -> dict:
    """Render the fixed validation set; returns a summary (counts, skipped, images/s)."""
    from aksar.text.corpus import corpus_hash, corpus_script, read_split

    if cfg.num_samples < 1:
        raise AksarError(f"--num-samples must be >= 1, got {cfg.num_samples}")
    corpus_dir, out = Path(cfg.corpus_dir), Path(cfg.output_dir)
    lines = read_split(corpus_dir, cfg.split)
    if not lines:
        raise AksarError(f"{corpus_dir / (cfg.split + '.txt')}: no lines to build a validation set from")
    script = corpus_script(corpus_dir)
    claim_output_dir(out, "metadata.json", KIND, "aksar valset", "a validation set", cfg.overwrite)
    tmp = out.with_name(f".{out.name}.building")
    if tmp.exists():
        if not (tmp / BUILDING_MARKER).is_file():
            raise AksarError(f"{tmp} exists and is not an unfinished `aksar valset` build; move it away")
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    (tmp / BUILDING_MARKER).touch()
    (tmp / "images").mkdir()
    (tmp / "labels").mkdir()
    workers = resolve_workers(cfg.workers)
    n = cfg.num_samples
    samples: list[dict] = []
    skipped: list[dict] = []
    t0 = time.perf_counter()
    cand = _candidates(lines, cfg.random_seed)
    with RenderPool(script, cfg.synth, workers) as pool, progress(n, "valset") as bar:
        while len(samples) < n:
            need = n - len(samples)
            batch = [next(cand) for _ in range(need + max(4, need // 50))]
            texts_by_pos = dict(batch)
            for pos, result in pool.render(("valset",), cfg.random_seed, "hash", cfg.augment, batch,
                                           ordered=True):
                if len(samples) >= n:
                    break
                if result is None:
                    skipped.append({"candidate": pos, "text": texts_by_pos[pos], "reason": "unrenderable"})
                    if len(skipped) > 10 * n + 100:
                        raise AksarError(f"{corpus_dir}: almost no {cfg.split} line renders with the "
                                         "configured fonts; check `aksar fonts`")
                    continue
                png, meta = result
                i = len(samples)
                name = f"val_{i:06d}"
                label = meta["text"] + "\n"
                atomic_write_bytes(tmp / "images" / f"{name}.png", png)
                atomic_write_text(tmp / "labels" / f"{name}.txt", label)
                samples.append({"index": i, "filename": name, "text": meta["text"], "font": meta["font"],
                                "width": meta["width"], "height": meta["height"],
                                "image_path": f"images/{name}.png", "label_path": f"labels/{name}.txt",
                                "image_sha256": sha256_bytes(png),
                                "label_sha256": sha256_bytes(label.encode("utf-8")),
                                "candidate": pos, "augment": meta["augment"]})
                bar.update(1)
    elapsed = time.perf_counter() - t0
    tsv = "".join(f"{s['image_path']}\t{s['text']}\n" for s in samples)
    texts = "".join(f"{s['text']}\n" for s in samples)
    atomic_write_text(tmp / "labels.tsv", tsv)
    atomic_write_text(tmp / "validation_texts.txt", texts)
    config = to_dict(cfg)
    for key in ("output_dir", "workers", "overwrite"):  # nothing that differs between identical builds
        config.pop(key)
    meta = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "config": config,
        "script": script,
        "corpus_hash": corpus_hash(corpus_dir),
        "num_samples": n,
        "augmentation_applied": cfg.augment,
        "font_policy": "hash",
        "fonts_used": sorted({s["font"] for s in samples}),
        "image_height": samples[0]["height"],
        "skipped_unrenderable": skipped,
        "files": {"labels.tsv": sha256_bytes(tsv.encode("utf-8")),
                  "validation_texts.txt": sha256_bytes(texts.encode("utf-8"))},
        "samples": samples,
    }
    atomic_write_json(tmp / "metadata.json", meta)
    _install(tmp, out)
    return {"output_dir": str(out), "num_samples": n, "skipped_unrenderable": len(skipped),
            "fonts_used": meta["fonts_used"], "elapsed_s": round(elapsed, 3),
            "images_per_s": round(n / elapsed, 2) if elapsed > 0 else 0.0, "workers": workers}


def _install(tmp: Path, out: Path) -> None:
    """Move the finished build into ``out``, replacing only valset's own files there; ``metadata.json``
    (the marker) goes last, so an interrupted install is still recognised as valset's own folder."""
    (tmp / BUILDING_MARKER).unlink()
    if not out.exists():
        tmp.rename(out)
        return
    remove_own_files(out, lambda rel: rel != "metadata.json" and OWN_FILE.fullmatch(rel) is not None)
    for sub in ("images", "labels", "."):
        (out / sub).mkdir(exist_ok=True)
        for entry in sorted(os.scandir(tmp / sub), key=lambda e: (e.name == "metadata.json", e.name)):
            if entry.is_file():
                os.replace(entry.path, out / sub / entry.name)
    shutil.rmtree(tmp)


def read_set_json(path: Path, what: str, command: str) -> dict:
    """A set's metadata file; AksarError if missing (not a ``what``) or unreadable."""
    if not path.is_file():
        raise AksarError(f"{path}: missing (not {what}; build it with `{command}`)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AksarError(f"{path}: unreadable ({exc})") from None


def raise_problems(what: str, d: Path, problems: list[str]) -> None:
    """One AksarError listing (up to 100 of) ``problems``, if there are any."""
    if problems:
        shown = problems[:100]
        more = f"\n  ... and {len(problems) - 100} more" if len(problems) > 100 else ""
        raise AksarError(f"{what} {d} has {len(problems)} problem(s):\n  " + "\n  ".join(shown) + more)


def validate_valset(directory: str | Path) -> dict:
    """Check counts, sha256 of every file and labels against ``metadata.json``.

    Returns a summary if all is well; raises AksarError naming every missing or corrupt file.
    """
    from aksar.data.readers import BadImage, decode_image

    d = Path(directory)
    meta_path = d / "metadata.json"
    meta = read_set_json(meta_path, "a validation set", "aksar valset")
    try:
        samples = meta["samples"]
        expected = int(meta["num_samples"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AksarError(f"{meta_path}: unreadable metadata ({exc})") from None
    problems: list[str] = []
    if len(samples) != expected:
        problems.append(f"{meta_path}: lists {len(samples)} samples, expected {expected}")
    listed = set()
    for s in samples:
        for kind in ("image", "label"):
            rel = s[f"{kind}_path"]
            listed.add(rel)
            path = d / rel
            if not path.is_file():
                problems.append(f"{path}: missing")
                continue
            if sha256_file(path) != s[f"{kind}_sha256"]:
                problems.append(f"{path}: sha256 mismatch (corrupt or modified)")
                continue
            if kind == "label":
                text = path.read_text(encoding="utf-8").rstrip("\r\n")
                if text != s["text"]:
                    problems.append(f"{path}: label {text!r} differs from metadata {s['text']!r}")
            else:
                try:
                    decode_image(path)
                except BadImage as exc:
                    problems.append(f"{path}: {exc}")
    for name, digest in meta.get("files", {}).items():
        path = d / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{path}: sha256 mismatch (corrupt or modified)")
    for sub in ("images", "labels"):
        folder = d / sub
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                if f"{sub}/{p.name}" not in listed:
                    problems.append(f"{p}: not listed in metadata.json")
    n_img = len(list((d / "images").glob("*.png"))) if (d / "images").is_dir() else 0
    n_lbl = len(list((d / "labels").glob("*.txt"))) if (d / "labels").is_dir() else 0
    raise_problems("validation set", d, problems)
    return {"output_dir": str(d), "num_samples": expected, "images": n_img, "labels": n_lbl, "ok": True}


__all__ = ["ValsetConfig", "build_valset", "validate_valset"]
