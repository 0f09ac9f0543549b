"""Choose a recognizer's crop trim (``preprocess.trim_margin``) on tuning lines, never the evaluation sets.

    aksar evalset build --script thai --split val --seed 9 --sets heldout_fonts pango degraded lowres \\
        --output-dir data/tune/thai
    python benchmarks/trim_sweep.py --model thai --lm shipped --sets data/tune/thai/* --trims none 0.15 0.15:0.08

A trim is ``none``, ``M`` (margins wider than M times the ink height cut to M) or ``M:T`` (wider than M
cut to T: ``trim_margin`` M, ``trim_to`` T). Reads every ``--sets`` folder at every trim, greedily and
(with ``--lm``) with beam search and the LM at the model's tuned weight and bonus; prints CER per set and
the mean over sets, and the best trim.
"""
from __future__ import annotations

import argparse

from lm_sweep import print_table, run_sets, save_json

from aksar.core.errors import AksarError


def trim_value(text: str) -> dict:
    """``none``, ``M`` or ``M:T`` as preprocess overrides."""
    if text.lower() == "none":
        return {"trim_margin": None, "trim_to": None}
    margin, _, to = text.partition(":")
    return {"trim_margin": float(margin), "trim_to": float(to) if to else None}


def label(trim: dict) -> str:
    if trim["trim_margin"] is None:
        return "none"
    return f"{trim['trim_margin']}" + (f":{trim['trim_to']}" if trim["trim_to"] is not None else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="shipped model name, .onnx or checkpoint")
    ap.add_argument("--lm", help="character LM for the second decoder ('shipped': the model's own)")
    ap.add_argument("--sets", nargs="+", required=True, help="line sets (folders aksar eval reads)")
    ap.add_argument("--trims", type=trim_value, nargs="+",
                    default=[trim_value(t) for t in ("none", "0.15", "0.1", "0.15:0.1")],
                    help="trims to try: none, M or M:T, as shares of the ink height")
    ap.add_argument("--lines", type=int, default=400, help="first N lines of each set (default 400)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the rows and the best trim per decoder here")
    args = ap.parse_args(argv)
    decoders = {"greedy": {}} | ({"lm": {"lm": args.lm}} if args.lm else {})
    rows = []
    try:
        for trim in args.trims:
            for name, kwargs in decoders.items():
                rows.append({"trim": label(trim), "decoder": name,
                             **run_sets(args.model, args.sets, args.lines, args.threads, preprocess=trim, **kwargs)})
                print(f"trim {label(trim)} {name}: " + ", ".join(f"{k} {v:.2%}" for k, v in rows[-1]["cer"].items())
                      + f"; mean {rows[-1]['mean']:.2%}", flush=True)
    except AksarError as exc:
        raise SystemExit(f"trim_sweep: {exc}") from None
    print_table(rows, ["trim", "decoder"])
    best = {d: min((r for r in rows if r["decoder"] == d), key=lambda r: r["mean"]) for d in decoders}
    for d, r in best.items():
        print(f"best {d}: trim {r['trim']} (mean CER {r['mean']:.2%})")
    save_json(args.json, {"model": args.model, "sets": args.sets, "rows": rows, "best": best})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
