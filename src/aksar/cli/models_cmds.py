"""`aksar models`: list the shipped models, show a model card, build a card for a new one."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="shipped models: list them, show a card, make a card",
                       description="Without a subcommand: list the shipped models (package data and "
                                   "$AKSAR_MODELS_DIR). Use a model's name or alias wherever a MODEL path goes.")
    p.add_argument("--format", choices=("table", "json"), default="table", help="(default %(default)s)")
    p.set_defaults(func=cmd_list)
    msub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND")

    s = msub.add_parser("show", help="print a model's card")
    s.add_argument("name", metavar="NAME", help="model name or alias")
    s.set_defaults(func=cmd_show)

    c = msub.add_parser("card", help="make a shipped-model folder (model.onnx, card.json, card.md)")
    c.add_argument("onnx", metavar="ONNX", help="the exported model (aksar export)")
    c.add_argument("--name", required=True, help="model name, e.g. khmer_rec_v1")
    c.add_argument("--out-dir", required=True, metavar="DIR", help="e.g. src/aksar/zoo/khmer_rec_v1")
    c.add_argument("--alias", action="append", default=[], help="another name (repeatable), e.g. khmer")
    c.add_argument("--checkpoint", help="the checkpoint it was exported from (config, corpus, fonts, steps)")
    c.add_argument("--eval-json", action="append", default=[], metavar="[SET=]REPORT",
                   help="an `aksar eval` report.json (repeatable; SET names the evaluation set)")
    c.add_argument("--config", help="the training config that retrains it, e.g. configs/khmer_rec_ship.yaml")
    c.add_argument("--hardware", help="e.g. '1x H100'")
    c.add_argument("--hours", type=float, help="training wall-clock hours")
    c.add_argument("--limit", action="append", default=[], help="a known limit (repeatable)")
    c.add_argument("--task", choices=("recognition", "detection"), default="recognition")
    c.add_argument("--lm", metavar="FILE", help="a character language model (aksar lm build) shipped with the "
                   "model: predict/eval --model NAME --lm shipped")
    c.add_argument("--lm-weight", type=float, default=None, help="its tuned weight (default: the built-in one)")
    c.add_argument("--lm-bonus", type=float, default=None, help="its tuned per-token bonus")
    c.set_defaults(func=cmd_card)


def cmd_list(args: argparse.Namespace) -> int:
    from aksar.infer.zoo import list_models

    models = list_models()
    if args.format == "json":
        print(json.dumps([m.summary() for m in models], ensure_ascii=False, indent=1))
        return 0
    if not models:
        print("no shipped models installed")
        return 0
    rows = [("NAME", "ALIASES", "TASK", "SCRIPT", "SIZE", "LM", "CER per evaluation set (aksar models show NAME)")]
    for m in models:
        cers = [f"{name} {100 * v['cer']:.1f}%" for name, v in sorted(m.metrics.items())
                if isinstance(v, dict) and v.get("cer") is not None and "+" not in name]
        rows.append((m.name, ",".join(m.aliases) or "-", m.task, m.script, f"{m.size / 1e6:.1f} MB",
                     "yes" if m.card.get("lm") else "-", ", ".join(cers) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from aksar.infer.zoo import CARD_MD, find_model, render_card

    m = find_model(args.name)
    md = m.folder / CARD_MD
    print(md.read_text(encoding="utf-8") if md.is_file() else render_card(m.card), end="")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from aksar.infer.zoo import make_card

    card = make_card(args.onnx, args.out_dir, args.name, checkpoint=args.checkpoint, eval_reports=args.eval_json,
                     aliases=args.alias, config=args.config, hardware=args.hardware, hours=args.hours,
                     limits=args.limit, task=args.task, lm=args.lm, lm_weight=args.lm_weight,
                     lm_bonus=args.lm_bonus)
    print(f"wrote {args.out_dir}/model.onnx ({card['size'] / 1e6:.1f} MB), card.json, card.md")
    return 0
