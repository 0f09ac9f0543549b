"""Model cards: ``make_card`` writes a shipped model's folder (``model.onnx``, ``card.json``, ``card.md``)
from an exported model, its checkpoint and ``aksar eval`` reports; ``render_card`` is the page people read.
Finding shipped models by name is :mod:`aksar.models.zoo`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_json, atomic_write_text, sha256_file
from aksar.models.zoo import CARD_JSON, CARD_MD, LM_FILE, MODEL_FILE, TASKS


def _fmt(v: Any) -> str:
    if v is None or v == "" or v == []:
        return "unknown"
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return str(v)


CARD_METRICS = ("cer", "wer", "grapheme_cer", "line_accuracy")
DET_CARD_METRICS = ("precision", "recall", "hmean")


def card_metrics(task: str) -> tuple[str, ...]:
    """The metric columns of a card: CER and friends for recognizers, P/R/hmean for detectors."""
    return DET_CARD_METRICS if task == "detection" else CARD_METRICS


def trained_families(script: str, synth: dict[str, Any]) -> list[str]:
    """The font families a recognizer's synthesizer draws from (``data.synth`` of its config), as discovery
    finds them on this machine: the one that trained it, when the card is made where it was trained."""
    from aksar.core.config import from_dict
    from aksar.render.synth import SynthConfig, Synthesizer

    return sorted({f.family for f in Synthesizer(script, from_dict(SynthConfig, synth)).fonts})


def render_card(card: dict[str, Any]) -> str:
    """``card.md``: the card JSON as a page (config, corpus, fonts, training, metrics, limits)."""
    tr, fonts, corpus = card.get("training") or {}, card.get("fonts") or {}, card.get("corpus") or {}
    columns = card_metrics(card["task"])
    model = card.get("model") or {}
    size_row = (f"| input | long side <= {_fmt(model.get('det_limit_side'))} px |" if card["task"] == "detection"
                else f"| charset | {_fmt(model.get('charset_size'))} tokens |")
    lines = [f"# {card['name']}", "",
             f"{card['task'].capitalize()} model for {card['script']} text lines"
             + (f" (alias: {', '.join(card['aliases'])})." if card.get("aliases") else "."), "",
             "| | |", "|---|---|",
             f"| file | `{card['file']}` ({card['size'] / 1e6:.1f} MB, sha256 `{card['sha256'][:16]}...`) |",
             f"| architecture | {_fmt(model.get('name'))} |", size_row,
             f"| config | `{_fmt(card.get('config'))}` |",
             f"| corpus | {_fmt(corpus.get('path'))} (hash {_fmt(corpus.get('hash'))}) |",
             f"| fonts used | {_fmt(fonts.get('train'))} |",
             *([f"| font families drawn | {_fmt(fonts['families'])} |"] if fonts.get("families") else []),
             f"| fonts held out | {_fmt(fonts.get('held_out'))} |",
             f"| steps | {_fmt(tr.get('steps'))} (epoch {_fmt(tr.get('epoch'))}) |",
             f"| hardware | {_fmt(tr.get('hardware'))} |",
             f"| training hours | {_fmt(tr.get('hours'))} |", "",
             "## Metrics", "", "| evaluation set | lines | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for set_name, m in sorted((card.get("metrics") or {}).items()):
        lines.append(f"| {set_name} | {_fmt(m.get('lines'))} | " + " | ".join(_fmt(m.get(k)) for k in columns)
                     + " |")
    if not card.get("metrics"):
        lines.append("| (not evaluated) | | " + " | ".join("" for _ in columns) + " |")
    lm = card.get("lm")
    if isinstance(lm, dict):
        lines += ["", "## Language model", "",
                  f"`{lm.get('file')}`: character {lm.get('order')}-gram model ({(lm.get('size') or 0) / 1e6:.1f} MB), "
                  f"weight {_fmt(lm.get('weight'))}, bonus {_fmt(lm.get('bonus'))}; use it with "
                  f"`--model {card['name']} --lm shipped` (beam search, slower)."]
    if card.get("changes"):  # made after training (scripts/restamp_model.py)
        lines += ["", "## Changes since training", ""] + [f"- {x}" for x in card["changes"]]
    lines += ["", "## Retrain", "", "```"] + list(card.get("retrain") or ["(no config recorded)"]) + ["```", "",
              "## Known limits", ""] + [f"- {x}" for x in (card.get("limits") or ["none recorded"])]
    return "\n".join(lines) + "\n"


def _eval_metrics(spec: str, task: str = "recognition") -> tuple[str, dict[str, Any]]:
    """``NAME=report.json`` or ``report.json`` (named after its folder) -> (name, metrics + lines).

    Recognition reports give CER and friends (``metrics.raw``); detection reports P/R/hmean over ground-truth lines.
    """
    name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
    p = Path(path)
    try:
        report = json.loads(p.read_text(encoding="utf-8"))
        if (report.get("task") == "detection") != (task == "detection"):
            raise KeyError(f"a {report.get('task') or 'recognition'} report for a {task} model")
        raw = report["metrics"] if task == "detection" else report["metrics"]["raw"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AksarError(f"{p}: not an `aksar eval` report.json ({exc})") from None
    metrics = {k: raw.get(k) for k in card_metrics(task)}
    ds = report.get("dataset", {})
    metrics.update(lines=ds.get("gt_lines") if task == "detection" else ds.get("evaluated"), dataset=ds.get("path"))
    return name or p.parent.name, metrics


def _model_facts(onnx_path: str | os.PathLike, task: str) -> tuple[dict[str, Any], str | None]:
    """(the card's ``model`` section, the script the export records) of an aksar export of ``task``."""
    if task == "detection":
        from aksar.infer.detector import Detector

        det = Detector(Path(onnx_path), threads=1)  # an aksar detection export (AksarError otherwise)
        return {"name": det.name, "kind": det.kind, "det_limit_side": det.det_limit_side,
                "postprocess": det.postprocess.settings()}, None
    from aksar.infer.onnx_model import OnnxModel

    info = OnnxModel(onnx_path).info  # an aksar export (AksarError otherwise)
    return {"name": info.name, "kind": info.kind, "charset_size": len(info.charset),
            "height": info.preprocess.height}, info.script


def make_card(onnx_path: str | os.PathLike, out_dir: str | os.PathLike, name: str, *,
              checkpoint: str | os.PathLike | None = None, eval_reports: Sequence[str] = (),
              aliases: Sequence[str] = (), config: str | None = None, hardware: str | None = None,
              hours: float | None = None, limits: Sequence[str] = (), task: str = "recognition",
              lm: str | os.PathLike | None = None, lm_weight: float | None = None,
              lm_bonus: float | None = None, script: str | None = None) -> dict[str, Any]:
    """Write ``out_dir/{model.onnx, card.json, card.md}`` for a shipped model; returns the card.

    ``eval_reports``: ``aksar eval`` report.json files (``NAME=path`` names the evaluation set).
    ``lm``: a character language model shipped beside it (``lm.json.gz``; ``--lm shipped``), with its
    tuned ``lm_weight`` and ``lm_bonus``. ``task="detection"`` cards a detector export (``eval_reports`` from
    ``aksar eval`` on page sets); its ``script`` comes from ``script``, else the checkpoint's data preset.
    Refuses to overwrite a folder aksar did not make (one with files but no card.json).
    """
    import shutil

    out = Path(out_dir)
    if out.is_dir() and any(out.iterdir()) and not (out / CARD_JSON).is_file():
        raise AksarError(f"{out}: exists and holds files that are not a model card; choose another --output-dir")
    if task not in TASKS:
        raise AksarError(f"task: expected one of {', '.join(TASKS)}, got {task!r}")
    model_facts, export_script = _model_facts(onnx_path, task)
    card: dict[str, Any] = {
        "name": name, "aliases": list(aliases), "task": task, "script": script or export_script or "",
        "file": MODEL_FILE, "model": model_facts,
        "config": config, "corpus": {}, "fonts": {}, "training": {"hardware": hardware, "hours": hours},
        "metrics": dict(_eval_metrics(s, task) for s in eval_reports), "limits": list(limits),
    }
    if checkpoint is not None:
        from aksar.text.corpus import corpus_hash
        from aksar.models.weights import load_checkpoint

        ck = load_checkpoint(checkpoint)
        cfg = ck.get("config") or {}
        data, synth = cfg.get("data") or {}, (cfg.get("data") or {}).get("synth") or {}
        corpus = data.get("corpus_dir")
        card["corpus"] = {"path": corpus, "preset": data.get("preset"),
                          "hash": corpus_hash(corpus) if corpus and Path(corpus, "stats.json").is_file() else None}
        card["script"] = card["script"] or data.get("preset") or (data.get("corpus") or {}).get("script") or ""
        held_out = list(synth.get("exclude_fonts") or [])
        heldout_pages = task == "detection" and ((cfg.get("task") or {}).get("options") or {}).get(
            "generate", {}).get("heldout_fonts")
        if synth.get("exclude_heldout") or heldout_pages:
            from aksar.render.fonts import HELDOUT_FAMILIES

            held_out += [f"{f} (family)" for f in HELDOUT_FAMILIES.get(card["script"], ())]
        every = "all discovered for the script" + (" but the held-out" if held_out else "")
        card["fonts"] = {"train": synth.get("fonts") or every, "held_out": held_out}
        if task == "recognition":
            card["fonts"]["families"] = trained_families(card["script"], synth)
        card["training"].update(steps=ck.get("step"), epoch=ck.get("epoch"), world_size=ck.get("world_size"),
                                validation=ck.get("metrics", {}).get("hmean" if task == "detection" else "cer"))
    if not card["script"]:
        raise AksarError(f"{onnx_path}: the export records no script; give --script (or --checkpoint)")
    if config:
        card["retrain"] = [f"aksar train {config}", f"aksar export RUN_DIR/checkpoints/best.pt --out {MODEL_FILE}"]
    out.mkdir(parents=True, exist_ok=True)
    if Path(onnx_path).resolve() != (out / MODEL_FILE).resolve():
        shutil.copyfile(onnx_path, out / MODEL_FILE)
    card.update(size=(out / MODEL_FILE).stat().st_size, sha256=sha256_file(out / MODEL_FILE))
    if lm is not None:
        card["lm"] = ship_lm(lm, out, lm_weight, lm_bonus)
    atomic_write_json(out / CARD_JSON, card)
    atomic_write_text(out / CARD_MD, render_card(card))
    return card


def ship_lm(lm: str | os.PathLike, out_dir: Path, weight: float | None, bonus: float | None) -> dict[str, Any]:
    """Copy the character LM ``lm`` into a shipped model's folder as ``lm.json.gz``; its card entry."""
    import shutil

    from aksar.text.charlm import CharLM

    order = CharLM.load(lm).order  # a readable aksar LM (AksarError naming the file otherwise)
    target = out_dir / LM_FILE
    if Path(lm).resolve() != target.resolve():
        shutil.copyfile(lm, target)
    return {"file": LM_FILE, "order": order, "size": target.stat().st_size, "sha256": sha256_file(target),
            "weight": weight, "bonus": bonus}


__all__ = ["make_card", "render_card", "card_metrics", "ship_lm", "CARD_JSON", "CARD_MD"]
