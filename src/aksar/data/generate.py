"""Pre-generation of synthetic line images: ``aksar generate``.

Layout (``output_dir``, default ``data/synthetic``)::

    generation_metadata.json          resolved config, fonts, corpus hash, totals
    {split}/images/{split}_{index:06d}.png
    {split}/labels/{split}_{index:06d}.txt
    {split}/labels.tsv                PaddleOCR-style list: images/NAME.png<TAB>text
    {split}/metadata.json             per sample: text, font, size, image/label paths, augmentation
    {split}/.journal/*.jsonl          append-only per-run journals (what makes kill -9 resumable)

``format: webdataset`` writes each split as tar shards plus ``index.json`` instead of images/labels
(``aksar.data.wds_write``; same pixels, same resume and ownership rules, a shard is the unit of work).

Index ``i`` of a split renders line ``i`` of ``corpus_dir/{split}.txt`` with
``rng_for(seed, "generate", split, i)`` (font, augmentation): the PNG bytes are the same on any rerun,
with any number of workers or shards. Fonts are random for train and chosen by a stable hash of the text
for val/test; augmentation is applied to train only (``augment=False``: nowhere).

Resume: image (atomic rename) -> journal line -> label (atomic rename). A pair counts as done when its
label, its complete PNG (ends with IEND) and its journal line exist; anything else for that index is
deleted and rendered again. Texts no font can render are journaled as skipped (not retried).
``metadata.json`` and ``labels.tsv`` are written atomically once every index of the split is done
(by whichever shard finishes last).

Ownership and settings: ``generation_metadata.json`` (``kind: aksar-generated-dataset``) is written
before the first image with the settings that decide every index's bytes (script, corpus hash, seed,
augment, fonts, render and augmentation settings). A rerun resumes only when they match; otherwise it
stops naming each differing key. A non-empty folder without that marker is refused. ``overwrite``
deletes only the files generate writes (never use it on a folder other shards are still filling).
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from aksar.core.config import to_dict
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from aksar.core.outputs import read_marker
from aksar.data.journal import SPLITS, SplitJob, check_splits, claim_job_output, parse_shard, run_id, stem
from aksar.data.render_pool import RenderPool, default_synth, progress, resolve_workers, synth_fonts
from aksar.data.shards import INDEX_NAME
from aksar.data.wds_write import IMAGE_FORMATS, SHARD_FILES, finalize_shards, render_split_shards, shard_indices

log = logging.getLogger(__name__)

KIND = "aksar-generated-dataset"  # recorded in generation_metadata.json: marks generate's own output
META_NAME = "generation_metadata.json"
FILES = (("images", ".png"), ("labels", ".txt"))  # what index i writes


@dataclass
class GenerateConfig:
    """Options of ``aksar generate`` (CLI defaults come from here)."""

    corpus_dir: str = "data/processed"
    output_dir: str = "data/synthetic"
    splits: list[str] = field(default_factory=lambda: list(SPLITS))
    max_lines: int | None = None
    augment: bool = True  # train only; val/test are never augmented
    workers: int | None = None  # None: one per core; 0: in this process
    seed: int = 42
    shard: str | None = None  # "i/N": this machine renders indices with index % N == i
    overwrite: bool = False  # start again: delete the files generate wrote (only those) in output_dir
    format: str = "files"  # files: images/ + labels/; webdataset: tar shards (aksar.data.wds_write)
    shard_size: int = 1000  # webdataset: samples per tar shard
    image_format: str = "png"  # webdataset: png | jpg | webp
    synth: Any = field(default_factory=default_synth)

    def __post_init__(self) -> None:
        if self.format not in ("files", "webdataset"):
            raise AksarError(f"--format: expected files or webdataset, got {self.format!r}")
        if self.shard_size < 1:
            raise AksarError(f"--shard-size must be >= 1, got {self.shard_size}")
        if self.image_format not in IMAGE_FORMATS:
            raise AksarError(f"--image-format: expected one of {', '.join(IMAGE_FORMATS)}, got {self.image_format!r}")
        if self.format == "files" and self.image_format != "png":
            raise AksarError("--image-format applies to --format webdataset only (files are PNG)")


# ---------------------------------------------------------------- generate

def own_file(rel: str) -> bool:
    """True for a path (relative to the output folder) that ``aksar generate`` writes."""
    if rel == META_NAME:
        return True
    split, _, rest = rel.partition("/")
    return split in SPLITS and re.fullmatch(
        rf"labels\.tsv|metadata\.json|\.journal/[^/]+\.jsonl|images/{split}_\d{{6}}\.png|labels/{split}_\d{{6}}\.txt"
        rf"|{split}_\d{{6}}\.tar|index\.json", rest) is not None


def generation_settings(cfg: GenerateConfig, script: str, chash: str, fonts: list[str]) -> dict:
    """What decides the pixels and labels of an index: a resumed run must match these exactly."""
    settings = {"script": script, "corpus_hash": chash, "seed": cfg.seed, "augment": cfg.augment, "fonts": fonts,
                "render": to_dict(cfg.synth.render), "augmentation": to_dict(cfg.synth.augment)}
    if cfg.format != "files":  # recorded only then: datasets made before the option resume as before
        settings.update(format=cfg.format, shard_size=cfg.shard_size, image_format=cfg.image_format)
    return settings


def _legacy_settings(meta: dict) -> dict | None:
    """Settings of a generation_metadata.json written before ``settings`` was recorded."""
    try:
        gc = meta["generation_config"]
        return {"script": meta["script"], "corpus_hash": meta["corpus_hash"], "seed": gc["seed"],
                "augment": gc["augment"], "fonts": meta["fonts"], "render": gc["synth"]["render"],
                "augmentation": gc["synth"]["augment"]}
    except (KeyError, TypeError):
        return None


def _prepare_output(out: Path, cfg: GenerateConfig, settings: dict) -> dict:
    """Refuse folders generate did not create and resumes with other settings (unless ``overwrite``:
    then generate's own files are deleted); returns the split totals recorded so far."""
    previous = claim_job_output(out, META_NAME, KIND, "aksar generate", "a generated dataset", cfg.overwrite,
                                settings, own_file, legacy=_legacy_settings, legacy_key="generation_config")
    return dict((previous or {}).get("splits") or {})


def _finalize_split(split_dir: Path, split: str, n: int, journal: dict[int, dict], augmented: bool) -> dict:
    samples, tsv = [], []
    skipped = []
    for i in range(n):
        rec = journal.get(i)
        if rec is None:
            raise AksarError(f"{split_dir}: index {i} has no journal record; rerun `aksar generate`")
        if rec.get("skipped"):
            skipped.append({"index": i, "text": rec.get("text", ""), "reason": rec["skipped"]})
            continue
        s = stem(split, i)
        entry = {"index": i, "filename": s, "text": rec["text"], "font": rec["font"], "width": rec["width"],
                 "height": rec["height"], "image_path": f"images/{s}.png", "label_path": f"labels/{s}.txt",
                 "augment": rec.get("augment", [])}
        samples.append(entry)
        tsv.append(f"images/{s}.png\t{rec['text']}")
    fonts = sorted({s["font"] for s in samples})
    meta = {"split": split, "total_samples": len(samples), "skipped_unrenderable": len(skipped),
            "augmentation_applied": augmented, "fonts_used": fonts,
            "image_height": samples[0]["height"] if samples else None,
            "paths_relative_to": "the split folder", "samples": samples, "skipped": skipped}
    atomic_write_text(split_dir / "labels.tsv", "".join(t + "\n" for t in tsv))
    atomic_write_json(split_dir / "metadata.json", meta)
    return meta


def generate(cfg: GenerateConfig) -> dict:
    """Render the corpus splits to the pre-generated layout (resumable, shardable). Returns totals."""
    from aksar.text.corpus import corpus_hash, corpus_script, read_split

    shard_i, shard_n = parse_shard(cfg.shard)
    check_splits(cfg.splits, "--splits")
    corpus_dir, out = Path(cfg.corpus_dir), Path(cfg.output_dir)
    script = corpus_script(corpus_dir)
    workers = resolve_workers(cfg.workers)
    chash = corpus_hash(corpus_dir)
    fonts = synth_fonts(script, cfg.synth)
    settings = generation_settings(cfg, script, chash, fonts)
    recorded = _prepare_output(out, cfg, settings)
    out.mkdir(parents=True, exist_ok=True)
    _write_generation_metadata(out, cfg, settings, recorded)  # the marker and settings, before any image
    run = run_id(shard_i, shard_n)
    totals: dict[str, Any] = {"splits": {}, "rendered": 0, "skipped_unrenderable": 0, "already_done": 0,
                              "removed_broken": 0}
    t0 = time.perf_counter()
    with RenderPool(script, cfg.synth, workers) as pool:
        for split in cfg.splits:
            lines = read_split(corpus_dir, split)
            n = len(lines) if cfg.max_lines is None else min(len(lines), cfg.max_lines)
            augment = cfg.augment and split == "train"
            policy = "random" if split == "train" else "hash"
            shards = cfg.format == "webdataset"
            units = -(-n // cfg.shard_size) if shards else n  # what the journal counts: shards or samples
            job = SplitJob(out / split, split, units, (shard_i, shard_n), SHARD_FILES if shards else FILES, run)
            done = _shard_samples(job.done, n, cfg.shard_size) if shards else len(job.done)
            todo_n = _shard_samples(job.todo, n, cfg.shard_size) if shards else len(job.todo)
            log.info("%s: %d %s for this shard, %d already done, %d samples to render (%d broken files removed)",
                     split, len(job.mine), "tar shards" if shards else "samples", len(job.done), todo_n, job.removed)
            rendered = skipped = 0
            if todo_n:
                with progress(todo_n, split) as bar:
                    if shards:
                        rendered, skipped = render_split_shards(pool, cfg, job, lines, n, augment, policy, bar)
                    else:
                        rendered, skipped = _render_split_files(pool, cfg, job, lines, augment, policy, bar)
            all_done, journal = job.finish()
            info: dict[str, Any] = {"lines": n, "rendered": rendered, "skipped_unrenderable": skipped,
                                    "already_done": done, "removed_broken": job.removed,
                                    "augment": augment, "font_policy": policy}
            if len(all_done) == units:
                meta = (finalize_shards(job.split_dir, split, units, journal, settings, cfg, _charset(corpus_dir))
                        if shards else _finalize_split(job.split_dir, split, n, journal, augment))
                info.update(complete=True, total_samples=meta["total_samples"],
                            total_skipped=meta["skipped_unrenderable"], fonts_used=meta["fonts_used"])
                if shards:
                    info["shards"] = units
            else:
                info.update(complete=False, missing=units - len(all_done))
                log.info("%s: this shard is done; %d %s of other shards missing, the split's index is written "
                         "when the last shard finishes", split, units - len(all_done),
                         "tar shards" if shards else "samples")
            totals["splits"][split] = info
            totals["rendered"] += rendered
            totals["skipped_unrenderable"] += skipped
            totals["already_done"] += done
            totals["removed_broken"] += job.removed
    elapsed = time.perf_counter() - t0
    _write_generation_metadata(out, cfg, settings, _split_totals(out, totals))
    totals["elapsed_s"] = round(elapsed, 3)
    totals["images_per_s"] = round(totals["rendered"] / elapsed, 2) if elapsed > 0 else 0.0
    totals["workers"] = workers
    return totals


def _render_split_files(pool: RenderPool, cfg: GenerateConfig, job: SplitJob, lines: list[str], augment: bool,
                        policy: str, bar: Any) -> tuple[int, int]:
    """Render this machine's unfinished indices of a split as image and label files; (rendered, skipped)."""
    rendered = skipped = 0
    split_dir, split = job.split_dir, job.split
    with job.journal() as record:
        for index, result in pool.render(("generate", split), cfg.seed, policy, augment,
                                         [(i, lines[i]) for i in job.todo]):
            if result is None:
                record({"index": index, "skipped": "unrenderable", "text": lines[index]})
                skipped += 1
            else:
                png, meta = result
                s = stem(split, index)
                atomic_write_bytes(split_dir / "images" / f"{s}.png", png)
                record({"index": index, **meta})
                atomic_write_text(split_dir / "labels" / f"{s}.txt", meta["text"] + "\n")
                rendered += 1
            bar.update(1)
    return rendered, skipped


def _shard_samples(shards: Iterable[int], n: int, size: int) -> int:
    """Samples in shards ``shards`` of a split of ``n`` samples cut into shards of ``size`` (the last may be short)."""
    return sum(len(shard_indices(k, n, size)) for k in shards)


def _charset(corpus_dir: Path) -> dict | None:
    """The corpus charset's file and fingerprint (recorded in a webdataset index), if it has one."""
    from aksar.text.charset import Charset

    path = corpus_dir / "charset.txt"
    if not path.is_file():
        return None
    charset = Charset.load(path)
    return {"path": str(path), "size": len(charset), "fingerprint": charset.fingerprint()}


def _split_totals(out: Path, totals: dict) -> dict:
    """Split totals recorded so far, updated with the splits this run completed."""
    splits = dict((read_marker(out, META_NAME) or {}).get("splits") or {})
    for split, info in totals["splits"].items():
        if info.get("complete") and any((out / split / name).is_file() for name in ("metadata.json", INDEX_NAME)):
            splits[split] = {"total_samples": info["total_samples"], "skipped_unrenderable": info["total_skipped"],
                             "augmentation_applied": info["augment"], "font_policy": info["font_policy"],
                             "fonts_used": info["fonts_used"], "lines": info["lines"]}
    return splits


def _write_generation_metadata(out: Path, cfg: GenerateConfig, settings: dict, splits: dict) -> None:
    config = to_dict(cfg)
    for key in ("workers", "overwrite"):
        config.pop(key, None)
    meta = {
        "kind": KIND,
        "settings": settings,
        "generation_config": config,
        "script": settings["script"],
        "corpus_hash": settings["corpus_hash"],
        "fonts": settings["fonts"],
        "splits": splits,
        "total_images": sum(s.get("total_samples", 0) for s in splits.values()),
    }
    atomic_write_json(out / META_NAME, meta)


__all__ = ["GenerateConfig", "generate", "generation_settings", "own_file", "SPLITS"]
