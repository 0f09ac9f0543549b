"""Cost of document degradation: ms per op (on rendered lines) and synthesized lines/s per core.

Run: PYTHONPATH=src python benchmarks/degrade.py --script khmer --num-samples 300
Times are CPU time of this process (time.process_time), so a loaded machine skews them less.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from aksar.render.degrade import IMAGE_OPS, DegradeConfig, Degrader
from aksar.render.synth import SynthConfig, Synthesizer

TEXTS = {"khmer": ["ព្រះរាជាណាចក្រកម្ពុជា ជាតិ សាសនា ព្រះមហាក្សត្រ", "ការសិក្សា និងការអប់រំ នៅក្នុងប្រទេស ១២៣"],
         "thai": ["ภาษาไทยเป็นภาษาราชการ ของประเทศไทย", "การศึกษา และการพัฒนา ประเทศ ราคา 1,250 บาท"]}


def lines_per_s(synth: Synthesizer, texts: list[str], n: int) -> float:
    for i in range(50):  # warm-up: fonts load per process
        synth.synthesize(texts[i % len(texts)], np.random.default_rng(i))
    t = time.process_time()
    for i in range(n):
        synth.synthesize(texts[i % len(texts)], np.random.default_rng(1000 + i))
    return n / (time.process_time() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", default="khmer")
    ap.add_argument("--num-samples", dest="n", type=int, default=300)
    ap.add_argument("--n", dest="n", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # old spelling
    args = ap.parse_args()
    texts = TEXTS[args.script]
    base = Synthesizer(args.script, SynthConfig(exclude_heldout=True))
    imgs = [base.synthesize(t, np.random.default_rng(i), augment=False) for i, t in enumerate(texts * 10)]
    big = [base.renderer.render(t, base.fonts[0]) for t in texts]
    print(f"per op on 32 px lines (and on {big[0].shape[0]} px font-resolution lines), ms:")
    for op in IMAGE_OPS:
        deg = Degrader(DegradeConfig.only(op))
        for label, batch in (("32px", [s.image for s in imgs]), ("font", big * 10)):
            t = time.process_time()
            reps = max(1, args.n // len(batch))
            for r in range(reps):
                for j, img in enumerate(batch):
                    deg(img, np.random.default_rng(r * 100 + j))
            ms = (time.process_time() - t) * 1000 / (reps * len(batch))
            print(f"  {op:<13} {label:>5} {ms:7.3f}")
    for name, cfg in (("augment only (default SynthConfig)", SynthConfig(exclude_heldout=True)),
                      ("augment + degrade (default profile mix, p=0.7)",
                       SynthConfig(exclude_heldout=True, degrade=DegradeConfig(enabled=True)))):
        synth = Synthesizer(args.script, cfg)
        synth.neighbour_texts = texts
        print(f"{name}: {lines_per_s(synth, texts, args.n):.0f} lines/s per core")


if __name__ == "__main__":
    main()
