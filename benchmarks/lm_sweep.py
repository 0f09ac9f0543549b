"""Choose a recognizer's LM weight and bonus on validation lines (never on the evaluation sets).

    python benchmarks/lm_sweep.py --model runs/thai/model.onnx --lm data/thai/lm.json.gz \
        --data data/thai/validation_fixed --lines 400 --json sweep.json

Reads the same lines greedily, with beam search alone, and with beam search and the LM at every
``--weights`` x ``--bonuses`` pair; prints CER per ``--data`` set, their mean and lines/s per setting,
best first, and the pair with the lowest mean. Several sets (the val-split tuning copy of the evaluation
sets, ``aksar evalset build --split val``) weigh clean, degraded and low-resolution lines alike.
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from aksar.core.errors import AksarError
from aksar.infer.evaluate import EvalConfig, evaluate
from aksar.infer.recognizer import Recognizer
from aksar.text.charlm import CharLM


def run(model: str, data: str, lines: int, threads: int, preprocess: dict | None = None, **kwargs) -> dict:
    """CER and speed of one decoder setting on the first ``lines`` of ``data``; ``preprocess``: keys of the
    model's preprocessing to override (``trim_margin``, ``trim_to``)."""
    rec = Recognizer(model, threads=threads, **kwargs)
    for key, value in (preprocess or {}).items():
        setattr(rec.preprocess, key, value)
    report, _, _ = evaluate(rec, data, EvalConfig(max_lines=lines), progress=False)
    return {"cer": report["metrics"]["raw"]["cer"], "lines": report["counts"]["lines"],
            "lines_per_s": report["speed"]["lines_per_second"]}


def run_sets(model: str, sets: list[str], lines: int, threads: int, **kwargs) -> dict:
    """``run`` on every set: CER per set (by folder name), their mean, and the mean lines/s."""
    results = {Path(d).name: run(model, d, lines, threads, **kwargs) for d in sets}
    cers = {name: r["cer"] for name, r in results.items()}
    return {"cer": cers, "mean": sum(cers.values()) / len(cers),
            "lines_per_s": sum(r["lines_per_s"] for r in results.values()) / len(results)}


def print_table(rows: list[dict], keys: list[str]) -> None:
    """A markdown table of sweep rows: the ``keys`` columns, CER per set, the mean, lines/s."""
    names = list(rows[0]["cer"])
    print("\n| " + " | ".join(keys + names) + " | mean | lines/s |\n|" + "---|" * len(keys)
          + "---:|" * (len(names) + 2))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "")) for k in keys) + " | "
              + " | ".join(f"{r['cer'][n]:.2%}" for n in names) + f" | {r['mean']:.2%} | {r['lines_per_s']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="shipped model name, .onnx or checkpoint")
    ap.add_argument("--lm", required=True, help="character LM (aksar lm build), or 'shipped'")
    ap.add_argument("--data", nargs="+", required=True,
                    help="validation or tuning line sets (any dataset format aksar reads); the mean CER decides")
    ap.add_argument("--lines", type=int, default=400, help="first N lines of each --data set (default 400)")
    ap.add_argument("--weights", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6])
    ap.add_argument("--bonuses", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0, 2.5])
    ap.add_argument("--beam-width", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the rows and the best pair here")
    args = ap.parse_args(argv)
    try:
        lm = "shipped" if args.lm == "shipped" else CharLM.load(args.lm)
        common = dict(model=args.model, sets=args.data, lines=args.lines, threads=args.threads)
        rows = [{"decoder": "greedy", **run_sets(**common)},
                {"decoder": "beam", **run_sets(**common, decoder="beam", beam_width=args.beam_width)}]
        for w, b in itertools.product(args.weights, args.bonuses):
            rows.append({"decoder": "beam+lm", "weight": w, "bonus": b,
                         **run_sets(**common, beam_width=args.beam_width, lm=lm, lm_weight=w, lm_bonus=b)})
            print(f"weight {w:.2f} bonus {b:.2f}: mean CER {rows[-1]['mean']:.2%}", flush=True)
    except AksarError as exc:
        raise SystemExit(f"lm_sweep: {exc}") from None
    best = min((r for r in rows if r["decoder"] == "beam+lm"), key=lambda r: r["mean"])
    print_table(sorted(rows, key=lambda r: r["mean"]), ["decoder", "weight", "bonus"])
    print(f"\nbest: weight {best['weight']} bonus {best['bonus']} (mean CER {best['mean']:.2%})")
    save_json(args.json, {"model": args.model, "data": args.data, "rows": rows, "best": best})
    return 0


def save_json(path: str | None, payload: dict) -> None:
    """Write a sweep's rows and choice to ``path`` (nothing when it is None)."""
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1)


if __name__ == "__main__":
    raise SystemExit(main())
