"""``aksar train CONFIG [-o section.key=value ...] [--output-dir RUN] [--max-minutes M] [--resume RUN]``."""
from __future__ import annotations

import argparse
import logging

log = logging.getLogger("aksar.train")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a recognizer from a YAML config (data prepared if missing)",
        description="Train a recognizer. Missing data is prepared first (corpus from data.preset, fixed "
                    "validation set). A run directory holds config.yaml, checkpoints/{latest,best}.pt, "
                    "metrics.jsonl and tensorboard/. Multi-process: torchrun --nproc_per_node N -m aksar train ...")
    p.add_argument("config", nargs="?", help="YAML config (e.g. configs/khmer_ctc_dev.yaml); optional with --resume")
    p.add_argument("-o", "--override", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable), e.g. -o optimizer.lr=5e-4")
    p.add_argument("--output-dir", help="run directory (default: run.output_dir of the config)")
    p.add_argument("--max-minutes", type=float, help="wall-clock budget; stops with a checkpoint (run.max_minutes)")
    p.add_argument("--resume", metavar="RUN_OR_CHECKPOINT",
                   help="continue a run: its directory (uses checkpoints/latest.pt) or a checkpoint file")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aksar.core.errors import AksarError
    from aksar.models.weights import resolve_checkpoint_path
    from aksar.train.config import load_config
    from aksar.train.trainer import config_from_checkpoint, train

    overrides = list(args.override)
    if args.max_minutes is not None:
        overrides.append(f"run.max_minutes={args.max_minutes}")
    resume = None
    if args.resume:
        resume = resolve_checkpoint_path(args.resume)
    if args.config:
        cfg = load_config(args.config, overrides)
    elif resume is not None:
        cfg = config_from_checkpoint(resume, overrides)
    else:
        raise AksarError("train: give a CONFIG file, or --resume RUN to continue a run")
    run_dir = args.output_dir
    if run_dir is None and resume is not None:
        run_dir = str(resume.parent.parent if resume.parent.name == "checkpoints" else resume.parent)
    result = train(cfg, run_dir=run_dir or cfg.run.output_dir, resume=resume)
    if result.stop_reason.startswith("signal:"):
        log.info("stopped by %s; continue with: aksar train --resume %s", result.stop_reason[7:],
                 Path(result.run_dir))
    return 0
