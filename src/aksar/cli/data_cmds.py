"""CLI: ``aksar generate``, ``aksar valset``, ``aksar dataset stats|to-lmdb`` (thin wrappers)."""
from __future__ import annotations

import argparse
import json
import logging
from typing import Any

log = logging.getLogger("aksar")


def _add_synth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--synth-config", metavar="YAML",
                   help="YAML with synthesizer settings (render, augment, fonts, font_dirs, exclude_fonts)")
    p.add_argument("--font", action="append", default=None, metavar="NAME_OR_PATH",
                   help="use this font (repeatable; default: every installed font of the script)")
    p.add_argument("--font-dir", action="append", default=None, metavar="DIR", help="extra font folder")


def _synth_config(args: argparse.Namespace) -> Any:
    from aksar.core.config import from_dict, load_yaml
    from aksar.render.synth import SynthConfig

    data = load_yaml(args.synth_config) if args.synth_config else {}
    cfg = from_dict(SynthConfig, data, prefix="synth")
    if args.font:
        cfg.fonts = list(args.font)
    if args.font_dir:
        cfg.font_dirs = list(cfg.font_dirs) + list(args.font_dir)
    return cfg


def _workers_help() -> str:
    return "worker processes (default: one per core; 0 = render in this process)"


def register(sub: argparse._SubParsersAction) -> None:
    from aksar.data.generate import SPLITS, GenerateConfig
    from aksar.data.valset import ValsetConfig

    g_def = GenerateConfig.__dataclass_fields__
    p = sub.add_parser("generate", help="pre-generate synthetic line images (resumable, shardable)",
                       description="Render corpus splits to OUT/{split}/{images,labels}/ with metadata. "
                                   "Deterministic and resumable: rerun the same command to finish a "
                                   "stopped job.")
    p.add_argument("--corpus-dir", default=g_def["corpus_dir"].default, help="built corpus (default: %(default)s)")
    p.add_argument("--output-dir", default=g_def["output_dir"].default, help="default: %(default)s")
    p.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS), help="default: all")
    p.add_argument("--max-lines", type=int, default=g_def["max_lines"].default,
                   help="at most this many lines per split (default: all)")
    p.add_argument("--no-augment", action="store_true", help="no augmentation (default: train split only)")
    p.add_argument("--stats", action="store_true", help="only print statistics of what exists in --output-dir")
    p.add_argument("--workers", type=int, default=g_def["workers"].default, help=_workers_help())
    p.add_argument("--seed", type=int, default=g_def["seed"].default, help="default: %(default)s")
    p.add_argument("--shard", default=g_def["shard"].default, metavar="i/N",
                   help="render only indices with index %% N == i (split one job over machines)")
    p.add_argument("--overwrite", action="store_true", default=g_def["overwrite"].default,
                   help="start again: delete the files generate wrote in --output-dir (only those), also when "
                        "the folder holds other files or output made with other settings")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_synth_args(p)
    p.set_defaults(func=cmd_generate)

    v = ValsetConfig()
    p = sub.add_parser("valset", help="build (or check) the fixed validation set",
                       description="Render a fixed, byte-reproducible validation set from the val split "
                                   "(hash-based font choice, no augmentation unless --augment).")
    p.add_argument("--corpus-dir", default=v.corpus_dir, help="default: %(default)s")
    p.add_argument("--output-dir", default=v.output_dir, help="default: %(default)s")
    p.add_argument("--num-samples", type=int, default=v.num_samples, help="default: %(default)s")
    p.add_argument("--random-seed", type=int, default=v.random_seed, help="default: %(default)s")
    p.add_argument("--augment", action="store_true", default=v.augment, help="augment the images")
    p.add_argument("--split", default=v.split, help="corpus split the texts come from (default: %(default)s)")
    p.add_argument("--workers", type=int, default=v.workers, help=_workers_help())
    p.add_argument("--overwrite", action="store_true", default=v.overwrite,
                   help="write into a folder valset did not create, deleting only the files valset writes")
    p.add_argument("--validate-only", action="store_true",
                   help="check counts, sha256 and labels of an existing set; name every bad file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_synth_args(p)
    p.set_defaults(func=cmd_valset)

    p = sub.add_parser("dataset", help="inspect and convert line-image datasets")
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION")
    s = dsub.add_parser("stats", help="counts, sizes, label lengths, charset coverage, bad files",
                        description="PATH: a labels.tsv folder or list file, an LMDB folder, a pre-generated "
                                    "split or root.")
    s.add_argument("path")
    s.add_argument("--charset", help="charset.txt for coverage (default: found next to the data/corpus)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_dataset_stats)
    s = dsub.add_parser("to-lmdb", help="write a dataset to LMDB (PaddleOCR/PARSeq layout)")
    s.add_argument("src", help="labels.tsv folder or list file, pre-generated split, or LMDB")
    s.add_argument("out", help="new LMDB folder")
    s.set_defaults(func=cmd_dataset_to_lmdb)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _print(obj: dict, as_json: bool, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2) if as_json else text)


def cmd_generate(args: argparse.Namespace) -> int:
    from aksar.data.generate import GenerateConfig, generate
    from aksar.data.stats import dataset_stats, format_stats

    if args.stats:
        stats = dataset_stats(args.output_dir)
        _print(stats, args.json, format_stats(stats))
        return 0
    cfg = GenerateConfig(corpus_dir=args.corpus_dir, output_dir=args.output_dir, splits=list(args.splits),
                         max_lines=args.max_lines, augment=not args.no_augment, workers=args.workers,
                         seed=args.seed, shard=args.shard, overwrite=args.overwrite, synth=_synth_config(args))
    result = generate(cfg)
    lines = [f"generated into {cfg.output_dir} with {result['workers']} worker(s): {result['rendered']} images "
             f"in {result['elapsed_s']} s ({result['images_per_s']} images/s)"]
    for split, info in result["splits"].items():
        state = (f"complete, {info['total_samples']} pairs" if info["complete"]
                 else f"incomplete, {info['missing']} missing (other shards)")
        lines.append(f"  {split}: {state}; rendered {info['rendered']}, already done {info['already_done']}, "
                     f"unrenderable {info['skipped_unrenderable']}, broken files removed {info['removed_broken']}")
    _print(result, args.json, "\n".join(lines))
    return 0


def cmd_valset(args: argparse.Namespace) -> int:
    from aksar.data.valset import ValsetConfig, build_valset, validate_valset

    if args.validate_only:
        result = validate_valset(args.output_dir)
        _print(result, args.json, f"{args.output_dir}: OK, {result['num_samples']} images, every sha256 and "
                                  "label matches metadata.json")
        return 0
    cfg = ValsetConfig(corpus_dir=args.corpus_dir, output_dir=args.output_dir, num_samples=args.num_samples,
                       random_seed=args.random_seed, augment=args.augment, split=args.split,
                       workers=args.workers, overwrite=args.overwrite, synth=_synth_config(args))
    result = build_valset(cfg)
    _print(result, args.json,
           f"validation set: {result['num_samples']} images in {result['output_dir']} "
           f"({result['images_per_s']} images/s, {result['workers']} worker(s)); "
           f"{result['skipped_unrenderable']} unrenderable texts skipped; fonts: {', '.join(result['fonts_used'])}")
    return 0


def cmd_dataset_stats(args: argparse.Namespace) -> int:
    from aksar.data.stats import dataset_stats, format_stats

    stats = dataset_stats(args.path, charset=args.charset)
    _print(stats, args.json, format_stats(stats))
    return 0


def cmd_dataset_to_lmdb(args: argparse.Namespace) -> int:
    from aksar.data.lmdb_io import write_lmdb
    from aksar.data.readers import open_dataset

    result = write_lmdb(open_dataset(args.src), args.out)
    skipped = ", ".join(f"{k}={v}" for k, v in sorted(result["skipped"].items())) or "none"
    print(f"wrote {result['written']} samples to {result['output']} (skipped: {skipped})")
    for p in result["problems"][:50]:
        print(f"  skipped {p}")
    return 0
