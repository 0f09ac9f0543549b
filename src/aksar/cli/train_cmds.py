"""``aksar train [CONFIG | --config CONFIG] [-o section.key=value ...] [--output-dir RUN] [--max-minutes M]
[--seed N] [--resume RUN]``."""
from __future__ import annotations

import argparse
import logging

from aksar.cli.flags import add_config, given, overrides

log = logging.getLogger("aksar.train")

TRAIN_FLAGS = {  # the few settings with a flag of their own; every other one: -o section.key=value
    "run.output_dir": "run directory (checkpoints, metrics, TensorBoard)",
    "run.max_minutes": "wall-clock budget of this invocation; stops with a checkpoint",
    "run.seed": "random seed of the run",
}


def register(sub: argparse._SubParsersAction) -> None:
    from aksar.train.config import TrainConfig

    p = sub.add_parser(
        "train", help="train a model (the config's task: recognition or detection) from a YAML config",
        description="Train the config's task (task: recognition, the default, or detection). Missing data is "
                    "prepared first (corpus from data.preset; the fixed validation set, or synthetic pages for "
                    "detection). A run directory holds config.yaml, checkpoints/{latest,best}.pt, "
                    "metrics.jsonl and tensorboard/. Multi-process: torchrun --nproc_per_node N -m aksar train ...")
    p.add_argument("config", nargs="?", metavar="CONFIG",
                   help="YAML config (e.g. configs/khmer_ctc_dev.yaml), the same as --config; optional with --resume")
    add_config(p, TrainConfig, fields=list(TRAIN_FLAGS), helps=TRAIN_FLAGS, key_aliases={"global": "run"})
    p.add_argument("--resume", metavar="RUN_OR_CHECKPOINT",
                   help="continue a run: its directory (uses checkpoints/latest.pt) or a checkpoint file")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aksar.core.errors import AksarError
    from aksar.models.weights import resolve_checkpoint_path
    from aksar.train.config import load_config
    from aksar.train.trainer import config_from_checkpoint, train

    if args.config and args.config_file:
        raise AksarError(f"train: two configs given ({args.config} and --config {args.config_file}); give one")
    path = args.config or args.config_file
    items = overrides(args)  # -o, then the typed flags: they win
    resume = resolve_checkpoint_path(args.resume) if args.resume else None
    if path:
        cfg = load_config(path, items)
    elif resume is not None:
        cfg = config_from_checkpoint(resume, items)
    else:
        raise AksarError("train: give a CONFIG file, or --resume RUN to continue a run")
    run_dir = given(args, "run.output_dir")
    if run_dir is None and resume is not None:
        run_dir = str(resume.parent.parent if resume.parent.name == "checkpoints" else resume.parent)
    result = train(cfg, run_dir=run_dir or cfg.run.output_dir, resume=resume)
    if result.stop_reason.startswith("signal:"):
        log.info("stopped by %s; continue with: aksar train --resume %s", result.stop_reason[7:],
                 Path(result.run_dir))
    return 0
