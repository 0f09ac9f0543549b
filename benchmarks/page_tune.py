"""Choose the page reader's decoding settings on tuning pages, never the evaluation pages: the shipped
LM's bonus (``lm_bonus``) and the confidence under which a read line is left out (``drop_score``).

    aksar pages --corpus-dir data/khmer/corpus --splits val -o pages.val=10 --font "Khmer Busra" \\
        --font "Khmer Busra Bold" --font "Khmer Mondulkiri" --font "Khmer Mondulkiri Bold" \\
        -o "page.layout.dpi=[100,300]" --seed 301 --output-dir /tmp/tune/khmer_deg   # clean: degrade off, 302
    python benchmarks/page_tune.py --script khmer --sets /tmp/tune/khmer_deg/val /tmp/tune/khmer_clean/val \\
        --lm-bonuses 1.5 2.5 --drop-scores 0 0.1 0.2

Reads every set greedily and with the shipped LM at each bonus (the card's when none is given), at every
drop score (one reader per decoder: only ``drop_score`` changes between rows); prints page CER, page CER in
the truth's line order and line hmean per set (``aksar.infer.page_eval``), and the mean page CER.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from lm_sweep import save_json

from aksar.core.errors import AksarError
from aksar.infer.page_eval import evaluate_pages
from aksar.infer.reader import Reader


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--script", required=True)
    ap.add_argument("--sets", nargs="+", required=True, help="page sets (aksar pages split folders)")
    ap.add_argument("--det", help="detector (default SCRIPT_det)")
    ap.add_argument("--rec", help="recognizer (default SCRIPT)")
    ap.add_argument("--lm-bonuses", type=float, nargs="*", default=[],
                    help="LM bonuses to try (none given: the shipped LM's own)")
    ap.add_argument("--drop-scores", type=float, nargs="+", default=[0.0, 0.1])
    ap.add_argument("--no-greedy", action="store_true", help="read with the LM only")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    decoders = ({} if args.no_greedy else {"greedy": {"lm": None}}) | (
        {f"lm bonus {b:g}": {"lm": "shipped", "lm_bonus": b} for b in args.lm_bonuses} if args.lm_bonuses
        else {"lm": {"lm": "shipped"}})
    rows = []
    try:
        for name, kwargs in decoders.items():
            reader = Reader(det=args.det or f"{args.script}_det", rec=args.rec or args.script, threads=1, **kwargs)
            for drop in args.drop_scores:
                reader.drop_score = drop
                sets = {}
                for d in args.sets:
                    m = evaluate_pages(reader, d, args.script, progress=False)["metrics"]
                    sets[Path(d).parent.name or d] = {"page_cer": m["page_cer"],
                                                      "page_cer_gt_order": m["page_cer_gt_order"],
                                                      "hmean": m["detection"]["hmean"]}
                rows.append({"decoder": name, "drop_score": drop, "sets": sets,
                             "mean": sum(s["page_cer"] for s in sets.values()) / len(sets)})
                print(f"{name} drop {drop:g}: " + "  ".join(
                    f"{k} {100 * s['page_cer']:.2f}% ({100 * s['page_cer_gt_order']:.2f}% in the truth's order, "
                    f"hmean {s['hmean']:.3f})" for k, s in sets.items()), flush=True)
    except AksarError as exc:
        raise SystemExit(f"page_tune: {exc}") from None
    names = list(rows[0]["sets"])
    print("\n| decoder | drop_score | " + " | ".join(names) + " | mean page CER |\n|---|---:|"
          + "---:|" * (len(names) + 1))
    for r in rows:
        print(f"| {r['decoder']} | {r['drop_score']:g} | " + " | ".join(
            f"{100 * r['sets'][n]['page_cer']:.2f} / {100 * r['sets'][n]['page_cer_gt_order']:.2f}%" for n in names)
            + f" | {100 * r['mean']:.2f}% |")
    save_json(args.json, {"script": args.script, "sets": args.sets, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
