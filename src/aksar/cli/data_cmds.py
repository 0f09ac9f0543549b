"""CLI: ``aksar generate``, ``aksar pages``, ``aksar valset``, ``aksar dataset stats|to-lmdb`` (thin wrappers)."""
from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from aksar.cli.configs import DatasetStatsConfig, ToLmdbConfig
from aksar.cli.flags import SPEC, add_config, check_data, load_config_file, resolve

log = logging.getLogger("aksar")


def _add_synth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--synth-config", metavar="YAML",
                   help="YAML with synthesizer settings (render, augment, fonts, font_dirs, exclude_fonts); "
                        "the same as a synth: section of --config, under -o and the flags")
    p.add_argument("--font", action="append", default=None, metavar="NAME_OR_PATH",
                   help="use this font (repeatable; default: every installed font of the script)")
    p.add_argument("--font-dir", action="append", default=None, metavar="DIR", help="extra font folder")


def _resolve_with_synth(args: argparse.Namespace) -> Any:
    """The command's config with --synth-config (over --config's synth section), --font and --font-dir."""
    from aksar.core.config import load_yaml

    data = load_config_file(args)
    if args.synth_config:
        data["synth"] = load_yaml(args.synth_config)
        check_data(getattr(args, SPEC).cls, {"synth": data["synth"]}, args.synth_config)
    cfg = resolve(args, data)
    if args.font:
        cfg.synth.fonts = list(args.font)
    if args.font_dir:
        cfg.synth.font_dirs = list(cfg.synth.font_dirs) + list(args.font_dir)
    return cfg


LAYOUTS = ("files", "webdataset")  # GenerateConfig.format


class _FormatOrLayout(argparse.Action):
    """generate's ``--format``: text/json is how the summary prints, files/webdataset the dataset layout
    (``--format webdataset --json`` gives both)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, "layout" if value in LAYOUTS else self.dest, value)


WORKERS_HELP = "worker processes (default: one per core; 0 = render in this process)"
GENERATE_HELP = {  # GenerateConfig (aksar.data.generate) keeps its fields free of CLI metadata
    "corpus_dir": "built corpus", "output_dir": "where OUT/{split}/{images,labels}/ go",
    "splits": "corpus splits to render", "max_lines": "at most this many lines per split",
    "augment": "augment the train split (val/test never are)", "workers": WORKERS_HELP, "seed": "random seed",
    "shard": "render only indices with index % N == i (split one job over machines)",
    "overwrite": "start again: delete the files generate wrote in --output-dir (only those), also when the "
                 "folder holds other files or output made with other settings",
    "format": "files: OUT/{split}/{images,labels}/; webdataset: OUT/{split}/{split}_NNNNNN.tar shards + index.json",
    "shard_size": "webdataset: samples per tar shard", "image_format": "webdataset: image encoding in the shards",
}
PAGES_HELP = {  # PagesConfig (aksar.data.pages)
    "corpus_dir": "built corpus", "output_dir": "where OUT/{split}/{images,page,det_labels.txt} go",
    "splits": "corpus splits to render", "workers": WORKERS_HELP, "seed": "random seed",
    "pages": "pages per split (e.g. -o pages.train=500)",
    "shard": "render only indices with index % N == i (split one job over machines)",
    "overwrite": "start again: delete the files pages wrote in --output-dir (only those)",
    "contact_pages": "pages drawn with their line polygons on each split's contact_sheet.png",
}
VALSET_HELP = {  # ValsetConfig (aksar.data.valset)
    "corpus_dir": "built corpus", "output_dir": "the validation set folder", "num_samples": "images",
    "random_seed": "seed of texts and fonts", "augment": "augment the images",
    "split": "corpus split the texts come from", "workers": WORKERS_HELP,
    "overwrite": "write into a folder valset did not create, deleting only the files valset writes",
}


def register(sub: argparse._SubParsersAction) -> None:
    from aksar.data.generate import SPLITS, GenerateConfig
    from aksar.data.pages import PagesConfig
    from aksar.data.valset import ValsetConfig
    from aksar.data.wds_write import IMAGE_FORMATS

    p = sub.add_parser("generate", help="pre-generate synthetic line images (resumable, shardable)",
                       description="Render corpus splits to OUT/{split}/{images,labels}/ with metadata. "
                                   "Deterministic and resumable: rerun the same command to finish a "
                                   "stopped job.")
    add_config(p, GenerateConfig, helps=GENERATE_HELP, metavars={"shard": "i/N"}, names={"format": "--dataset-format"},
               choices={"splits": SPLITS, "format": LAYOUTS, "image_format": IMAGE_FORMATS})
    p.add_argument("--format", choices=("text", "json", *LAYOUTS), action=_FormatOrLayout, default="text",
                   help="the summary as text or json, or the dataset layout: files or webdataset (the same as "
                        "--dataset-format) (default: text)")
    p.add_argument("--json", dest="format", action="store_const", const="json", help=argparse.SUPPRESS)
    p.add_argument("--stats", action="store_true", help="only print statistics of what exists in --output-dir")
    _add_synth_args(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("pages", help="synthetic pages with exact line polygons (text-line detection data)",
                       description="Render pages (columns, headings, lists, tables; scan and photo "
                                   "degradation) from corpus splits, with each line's ink polygon, text and "
                                   "reading order as PaddleOCR detection labels and PAGE-XML. Deterministic, "
                                   "resumable and shardable like generate.")
    add_config(p, PagesConfig, helps=PAGES_HELP, choices={"splits": SPLITS}, metavars={"shard": "i/N"},
               formats=("text", "json"))
    p.add_argument("--font", action="append", default=None, metavar="NAME_OR_PATH",
                   help="use this font (repeatable; default: every installed font of the script)")
    p.set_defaults(func=cmd_pages)

    p = sub.add_parser("valset", help="build (or check) the fixed validation set",
                       description="Render a fixed, byte-reproducible validation set from the val split "
                                   "(hash-based font choice, no augmentation unless --augment).")
    add_config(p, ValsetConfig, helps=VALSET_HELP, names={"random_seed": "--seed"},
               aliases={"random_seed": ["--random-seed"]}, formats=("text", "json"))
    p.add_argument("--validate-only", action="store_true",
                   help="check counts, sha256 and labels of an existing set; name every bad file")
    _add_synth_args(p)
    p.set_defaults(func=cmd_valset)

    p = sub.add_parser("dataset", help="inspect and convert line-image datasets")
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION")
    s = dsub.add_parser("stats", help="counts, sizes, label lengths, charset coverage, bad files",
                        description="PATH: a labels.tsv folder or list file, an LMDB folder, a pre-generated "
                                    "split or root.")
    s.add_argument("path")
    add_config(s, DatasetStatsConfig, formats=("text", "json"))
    s.set_defaults(func=cmd_dataset_stats)
    s = dsub.add_parser("to-lmdb", help="write a dataset to LMDB (PaddleOCR/PARSeq layout)")
    add_config(s, ToLmdbConfig, positional={"src": "SRC", "output_dir": "OUT"}, required=("src", "output_dir"))
    s.set_defaults(func=cmd_dataset_to_lmdb)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _print(obj: dict, fmt: str, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2) if fmt == "json" else text)


def _job_summary(head: str, result: dict, complete: Any, skipped: Any) -> list[str]:
    """Console lines of a resumable job (generate, pages): the totals, then one line per split."""
    lines = [head]
    for split, info in result["splits"].items():
        state = (f"complete, {complete(info)}" if info["complete"]
                 else f"incomplete, {info['missing']} missing (other shards)")
        lines.append(f"  {split}: {state}; rendered {info['rendered']}, already done {info['already_done']}, "
                     f"{skipped(info)}, broken files removed {info['removed_broken']}")
    return lines


def cmd_generate(args: argparse.Namespace) -> int:
    from aksar.data.generate import generate
    from aksar.data.stats import dataset_stats, format_stats

    if getattr(args, "layout", None):  # --format webdataset
        args.override = [*args.override, f"format={args.layout}"]
    cfg = _resolve_with_synth(args)
    if args.stats:
        stats = dataset_stats(cfg.output_dir)
        _print(stats, args.format, format_stats(stats))
        return 0
    result = generate(cfg)
    head = (f"generated into {cfg.output_dir} with {result['workers']} worker(s): {result['rendered']} images "
            f"in {result['elapsed_s']} s ({result['images_per_s']} images/s)")
    lines = _job_summary(head, result, lambda i: f"{i['total_samples']} pairs"
                         + (f" in {i['shards']} tar shards" if "shards" in i else ""),
                         lambda i: f"unrenderable {i['skipped_unrenderable']}")
    _print(result, args.format, "\n".join(lines))
    return 0


def cmd_pages(args: argparse.Namespace) -> int:
    from aksar.data.pages import generate_pages

    cfg = resolve(args)
    if args.font:
        cfg.page.synth.fonts = list(args.font)
    result = generate_pages(cfg)
    head = (f"pages into {cfg.output_dir} with {result['workers']} worker(s): {result['rendered']} pages, "
            f"{result['lines']} lines in {result['elapsed_s']} s ({result['pages_per_s']} pages/s)")
    lines = _job_summary(head, result, lambda i: f"{i['pages']} pages, {i['lines']} lines",
                         lambda i: f"lines skipped {sum((i.get('skipped_lines') or {}).values())}")
    _print(result, args.format, "\n".join(lines))
    return 0


def cmd_valset(args: argparse.Namespace) -> int:
    from aksar.data.valset import build_valset, validate_valset

    cfg = _resolve_with_synth(args)
    if args.validate_only:
        result = validate_valset(cfg.output_dir)
        _print(result, args.format, f"{cfg.output_dir}: OK, {result['num_samples']} images, every sha256 and "
                                  "label matches metadata.json")
        return 0
    result = build_valset(cfg)
    _print(result, args.format,
           f"validation set: {result['num_samples']} images in {result['output_dir']} "
           f"({result['images_per_s']} images/s, {result['workers']} worker(s)); "
           f"{result['skipped_unrenderable']} unrenderable texts skipped; fonts: {', '.join(result['fonts_used'])}")
    return 0


def cmd_dataset_stats(args: argparse.Namespace) -> int:
    from aksar.data.stats import dataset_stats, format_stats

    stats = dataset_stats(args.path, charset=resolve(args).charset)
    _print(stats, args.format, format_stats(stats))
    return 0


def cmd_dataset_to_lmdb(args: argparse.Namespace) -> int:
    from aksar.data.lmdb_io import write_lmdb
    from aksar.data.readers import open_dataset

    cfg = resolve(args)
    result = write_lmdb(open_dataset(cfg.src), cfg.output_dir)
    skipped = ", ".join(f"{k}={v}" for k, v in sorted(result["skipped"].items())) or "none"
    print(f"wrote {result['written']} samples to {result['output']} (skipped: {skipped})")
    for p in result["problems"][:50]:
        print(f"  skipped {p}")
    return 0
