"""Change how a shipped recognizer preprocesses its lines, without retraining it.

Sets keys of the ``aksar.preprocess`` metadata of ``src/aksar/zoo/NAME/model.onnx`` (e.g. ``trim_margin``),
measures the model again on every set of ``eval/SCRIPT`` (greedy, and with its shipped LM when it has one)
and rewrites ``card.json`` and ``card.md``: the training facts are kept, the metrics replaced and the change
recorded under ``changes``.

    .venv/bin/python scripts/restamp_model.py thai_rec_v3 trim_margin=0.15 --why "loose crops ..."

``--zoo`` and ``--evalset`` point elsewhere (the model is then loaded by name through ``$AKSAR_MODELS_DIR``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import onnx

from aksar.core.config import from_dict
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_json, atomic_write_text, sha256_file
from aksar.data.preprocess import PreprocessConfig
from aksar.infer import onnx_model as om
from aksar.infer.config import EvalConfig
from aksar.infer.evaluate import evaluate
from aksar.infer.recognizer import Recognizer
from aksar.infer.model_card import CARD_JSON, CARD_MD, card_metrics, render_card

ROOT = Path(__file__).resolve().parents[1]


def set_preprocess(path: Path, changes: dict) -> dict:
    """Write ``changes`` into the model's preprocess metadata (checked by PreprocessConfig); the new dict."""
    model = onnx.load(str(path))
    props = {p.key: p for p in model.metadata_props}
    pre = json.loads(props[om.META_PREPROCESS].value)
    pre.update(changes)
    from_dict(PreprocessConfig, pre, prefix=f"{path}:{om.META_PREPROCESS}")  # rejects bad keys and values
    props[om.META_PREPROCESS].value = json.dumps(pre)
    onnx.save(model, str(path))
    return pre


def measure(folder: Path, card: dict, evalset: Path) -> dict:
    """Card metrics of the model in ``folder`` on every set of ``evalset`` (``SET+lm`` rows too, with the
    card's LM, weight and bonus)."""
    manifest = json.loads((evalset / "manifest.json").read_text(encoding="utf-8"))
    model = folder / card["file"]
    engines = {"": Recognizer(model, threads=1)}
    lm = card.get("lm")
    if lm:
        engines["+lm"] = Recognizer(model, threads=1, lm=folder / lm["file"], lm_weight=lm["weight"],
                                    lm_bonus=lm["bonus"])
    metrics = {}
    for set_name in manifest["sets"]:
        for suffix, rec in engines.items():
            report, _, _ = evaluate(rec, evalset / set_name, EvalConfig(), progress=False)
            raw = report["metrics"]["raw"]
            metrics[set_name + suffix] = {**{k: raw.get(k) for k in card_metrics("recognition")},
                                          "lines": report["dataset"]["evaluated"],
                                          "dataset": _shown(evalset / set_name)}
            print(f"{card['name']} {set_name}{suffix}: CER {raw['cer']:.4f}", flush=True)
    return metrics


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (as cards name their sets)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name", help="a folder of src/aksar/zoo")
    ap.add_argument("settings", nargs="+", help="preprocess KEY=VALUE (VALUE as JSON: 0.15, null, ...)")
    ap.add_argument("--why", required=True, help="recorded in the card with the change")
    ap.add_argument("--zoo", type=Path, default=ROOT / "src" / "aksar" / "zoo", help="the zoo holding NAME")
    ap.add_argument("--evalset", type=Path, help="evaluation sets (a manifest.json); default eval/SCRIPT")
    args = ap.parse_args()
    try:
        restamp(args)
    except AksarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def restamp(args: argparse.Namespace) -> None:
    folder = args.zoo / args.name
    if not (folder / CARD_JSON).is_file():
        raise AksarError(f"{folder}: no {CARD_JSON}: not a shipped model")
    card = json.loads((folder / CARD_JSON).read_text(encoding="utf-8"))
    if card.get("task") != "recognition":
        raise AksarError(f"{folder}: not a recognizer")
    changes = {}
    for item in args.settings:
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError("no '='")
            changes[key] = json.loads(value)
        except ValueError as exc:
            raise AksarError(f"{item!r}: expected KEY=VALUE with a JSON value ({exc})") from None
    model_path = folder / card["file"]
    pre = set_preprocess(model_path, changes)
    card.update(size=model_path.stat().st_size, sha256=sha256_file(model_path))
    atomic_write_json(folder / CARD_JSON, card)  # the new file's sha256 first: loading by name checks it
    card["metrics"] = measure(folder, card, args.evalset or ROOT / "eval" / card["script"])
    card.setdefault("changes", []).append(
        f"{dt.date.today().isoformat()}: preprocess {json.dumps(changes)} without retraining (now {json.dumps(pre)}); "
        f"metrics measured again. {args.why}")
    atomic_write_json(folder / CARD_JSON, card)
    atomic_write_text(folder / CARD_MD, render_card(card))


if __name__ == "__main__":
    raise SystemExit(main())
