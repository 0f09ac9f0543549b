"""Synthetic pages for text-line detection: ``generate_pages(PagesConfig) -> totals``.

Layout (``output_dir``, default ``data/pages``)::

    pages_metadata.json               kind, settings (what decides the bytes), config, split totals
    {split}/images/{split}_{index:06d}.png
    {split}/page/{split}_{index:06d}.xml     PAGE-XML 2019: regions, lines, text, reading order
    {split}/det_labels.txt            PaddleOCR detection list: images/NAME.png<TAB>[{"transcription", "points"}]
    {split}/metadata.json             per page: size, dpi, lines, degradations; skipped lines per reason
    {split}/contact_sheet.png         the first pages with their line polygons drawn
    {split}/.journal/*.jsonl          append-only per-run journals (what makes kill -9 resumable)

Page ``i`` of a split is ``PageRenderer.render(corpus split lines, rng_for(seed, "pages", split, i))``: the
same bytes on any rerun, with any number of workers or shards. Resume and ownership work as in
``aksar generate`` (``data.journal.SplitJob``): PNG (atomic) -> PAGE-XML (atomic) -> journal line;
an index counts as done when all three exist. The split files are written by whichever shard finishes last.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aksar.core.config import to_dict
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from aksar.core.outputs import read_marker
from aksar.core.rng import rng_for
from aksar.data.journal import SPLITS, SplitJob, check_splits, claim_job_output, parse_shard, run_id, stem
from aksar.data.render_pool import encode_png, jsonable, process_pool, progress, resolve_workers
from aksar.render.page import PageConfig

log = logging.getLogger(__name__)

KIND = "aksar-synthetic-pages"
META_NAME = "pages_metadata.json"
FILES = (("images", ".png"), ("page", ".xml"))


@dataclass
class PagesConfig:
    """Options of synthetic page generation."""

    corpus_dir: str = "data/processed"
    output_dir: str = "data/pages"
    splits: list[str] = field(default_factory=lambda: list(SPLITS))
    pages: dict[str, int] = field(default_factory=lambda: {"train": 2000, "val": 100, "test": 100})
    workers: int | None = None      # None: one per core; 0: in this process
    seed: int = 42
    shard: str | None = None        # "i/N": this machine renders indices with index % N == i
    overwrite: bool = False         # delete the files this command wrote (only those) and start again
    contact_pages: int = 6          # pages drawn on each split's contact sheet
    page: PageConfig = field(default_factory=PageConfig)


# ---------------------------------------------------------------- rendering (worker processes)

_WORKER: dict[str, Any] = {}


def _init_worker(script: str, page_cfg: PageConfig, corpus_dir: str) -> None:
    from aksar.render.image_ops import one_thread_per_worker
    from aksar.render.page import PageRenderer

    one_thread_per_worker()
    _WORKER.update(renderer=PageRenderer(script, page_cfg), corpus_dir=corpus_dir, texts={})


def render_page(split: str, index: int, seed: int) -> tuple[int, bytes, str, dict]:
    """(index, PNG bytes, PAGE-XML, journal record) of page ``index`` of ``split``."""
    from aksar.data.det_formats import PageLine, PageRegion, page_xml
    from aksar.text.corpus import read_split

    texts = _WORKER["texts"]
    if split not in texts:
        texts[split] = read_split(_WORKER["corpus_dir"], split)
    page = _WORKER["renderer"].render(texts[split], rng_for(seed, "pages", split, index))
    h, w = page.image.shape
    name = stem(split, index)
    regions = [PageRegion(r.kind, r.polygon, [PageLine(ln.text, ln.polygon) for ln in page.lines
                                              if ln.block == r.index]) for r in page.regions]
    xml = page_xml(f"../images/{name}.png", w, h, regions)
    rec = {"index": index, "width": w, "height": h, "dpi": page.dpi,
           "lines": [{"text": ln.text, "points": ln.polygon, "order": ln.order, "block": ln.block,
                      "kind": ln.kind, "font": ln.font} for ln in page.lines],
           "skipped_lines": dict(sorted(page.skipped.items())), "degrade": jsonable(page.record)}
    return index, encode_png(page.image), xml, rec


def _render_task(task: tuple[str, int, int]) -> tuple[int, bytes, str, dict]:
    return render_page(*task)


def _results(script: str, cfg: PagesConfig, workers: int, split: str, todo: list[int]):
    tasks = [(split, i, cfg.seed) for i in todo]
    if workers == 0:
        _init_worker(script, cfg.page, cfg.corpus_dir)
        yield from map(_render_task, tasks)
        return
    with process_pool(workers, _init_worker, (script, cfg.page, cfg.corpus_dir)) as pool:
        yield from pool.imap_unordered(_render_task, tasks)


# ---------------------------------------------------------------- output folder

def own_file(rel: str) -> bool:
    """True for a path (relative to the output folder) that page generation writes."""
    if rel == META_NAME:
        return True
    split, _, rest = rel.partition("/")
    return split in SPLITS and re.fullmatch(
        rf"det_labels\.txt|metadata\.json|contact_sheet\.png|\.journal/[^/]+\.jsonl|"
        rf"images/{split}_\d{{6}}\.png|page/{split}_\d{{6}}\.xml", rest) is not None


def pages_settings(cfg: PagesConfig, script: str, chash: str, fonts: list[str]) -> dict:
    """What decides a page's bytes: a resumed run must match these exactly."""
    return json.loads(json.dumps({"script": script, "corpus_hash": chash, "seed": cfg.seed, "fonts": fonts,
                                  "page": to_dict(cfg.page)}))


def _prepare_output(out: Path, cfg: PagesConfig, settings: dict) -> None:
    claim_job_output(out, META_NAME, KIND, "aksar pages", "a synthetic page set", cfg.overwrite, settings, own_file)


def _write_meta(out: Path, cfg: PagesConfig, settings: dict, splits: dict) -> None:
    config = to_dict(cfg)
    for key in ("workers", "overwrite", "page"):
        config.pop(key, None)
    atomic_write_json(out / META_NAME, {
        "kind": KIND, "settings": settings, "config": config, "splits": splits,
        "total_pages": sum(s.get("pages", 0) for s in splits.values()),
        "total_lines": sum(s.get("lines", 0) for s in splits.values())})


# ---------------------------------------------------------------- split files

def contact_sheet(split_dir: Path, records: list[dict], columns: int = 3, width: int = 480) -> bytes:
    """PNG of pages (their images under ``split_dir/images``) with line polygons in colour by kind."""
    import io

    from PIL import Image, ImageDraw

    colours = {"paragraph": (220, 30, 30), "heading": (30, 120, 220), "list": (20, 160, 60),
               "caption": (200, 120, 0), "mixed": (160, 40, 200), "cell": (0, 160, 160),
               "page_number": (120, 120, 120)}
    tiles = []
    for rec in records:
        with Image.open(split_dir / "images" / f"{stem(split_dir.name, rec['index'])}.png") as im:
            tile = im.convert("RGB")
        draw = ImageDraw.Draw(tile)
        line_w = max(1, round(tile.width / width))
        for ln in rec["lines"]:
            pts = [tuple(p) for p in ln["points"]]
            draw.line(pts + pts[:1], fill=colours.get(ln["kind"], (255, 0, 0)), width=line_w)
        tile.thumbnail((width, int(width * 1.6)), Image.Resampling.LANCZOS)
        tiles.append(tile)
    rows = max(1, -(-len(tiles) // columns))
    cell_h = max((t.height for t in tiles), default=1)
    sheet = Image.new("RGB", (columns * (width + 8) + 8, rows * (cell_h + 8) + 8), (255, 255, 255))
    for k, tile in enumerate(tiles):
        sheet.paste(tile, (8 + (k % columns) * (width + 8), 8 + (k // columns) * (cell_h + 8)))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _finalize_split(split_dir: Path, split: str, n: int, journal: dict[int, dict], contact: int) -> dict:
    from aksar.data.det_formats import DetRegion, paddle_det_line

    records = []
    for i in range(n):
        if i not in journal:
            raise AksarError(f"{split_dir}: page {i} has no journal record; rerun page generation")
        records.append(journal[i])
    skipped: Counter = Counter()
    kinds: Counter = Counter()
    fonts: set[str] = set()
    det = []
    for rec in records:
        skipped.update(rec.get("skipped_lines", {}))
        kinds.update(ln["kind"] for ln in rec["lines"])
        fonts.update(ln["font"] for ln in rec["lines"])
        det.append(paddle_det_line(f"images/{stem(split, rec['index'])}.png",
                                   [DetRegion(ln["points"], ln["text"]) for ln in rec["lines"]]))
    meta = {"split": split, "pages": n, "lines": sum(kinds.values()), "lines_per_kind": dict(sorted(kinds.items())),
            "skipped_lines": dict(sorted(skipped.items())), "fonts_used": sorted(fonts),
            "paths_relative_to": "the split folder",
            "samples": [{"index": r["index"], "image_path": f"images/{stem(split, r['index'])}.png",
                         "page_xml": f"page/{stem(split, r['index'])}.xml", "width": r["width"],
                         "height": r["height"], "dpi": r["dpi"], "lines": len(r["lines"]),
                         "skipped_lines": r.get("skipped_lines", {}), "degrade": r.get("degrade", [])} for r in records]}
    atomic_write_text(split_dir / "det_labels.txt", "".join(d + "\n" for d in det))
    atomic_write_json(split_dir / "metadata.json", meta)
    if contact > 0 and records:
        atomic_write_bytes(split_dir / "contact_sheet.png", contact_sheet(split_dir, records[:contact]))
    return meta


# ---------------------------------------------------------------- generate

def generate_pages(cfg: PagesConfig) -> dict:
    """Render synthetic pages for the corpus splits (deterministic, resumable, shardable). Returns totals."""
    from aksar.data.render_pool import synth_fonts
    from aksar.text.corpus import corpus_hash, corpus_script

    shard_i, shard_n = parse_shard(cfg.shard)
    check_splits(cfg.splits)
    missing = [s for s in cfg.splits if not isinstance(cfg.pages.get(s), int) or cfg.pages[s] < 0]
    if missing:
        raise AksarError(f"pages: expected a page count >= 0 for split(s) {', '.join(missing)}, got {cfg.pages}")
    corpus_dir, out = Path(cfg.corpus_dir), Path(cfg.output_dir)
    script = corpus_script(corpus_dir)
    workers = resolve_workers(cfg.workers)
    settings = pages_settings(cfg, script, corpus_hash(corpus_dir), synth_fonts(script, cfg.page.synth))
    _prepare_output(out, cfg, settings)
    out.mkdir(parents=True, exist_ok=True)
    splits_meta = dict((read_marker(out, META_NAME) or {}).get("splits") or {})
    _write_meta(out, cfg, settings, splits_meta)  # the marker and settings, before any page
    run = run_id(shard_i, shard_n)
    totals: dict[str, Any] = {"splits": {}, "rendered": 0, "lines": 0, "already_done": 0, "removed_broken": 0}
    t0 = time.perf_counter()
    for split in cfg.splits:
        n = int(cfg.pages[split])
        job = SplitJob(out / split, split, n, (shard_i, shard_n), FILES, run)
        split_dir, done, removed = job.split_dir, job.done, job.removed
        log.info("%s: %d pages for this shard, %d already done, %d to render (%d broken files removed)",
                 split, len(job.mine), len(done), len(job.todo), removed)
        rendered = lines = 0
        if job.todo:
            with job.journal() as record, progress(len(job.todo), split) as bar:
                for index, png, xml, rec in _results(script, cfg, workers, split, job.todo):
                    name = stem(split, index)
                    atomic_write_bytes(split_dir / "images" / f"{name}.png", png)
                    atomic_write_text(split_dir / "page" / f"{name}.xml", xml)
                    record(rec)
                    rendered += 1
                    lines += len(rec["lines"])
                    bar.update(1)
        all_done, journal = job.finish()
        info: dict[str, Any] = {"pages": n, "rendered": rendered, "lines_rendered": lines,
                                "already_done": len(done), "removed_broken": removed}
        if len(all_done) == n:
            meta = _finalize_split(split_dir, split, n, journal, cfg.contact_pages)
            info.update(complete=True, lines=meta["lines"], skipped_lines=meta["skipped_lines"])
            splits_meta[split] = {"pages": n, "lines": meta["lines"], "skipped_lines": meta["skipped_lines"],
                                  "lines_per_kind": meta["lines_per_kind"], "fonts_used": meta["fonts_used"]}
        else:
            info.update(complete=False, missing=n - len(all_done))
        totals["splits"][split] = info
        totals["rendered"] += rendered
        totals["lines"] += lines
        totals["already_done"] += len(done)
        totals["removed_broken"] += removed
    elapsed = time.perf_counter() - t0
    _write_meta(out, cfg, settings, splits_meta)
    totals.update(elapsed_s=round(elapsed, 3), workers=workers,
                  pages_per_s=round(totals["rendered"] / elapsed, 3) if elapsed > 0 else 0.0)
    return totals


__all__ = ["PagesConfig", "generate_pages", "render_page", "contact_sheet", "own_file", "pages_settings", "KIND",
           "META_NAME"]
