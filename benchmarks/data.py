"""Benchmark of the data layer, all numbers from one run.

- ``aksar generate`` images/s with 1 and 2 workers (train split, augmentation on), disk per 1,000 images;
- the on-the-fly training loader's samples/s with 0, 1 and 2 DataLoader workers;
- RSS of on-the-fly epochs (main process + workers) epoch after epoch: it must stay flat.

Usage::

    .venv/bin/python benchmarks/data.py [--corpus-dir DIR] [--images 600] [--samples 512] [--epochs 8]
                                       [--out data_bench.md]  (then copy the tables into BENCHMARKS.md)

Without ``--corpus-dir`` a Khmer corpus is built from the preset (3,000 lines) in a temp folder.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_generate(corpus: Path, work: Path, images: int, workers: int) -> dict:
    from aksar.data.generate import GenerateConfig, generate

    out = work / f"gen_w{workers}"
    t0 = time.perf_counter()
    result = generate(GenerateConfig(corpus_dir=str(corpus), output_dir=str(out), splits=["train"],
                                     max_lines=images, workers=workers, seed=1))
    wall = time.perf_counter() - t0
    n = result["splits"]["train"]["total_samples"]
    disk = dir_bytes(out / "train" / "images") + dir_bytes(out / "train" / "labels")
    meta = dir_bytes(out / "train") - disk
    shutil.rmtree(out)
    return {"workers": workers, "images": n, "wall_s": wall, "images_per_s": n / wall,
            "render_images_per_s": result["images_per_s"], "disk_mb_per_1000": disk / n * 1000 / 2**20,
            "meta_mb_per_1000": meta / n * 1000 / 2**20}


def bench_loader(corpus: Path, samples: int, workers: int, epochs: int, batch_size: int = 32) -> dict:
    from aksar.data.onthefly import OnTheFlyDataset, make_train_loader, set_loader_epoch
    from aksar.render.synth import SynthConfig

    ds = OnTheFlyDataset(corpus, SynthConfig(), samples_per_epoch=samples, seed=1)
    loader = make_train_loader(ds, batch_size, num_workers=workers, drop_last=True)
    per_epoch, rss = [], []
    t_start = time.perf_counter()
    first_batch_s = None
    for epoch in range(epochs):
        set_loader_epoch(loader, epoch)
        t0 = time.perf_counter()
        n = 0
        for batch in loader:
            if first_batch_s is None:
                first_batch_s = time.perf_counter() - t_start
            n += batch["images"].shape[0]
        per_epoch.append(n / (time.perf_counter() - t0))
        pids = [os.getpid()]
        it = getattr(loader, "_iterator", None)
        if it is not None and getattr(it, "_workers", None):
            pids += [w.pid for w in it._workers]
        rss.append(rss_mb(pids))
    steady = per_epoch[1:] or per_epoch
    return {"workers": workers, "samples_per_s_epoch1": per_epoch[0], "samples_per_s_steady": sum(steady) / len(steady),
            "first_batch_s": first_batch_s, "rss_mb": rss}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus-dir")
    ap.add_argument("--images", type=int, default=600, help="images per generate run")
    ap.add_argument("--samples", type=int, default=512, help="on-the-fly samples per epoch")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per loader speed run")
    ap.add_argument("--rss-epochs", type=int, default=8, help="epochs of the RSS run (2 workers)")
    ap.add_argument("--out", help="write the markdown report here")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aksar-bench-data-"))
    try:
        if args.corpus_dir:
            corpus = Path(args.corpus_dir)
        else:
            from aksar.text.corpus import CorpusConfig, build_corpus

            corpus = work / "corpus"
            build_corpus(None, CorpusConfig(max_lines=3000), corpus, preset="khmer")
        from aksar.text.corpus import corpus_script

        gen = [bench_generate(corpus, work, args.images, w) for w in (1, 2)]
        load = [bench_loader(corpus, args.samples, w, args.epochs) for w in (0, 1, 2)]
        rss = bench_loader(corpus, args.samples // 2, 2, args.rss_epochs)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True, text=True).stdout.split(":")
    lines = [
        "# Data layer benchmark",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- machine: {os.cpu_count()} CPUs (`nproc`: {len(os.sched_getaffinity(0))}), "
        f"{cpu[-1].strip() if len(cpu) > 1 else platform.processor()}, Python {platform.python_version()}",
        f"- corpus: {'given' if args.corpus_dir else 'Khmer preset, 3,000 lines'} (script {corpus_script(corpus) if args.corpus_dir else 'khmer'}), "
        "all installed fonts of the script, default SynthConfig (height 32, augmentation on for train)",
        "",
        "## `aksar generate` (train split, augmentation on)",
        "",
        "| workers | images | wall s (incl. start) | images/s (wall) | images/s (render loop) | MB per 1,000 images (png+txt) | metadata MB per 1,000 |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in gen:
        lines.append(f"| {g['workers']} | {g['images']} | {g['wall_s']:.1f} | {g['images_per_s']:.0f} | "
                     f"{g['render_images_per_s']:.0f} | {g['disk_mb_per_1000']:.2f} | {g['meta_mb_per_1000']:.2f} |")
    lines += [
        "",
        f"## On-the-fly loader (batch 32, {args.samples} samples/epoch, {args.epochs} epochs, persistent workers)",
        "",
        "| DataLoader workers | samples/s epoch 1 (incl. worker start) | samples/s later epochs | first batch after s |",
        "|---|---|---|---|",
    ]
    for r in load:
        lines.append(f"| {r['workers']} | {r['samples_per_s_epoch1']:.0f} | {r['samples_per_s_steady']:.0f} | "
                     f"{r['first_batch_s']:.2f} |")
    lines += [
        "",
        f"## RSS across on-the-fly epochs (2 workers, {args.samples // 2} samples/epoch, main + workers)",
        "",
        "| epoch | " + " | ".join(str(i) for i in range(len(rss["rss_mb"]))) + " |",
        "|---" * (len(rss["rss_mb"]) + 1) + "|",
        "| RSS MB | " + " | ".join(f"{v:.0f}" for v in rss["rss_mb"]) + " |",
        "",
        f"Growth from epoch 1 to the last: {rss['rss_mb'][-1] - rss['rss_mb'][1]:+.1f} MB.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
