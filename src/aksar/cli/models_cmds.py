"""`aksar models`: list the shipped models, show a model card, build a card for a new one."""
from __future__ import annotations

import argparse
import json

from aksar.cli.configs import ModelCardConfig, ModelShowConfig
from aksar.cli.flags import add_common, add_config, add_format, fields_of, resolve


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="shipped models: list them, show a card, make a card",
                       description="Without a subcommand: list the shipped models (package data and "
                                   "$AKSAR_MODELS_DIR). Use a model's name or alias wherever a MODEL path goes.")
    add_format(p, ("table", "json"))
    add_common(p)
    p.set_defaults(func=cmd_list)
    msub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND")

    s = msub.add_parser("show", help="print a model's card")
    add_config(s, ModelShowConfig, positional={"name": "NAME"}, required=("name",))
    s.set_defaults(func=cmd_show)

    c = msub.add_parser("card", help="make a shipped-model folder (model.onnx, card.json, card.md)")
    c.add_argument("onnx", metavar="ONNX", help="the exported model (aksar export)")
    add_config(c, ModelCardConfig, required=("name", "output_dir"), load=_load_card_yaml,
               aliases={"output_dir": ["--out-dir"]})
    c.set_defaults(func=cmd_card)


def _load_card_yaml(path: str) -> dict:
    """A card config; a training config (the old ``models card --config TRAIN.yaml``) is its train_config."""
    from aksar.core.config import load_yaml

    data = load_yaml(path)
    if set(data) - set(fields_of(ModelCardConfig)) and {"run", "model", "data"} & set(data):
        return {"train_config": str(path)}
    return data


def cmd_list(args: argparse.Namespace) -> int:
    from aksar.models.zoo import list_models

    models = list_models()
    if args.format == "json":
        print(json.dumps([m.summary() for m in models], ensure_ascii=False, indent=1))
        return 0
    if not models:
        print("no shipped models installed")
        return 0
    rows = [("NAME", "ALIASES", "TASK", "SCRIPT", "SIZE", "LM", "CER (recognizers) or hmean (detectors) per evaluation set")]
    for m in models:
        key = "hmean" if m.task == "detection" else "cer"
        cers = [f"{name} {100 * v[key]:.1f}%" for name, v in sorted(m.metrics.items())
                if isinstance(v, dict) and v.get(key) is not None and "+" not in name]
        rows.append((m.name, ",".join(m.aliases) or "-", m.task, m.script, f"{m.size / 1e6:.1f} MB",
                     "yes" if m.card.get("lm") else "-", ", ".join(cers) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from aksar.infer.model_card import CARD_MD, render_card
    from aksar.models.zoo import find_model

    m = find_model(resolve(args).name)
    md = m.folder / CARD_MD
    print(md.read_text(encoding="utf-8") if md.is_file() else render_card(m.card), end="")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from aksar.infer.model_card import make_card

    cfg = resolve(args)
    card = make_card(args.onnx, cfg.output_dir, cfg.name, checkpoint=cfg.checkpoint, eval_reports=cfg.eval_json,
                     aliases=cfg.alias, config=cfg.train_config, hardware=cfg.hardware, hours=cfg.hours,
                     limits=cfg.limit, task=cfg.task, lm=cfg.lm, lm_weight=cfg.lm_weight,
                     lm_bonus=cfg.lm_bonus, script=cfg.script)
    print(f"wrote {cfg.output_dir}/model.onnx ({card['size'] / 1e6:.1f} MB), card.json, card.md")
    return 0
