"""Training throughput per preset model: samples/s and the data loader's share of step time.

Runs the real trainer (on-the-fly rendering, DataLoader workers as configured) for each preset config
for ``--warmup`` steps (worker start, font loading) and then ``--steps`` measured steps, and reads the
measured window from metrics.jsonl (reader_cost = time waiting for the next batch, batch_cost = whole
step). Validation is cut to 16 images and uses the dev validation set, so nothing large is built.

    .venv/bin/python benchmarks/train.py                      # all default presets, markdown table
    .venv/bin/python benchmarks/train.py --configs configs/khmer_ctc_dev.yaml --steps 20
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from pathlib import Path

import torch

from aksar.train.config import load_config
from aksar.train.trainer import train

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["khmer_ctc_dev", "khmer_seq2seq_dev", "thai_char_dev", "khmer_ctc_main", "khmer_seq2seq_main",
           "khmer_ctc_prod", "khmer_seq2seq_prod"]


def measure(config: Path, warmup: int, steps: int, device: str, extra: list[str] | None = None) -> dict:
    """Train ``warmup + steps`` steps of ``config`` (plus ``extra`` -o overrides) and read the timings."""
    extra = list(extra or [])
    base = load_config(config, extra)
    own_val = any(o.startswith("data.val_dir=") for o in extra)
    val_dir = base.data.val_dir if ("_dev" in config.stem or own_val) else f"data/{base.data.preset}_dev/validation"
    overrides = [f"run.max_steps={warmup + steps}", "run.val_every_steps=0", f"run.device={device}",
                 f"logging.log_every_steps={warmup}", "logging.tensorboard=false", "data.val_max_samples=16",
                 f"data.val_dir={val_dir}", "early_stopping.patience=null", "run.epochs=1000", *extra]
    if base.data.val_dir != val_dir:  # main/prod: borrow the dev validation set (built if missing)
        dev = load_config(ROOT / "configs" / f"{base.data.preset}_ctc_dev.yaml")
        from aksar.train.prepare import prepare_data

        prepare_data(dev)
    cfg = load_config(config, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        t0 = time.time()
        train(cfg, run_dir=run)
        records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train_recs = [r for r in records if r["type"] == "train"]
    # first record: warm-up window; later records: measured (steps must be a multiple of warmup)
    measured = train_recs[1:]
    batch_cost = sum(r["batch_cost"] for r in measured) / len(measured)
    reader_cost = sum(r["reader_cost"] for r in measured) / len(measured)
    bs = cfg.data.batch_size if isinstance(cfg.data.batch_size, int) else 32
    return {"config": config.stem, "model": cfg.model.name, "precision": cfg.run.precision, "batch": bs, "height": cfg.data.preprocess.height,
            "workers": cfg.data.num_workers, "samples_per_s": bs / batch_cost, "batch_cost": batch_cost,
            "reader_cost": reader_cost, "loader_share": reader_cost / batch_cost, "wall_s": time.time() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="*", default=[str(ROOT / "configs" / f"{n}.yaml") for n in DEFAULT])
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="measured steps (a multiple of --warmup)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", nargs="*", default=None,
                    help="measure each of these model names with the first config (sets model.name)")
    ap.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                    help="extra config override for every run (e.g. data.num_workers=14, run.precision=bf16)")
    args = ap.parse_args()
    if args.steps % args.warmup:
        ap.error("--steps must be a multiple of --warmup")
    logging.basicConfig(level=logging.WARNING)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}", flush=True)
    print("| preset | model | precision | batch | height | workers | samples/s | step (s) | loader wait (s) "
          "| loader share |")
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    runs = [(Path(c), []) for c in args.configs]
    if args.models:
        runs = [(Path(args.configs[0]), [f"model.name={m}"]) for m in args.models]
    for config, model_override in runs:
        r = measure(config, args.warmup, args.steps, args.device, args.override + model_override)
        print(f"| {r['config']} | {r['model']} | {r['precision']} | {r['batch']} | {r['height']} | {r['workers']} | "
              f"{r['samples_per_s']:.1f} | {r['batch_cost']:.3f} | {r['reader_cost']:.3f} | "
              f"{100 * r['loader_share']:.0f}% |", flush=True)

if __name__ == "__main__":
    main()
