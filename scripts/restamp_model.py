"""Change how a shipped model reads its input, without retraining it.

A recognizer: keys of the ``aksar.preprocess`` metadata of ``src/aksar/zoo/NAME/model.onnx`` (e.g.
``trim_margin``), ``lm_weight`` / ``lm_bonus``, the tuned values of its shipped LM kept in the card, and
``lm`` (a character LM file from ``aksar lm build`` that replaces the shipped one), then
measured again on every line set of ``eval/SCRIPT`` (greedy, and with its shipped LM when it has one). A
detector: ``det_limit_side`` (the page's long side at the network input) or a DB post-processing key
(``box_thresh``, ...), then measured again on ``eval/SCRIPT/pages_degraded``. Either way
``card.json`` and ``card.md`` are rewritten: the training facts kept, the metrics replaced (rows on sets not
measured again are dropped) and the change recorded under ``changes``.

    .venv/bin/python scripts/restamp_model.py thai_rec_v3 trim_margin=0.15 --why "loose crops ..."
    .venv/bin/python scripts/restamp_model.py khmer_rec_v7 lm_bonus=2.5 --why "chosen on tuning lines ..."
    .venv/bin/python scripts/restamp_model.py khmer_rec_v7 'lm="/tmp/khmer6.json.gz"' --why "a 6-gram ..."
    .venv/bin/python scripts/restamp_model.py thai_det_v1 det_limit_side=960 --why "small lines missed ..."

``--zoo`` and ``--evalset`` point elsewhere (the model is then loaded by name through ``$AKSAR_MODELS_DIR``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import onnx

from aksar.core.config import from_dict
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_json, atomic_write_text, sha256_file
from aksar.data.preprocess import PreprocessConfig
from aksar.infer import onnx_model as om
from aksar.infer.config import EvalConfig
from aksar.infer.det_eval import evaluate_detection
from aksar.infer.detector import META_LIMIT_SIDE, META_POSTPROCESS, Detector
from aksar.infer.evaluate import evaluate
from aksar.infer.recognizer import Recognizer
from aksar.infer.model_card import CARD_JSON, CARD_MD, card_metrics, render_card, ship_lm
from aksar.models.det_postprocess import DBPostProcess

ROOT = Path(__file__).resolve().parents[1]
LM_KEYS = {"lm_weight": "weight", "lm_bonus": "bonus"}  # setting -> key of the card's "lm" entry
LM_FILE_KEY = "lm"  # setting: a new LM file for the card's "lm" entry


@contextmanager
def onnx_metadata(path: Path) -> Iterator[dict]:
    """The metadata properties of the ONNX file ``path`` by key, written back when the block ends without
    an error (a refused setting leaves the file as it was)."""
    model = onnx.load(str(path))
    yield {p.key: p for p in model.metadata_props}
    onnx.save(model, str(path))


def set_preprocess(path: Path, changes: dict) -> dict:
    """Write ``changes`` into a recognizer's preprocess metadata (checked by PreprocessConfig); the new dict."""
    with onnx_metadata(path) as props:
        pre = json.loads(props[om.META_PREPROCESS].value)
        pre.update(changes)
        from_dict(PreprocessConfig, pre, prefix=f"{path}:{om.META_PREPROCESS}")  # rejects bad keys and values
        props[om.META_PREPROCESS].value = json.dumps(pre)
    return pre


def set_lm(card: dict, changes: dict, folder: Path) -> dict:
    """Write ``lm`` (a new LM file, copied into ``folder``), ``lm_weight`` / ``lm_bonus`` into the card's LM
    entry; that entry's order, weight and bonus after."""
    lm = card.get("lm")
    if not isinstance(lm, dict):
        raise AksarError(f"{card.get('name')}: ships no language model, so {', '.join(changes)} cannot be set")
    path = changes.get(LM_FILE_KEY)
    if LM_FILE_KEY in changes and (not isinstance(path, str) or not Path(path).is_file()):
        raise AksarError(f"{LM_FILE_KEY}: expected the path of a language model file, got {path!r}")
    for key, value in changes.items():
        if key == LM_FILE_KEY:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (key == "lm_weight" and value < 0):
            raise AksarError(f"{key}: expected a number{' >= 0' if key == 'lm_weight' else ''}, got {value!r}")
        lm[LM_KEYS[key]] = float(value)
    if path is not None:  # the file last: a refused number leaves the folder as it was
        lm.update(ship_lm(path, folder, lm["weight"], lm["bonus"]))
    return {"order": lm["order"], "weight": lm["weight"], "bonus": lm["bonus"]}


def set_detection(path: Path, changes: dict) -> dict:
    """Write ``changes`` (``det_limit_side`` and DB post-processing keys) into a detector's metadata; the
    detector's settings after the change."""
    with onnx_metadata(path) as props:
        post = json.loads(props[META_POSTPROCESS].value)
        limit = int(props[META_LIMIT_SIDE].value)
        for key, value in changes.items():
            if key == "det_limit_side":
                if not isinstance(value, int) or value < 32 or value % 32:
                    raise AksarError(f"det_limit_side: expected a positive multiple of 32, got {value!r}")
                limit = value
            elif key in DBPostProcess().settings():
                post[key] = value
            else:
                raise AksarError(f"{key!r}: not a detector setting (det_limit_side, "
                                 f"{', '.join(DBPostProcess().settings())})")
        DBPostProcess(**post)
        props[META_POSTPROCESS].value = json.dumps(post)
        props[META_LIMIT_SIDE].value = str(limit)
    return {"det_limit_side": limit, "postprocess": post}


def measure_detector(folder: Path, card: dict, evalset: Path) -> dict:
    """Card metrics of the detector in ``folder`` on ``evalset/pages_degraded``."""
    pages = evalset / "pages_degraded"
    report, _ = evaluate_detection(Detector(folder / card["file"], threads=1), pages, progress=False)
    m = report["metrics"]
    print(f"{card['name']} pages_degraded: P {m['precision']:.4f} R {m['recall']:.4f} hmean {m['hmean']:.4f}",
          flush=True)
    return {"pages_degraded": {**{k: m[k] for k in card_metrics("detection")}, "lines": m["gt"],
                               "dataset": _shown(pages)}}


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
    ap.add_argument("settings", nargs="+", help="KEY=VALUE (VALUE as JSON: 0.15, null, 960, ...)")
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
    detector = card.get("task") == "detection"
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
    if detector:
        now = set_detection(model_path, changes)
        card.setdefault("model", {}).update(now)
        what = "detection settings"
    else:
        lm_keys = {*LM_KEYS, LM_FILE_KEY}
        lm_changes = {k: v for k, v in changes.items() if k in lm_keys}
        pre_changes = {k: v for k, v in changes.items() if k not in lm_keys}
        now = {"lm": set_lm(card, lm_changes, folder)} if lm_changes else {}
        if pre_changes:
            now = set_preprocess(model_path, pre_changes) | now
        what = " and ".join(w for w, c in (("preprocess", pre_changes), ("LM decoding", lm_changes)) if c)
    card.update(size=model_path.stat().st_size, sha256=sha256_file(model_path))
    atomic_write_json(folder / CARD_JSON, card)  # the new file's sha256 first: loading by name checks it
    evalset = args.evalset or ROOT / "eval" / card["script"]
    card["metrics"] = (measure_detector if detector else measure)(folder, card, evalset)
    card.setdefault("changes", []).append(
        f"{dt.date.today().isoformat()}: {what} {json.dumps(changes)} without retraining (now {json.dumps(now)}); "
        f"metrics measured again. {args.why}")
    atomic_write_json(folder / CARD_JSON, card)
    atomic_write_text(folder / CARD_MD, render_card(card))


if __name__ == "__main__":
    raise SystemExit(main())
