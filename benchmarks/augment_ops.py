"""CPU cost of each augmentation and degradation op, in ms per line, on real rendered lines.

    PYTHONPATH=src python benchmarks/augment_ops.py --script khmer --num-samples 200 [--json OUT] [--compare BEFORE]

Lines are rendered once up front (font resolution, the default SynthConfig); each op then runs alone
(p=1) on every line with its own seeded Generator, timed with time.process_time (CPU time of this
process, so a loaded machine skews it less; the fastest of --repeat passes counts). ``augment (default)`` is the whole Augmenter at its default
probabilities, ``degrade (default)`` the whole Degrader with its default profile mix, and
``resize_to_height`` the synthesizer's final resize. ``--compare`` prints a JSON of an earlier run
beside this one.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from typing import Callable

import numpy as np

from aksar.render.augment import OP_ORDER, AugmentConfig, Augmenter
from aksar.render.degrade import IMAGE_OPS, DegradeConfig, Degrader, Plan
from aksar.render.synth import SynthConfig, Synthesizer, resize_to_height
from aksar.text.corpus import CorpusConfig, filter_lines
from aksar.text.presets import preset_lines


def ms_per_line(fn: Callable[[np.ndarray, np.random.Generator], object], imgs: list[np.ndarray],
                repeat: int) -> float:
    """CPU ms of ``fn(img, rng)`` per line: the fastest of ``repeat`` passes over the lines (fresh seeds
    each pass; the minimum is what the op costs, the other passes what a shared machine added)."""
    for i, img in enumerate(imgs[:5]):  # warm-up: lazy imports, caches
        fn(img, np.random.default_rng(i))
    best = float("inf")
    for r in range(repeat):
        t = time.process_time()
        for i, img in enumerate(imgs):
            fn(img, np.random.default_rng(r * len(imgs) + i))
        best = min(best, time.process_time() - t)
    return best * 1000 / len(imgs)


def render_lines(script: str, n: int) -> tuple[Synthesizer, list[np.ndarray]]:
    synth = Synthesizer(script, SynthConfig())
    lines = list(itertools.islice(filter_lines(preset_lines(script), CorpusConfig(script=script)), n))
    imgs = []
    for i, text in enumerate(lines):
        font = synth.pick_font(text, np.random.default_rng(i))
        if font is not None:
            imgs.append(synth.renderer.render(text, font))
    return synth, imgs


def measure(synth: Synthesizer, imgs: list[np.ndarray], repeat: int) -> dict[str, float]:
    rows: dict[str, float] = {}
    for op in OP_ORDER:
        aug = Augmenter(AugmentConfig.only(op))
        rows[f"augment.{op}"] = ms_per_line(lambda im, rng: aug(im, rng), imgs, repeat)
    full = Augmenter(AugmentConfig())
    rows["augment (default)"] = ms_per_line(lambda im, rng: full(im, rng), imgs, repeat)
    height = synth.cfg.render.height
    rows["resize_to_height"] = ms_per_line(lambda im, rng: resize_to_height(im, height), imgs, repeat)

    deg = Degrader(DegradeConfig(enabled=True))
    rows["degrade.resample"] = ms_per_line(lambda im, rng: deg.resample(im, 0.3, rng), imgs, repeat)
    plan = Plan("bench", {"margins": True, "neighbours": True})
    rows["degrade.recrop (margins+neighbours)"] = ms_per_line(
        lambda im, rng: deg.recrop(im, 20.0, rng, plan, im), imgs, repeat)
    for op in IMAGE_OPS:
        one = Degrader(DegradeConfig.only(op))
        rows[f"degrade.{op}"] = ms_per_line(lambda im, rng: one(im, rng), imgs, repeat)
    rows["degrade (default)"] = ms_per_line(lambda im, rng: deg(im, rng), imgs, repeat)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--script", default="khmer")
    ap.add_argument("--num-samples", dest="n", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="passes per op; the fastest counts")
    ap.add_argument("--json", metavar="OUT", help="also write the numbers to this JSON file")
    ap.add_argument("--compare", metavar="BEFORE", help="a JSON of an earlier run to print beside this one")
    args = ap.parse_args()
    synth, imgs = render_lines(args.script, args.n)
    shapes = np.array([im.shape for im in imgs])
    rows = measure(synth, imgs, args.repeat)
    before = json.loads(open(args.compare, encoding="utf-8").read())["ms_per_line"] if args.compare else {}
    print(f"{args.script}: {len(imgs)} lines at font resolution (mean {shapes[:, 0].mean():.0f} x "
          f"{shapes[:, 1].mean():.0f} px), CPU ms per line, each op alone at p=1")
    head = f"  {'op':<38} {'before':>8} {'after':>8} {'speed-up':>8}" if before else f"  {'op':<38} {'ms':>8}"
    print(head)
    for name, ms in rows.items():
        if name in before:
            print(f"  {name:<38} {before[name]:8.3f} {ms:8.3f} {before[name] / max(ms, 1e-9):7.1f}x")
        else:
            print(f"  {name:<38} {ms:8.3f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"script": args.script, "lines": len(imgs), "ms_per_line": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
