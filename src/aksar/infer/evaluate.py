"""``aksar eval``: recognise a dataset and measure it (metrics raw and after visual folding, error analysis).

Predictions are the Recognizer's texts (``aksar.text.orthography.valid_orthography``, the post-processing
training validation uses too); references are the labels passed through
``normalize`` (how many labels that changed is reported). Every metric is computed twice and labelled:
``raw`` (exact code points) and ``folded`` (both sides through ``fold_visual``, the table of look-alike
encodings). Skipped dataset items (missing or corrupt images, bad label lines) are counted in
``skipped`` with the reader's reasons.
"""
from __future__ import annotations

import logging
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aksar.core.errors import AksarError
from aksar.infer.config import EvalConfig
from aksar.text import metrics as M
from aksar.text.graphemes import clusters
from aksar.text.normalize import fold_visual, normalize
from aksar.text.scripts import SCRIPTS

log = logging.getLogger(__name__)

# Metadata keys that identify a line rather than group lines (never used for breakdowns).
ID_KEYS = frozenset({"path", "index", "key", "text", "filename", "image_path", "label_path", "candidate",
                     "image_sha256", "label_sha256", "width", "height", "augment"})
MAX_GROUPS = 50
LENGTH_BUCKETS = ((1, 10), (11, 20), (21, 40), (41, 80), (81, None))


@dataclass
class LineResult:
    index: int
    name: str
    ref: str
    pred: str
    confidence: float
    edits: int
    meta: dict[str, Any]


# -- word segmentation -----------------------------------------------------------------------------

def word_segmenter(script: str | None) -> tuple[str, Callable[[str], list[str]]] | None:
    """``(name, tokenize)`` of an installed word segmenter for ``script`` (its ``Script.segmenter``:
    Thai ``thai-segmenter``, a dependency of aksar; Khmer ``khmer-nltk`` if installed), or None."""
    info = SCRIPTS.get(script or "")
    found = info.segmenter() if info is not None and info.segmenter is not None else None
    if found is None:
        return None
    name, fn = found
    return name, lambda text: [w for w in fn(text) if w.strip()]


# -- metrics and analysis --------------------------------------------------------------------------

def metric_set(preds: list[str], refs: list[str], segment: Callable[[str], list[str]] | None) -> dict[str, Any]:
    """All metrics of one view (raw or folded)."""
    return {
        "cer": M.cer(preds, refs),
        "wer": M.wer(preds, refs),
        "wer_segmented": M.wer(preds, refs, tokenize=segment) if segment else None,
        "grapheme_cer": M.grapheme_cer(preds, refs),
        "char_accuracy": M.char_accuracy(preds, refs),
        "line_accuracy": M.line_accuracy(preds, refs),
        "norm_edit_distance": M.norm_edit_distance(preds, refs),
    }


def char_label(ch: str) -> str:
    """Readable form of one character: combining marks on a dotted circle, spaces named."""
    if ch == "":
        return "∅"
    if ch == " ":
        return "␠"
    if len(ch) == 1 and unicodedata.category(ch).startswith(("M", "C")):
        return "◌" + ch if unicodedata.category(ch).startswith("M") else f"U+{ord(ch):04X}"
    return ch


def code_points(text: str) -> str:
    return " ".join(f"U+{ord(c):04X}" for c in text)


def error_analysis(preds: list[str], refs: list[str], top: int) -> dict[str, Any]:
    """Substitutions/insertions/deletions, confusion pairs and per-character accuracy (code points),
    plus confusion pairs of grapheme clusters."""
    pairs: Counter = Counter()
    cluster_pairs: Counter = Counter()
    ops: Counter = Counter()
    per_char: dict[str, Counter] = {}
    inserted: Counter = Counter()
    for pred, ref in zip(preds, refs):
        if pred == ref:
            for ch in ref:
                per_char.setdefault(ch, Counter())["correct"] += 1
            ops["equal"] += len(ref)
            continue
        for op in M.edit_ops(ref, pred):
            ops[op.op] += 1
            if op.op == "insert":
                inserted[op.b_item] += 1
                pairs[("", op.b_item)] += 1
                continue
            stats = per_char.setdefault(op.a_item, Counter())
            if op.op == "equal":
                stats["correct"] += 1
            elif op.op == "replace":
                stats["substituted"] += 1
                pairs[(op.a_item, op.b_item)] += 1
            else:
                stats["deleted"] += 1
                pairs[(op.a_item, "")] += 1
        for op in M.edit_ops(clusters(ref), clusters(pred)):
            if op.op != "equal":
                cluster_pairs[(op.a_item or "", op.b_item or "")] += 1

    def pair_rows(counter: Counter) -> list[dict[str, Any]]:
        rows = []
        for (a, b), n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
            kind = "insert" if not a else "delete" if not b else "replace"
            rows.append({"ref": a, "pred": b, "count": n, "kind": kind,
                         "ref_code": code_points(a), "pred_code": code_points(b)})
        return rows

    chars = []
    for ch, st in per_char.items():
        total = st["correct"] + st["substituted"] + st["deleted"]
        chars.append({"char": ch, "code": code_points(ch), "count": total, "correct": st["correct"],
                      "substituted": st["substituted"], "deleted": st["deleted"], "inserted": inserted.get(ch, 0),
                      "accuracy": st["correct"] / total if total else 0.0})
    chars.sort(key=lambda r: (r["accuracy"], -r["count"], r["char"]))
    return {
        "substitutions": ops["replace"], "insertions": ops["insert"], "deletions": ops["delete"],
        "matches": ops["equal"],
        "confusions": pair_rows(pairs),
        "cluster_confusions": pair_rows(cluster_pairs),
        "per_char": chars,
    }


def length_bucket(n: int) -> str:
    for lo, hi in LENGTH_BUCKETS:
        if hi is None or n <= hi:
            return f"{lo}+" if hi is None else f"{lo}-{hi}"
    return "?"


def breakdowns(lines: list[LineResult]) -> dict[str, list[dict[str, Any]]]:
    """Metrics per value of each grouping metadata field (font, ...) and per reference length."""
    fields: dict[str, dict[Any, list[LineResult]]] = {}
    for line in lines:
        values = {k: v for k, v in line.meta.items()
                  if k not in ID_KEYS and isinstance(v, (str, int, bool)) and not k.endswith("sha256")}
        values["length"] = length_bucket(len(line.ref))
        for k, v in values.items():
            fields.setdefault(k, {}).setdefault(v, []).append(line)
    out = {}
    for field, groups in sorted(fields.items()):
        if len(groups) > MAX_GROUPS or (field != "length" and len(groups) == len(lines) > 4):
            continue  # an identifier (one value per line), not a grouping
        rows = []
        for value, members in sorted(groups.items(), key=lambda kv: str(kv[0])):
            preds, refs = [m.pred for m in members], [m.ref for m in members]
            rows.append({"value": value, "lines": len(members), "cer": M.cer(preds, refs),
                         "cer_folded": M.cer([fold_visual(p) for p in preds], [fold_visual(r) for r in refs]),
                         "line_accuracy": M.line_accuracy(preds, refs)})
        out[field] = rows
    return out


# -- dataset side ----------------------------------------------------------------------------------

def sample_metadata(dataset: Any) -> dict[str, dict[str, Any]]:
    """Per-image metadata from the ``metadata.json`` next to a dataset (``aksar generate``/``valset``),
    keyed by the image path relative to the dataset folder; empty when there is none."""
    import json

    folder = getattr(dataset, "split_dir", None) or getattr(getattr(dataset, "label_file", None), "parent", None)
    if folder is None or not (Path(folder) / "metadata.json").is_file():
        return {}
    path = Path(folder) / "metadata.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable (%s); no per-font breakdown", path, exc)
        return {}
    samples = data.get("samples") if isinstance(data, dict) else None
    if not isinstance(samples, list):
        return {}
    return {s["image_path"]: s for s in samples if isinstance(s, dict) and "image_path" in s}


def evaluate(recognizer: Any, data: str | Path, cfg: EvalConfig | None = None, progress: bool = True,
             ) -> tuple[dict[str, Any], list[LineResult], Any]:
    """Recognise every line of dataset ``data`` and measure it.

    Returns ``(report, lines, dataset)``: the JSON-able report, one LineResult per evaluated line and
    the opened dataset (the HTML report reads the worst lines' images from it).
    """
    from tqdm import tqdm

    from aksar.data.readers import open_dataset

    cfg = cfg or EvalConfig()
    if cfg.segmenter not in ("auto", "none"):
        raise AksarError(f"segmenter: expected 'auto' or 'none', got {cfg.segmenter!r}")
    dataset = open_dataset(data, allow_outside_root=cfg.allow_outside_root)
    total = len(dataset) if cfg.max_lines is None else min(len(dataset), cfg.max_lines)
    if total == 0:
        raise AksarError(f"{data}: the dataset holds no usable lines (skipped: {dict(dataset.errors) or 'none'})")
    script = recognizer.script
    extra_meta = sample_metadata(dataset)
    lines: list[LineResult] = []
    refs_changed = 0
    repaired = 0
    chunk = max(recognizer.batch_size * 8, 256)
    t0 = time.perf_counter()
    seconds_predict = 0.0
    with tqdm(total=total, unit="line", desc="eval", disable=not progress, dynamic_ncols=True) as bar:
        for start in range(0, total, chunk):
            items = [(i, dataset[i]) for i in range(start, min(total, start + chunk))]
            items = [(i, it) for i, it in items if it is not None]
            if items:
                t1 = time.perf_counter()
                preds = recognizer.predict([it["image"] for _, it in items])
                seconds_predict += time.perf_counter() - t1
            else:
                preds = []
            for (i, it), pred in zip(items, preds):
                ref = normalize(it["text"], script)
                refs_changed += ref != it["text"]
                repaired += pred.repaired
                meta = dict(it.get("meta") or {})
                name = str(meta.get("path") or meta.get("key") or i)
                for k, v in (extra_meta.get(meta.get("path", "")) or {}).items():
                    meta.setdefault(k, v)
                lines.append(LineResult(i, name, ref, pred.text, pred.confidence,
                                        M.edit_distance(ref, pred.text), meta))
            bar.update(min(total, start + chunk) - start)
    if not lines:
        raise AksarError(f"{data}: every image was skipped ({dict(dataset.errors)}); nothing to evaluate")
    preds = [ln.pred for ln in lines]
    refs = [ln.ref for ln in lines]
    seg = word_segmenter(script) if cfg.segmenter == "auto" else None
    folded_p = [fold_visual(p) for p in preds]
    folded_r = [fold_visual(r) for r in refs]
    analysis = error_analysis(preds, refs, cfg.top_confusions)
    worst = sorted((ln for ln in lines if ln.edits),
                   key=lambda ln: (-M.error_rate(ln.edits, len(ln.ref)), -ln.edits, ln.index))[: cfg.worst]
    report = {
        "model": recognizer.describe(),
        "dataset": {"path": str(data), "kind": type(dataset).__name__, "items": len(dataset),
                    "evaluated": len(lines), "limit": cfg.max_lines,
                    "skipped": dict(dataset.errors), "skipped_total": sum(dataset.errors.values()),
                    "problems": list(getattr(dataset, "problems", []))[:50],
                    "labels_changed_by_normalize": refs_changed},
        "metrics": {"raw": metric_set(preds, refs, seg[1] if seg else None),
                    "folded": metric_set(folded_p, folded_r, seg[1] if seg else None)},
        "metric_notes": {
            "raw": "predictions and normalized labels compared code point by code point",
            "folded": "both sides through aksar.text.normalize.fold_visual (look-alike encodings folded)",
            "wer": "whitespace-separated tokens",
            "wer_segmented": f"words from {seg[0]}" if seg else f"no word segmenter installed for {script}",
            "char_accuracy": "max(0, 1 - cer)",
            "norm_edit_distance": "PaddleOCR: 1 - mean(edit / max(len(pred), len(ref)))",
            "grapheme_cer": "edit distance over grapheme clusters / reference clusters",
        },
        "counts": {"lines": len(lines), "ref_chars": sum(len(r) for r in refs),
                   "pred_chars": sum(len(p) for p in preds), "exact_lines": sum(p == r for p, r in zip(preds, refs)),
                   "repaired_predictions": repaired},
        "errors": {k: analysis[k] for k in ("substitutions", "insertions", "deletions", "matches")},
        "confusions": analysis["confusions"],
        "cluster_confusions": analysis["cluster_confusions"],
        "per_char": analysis["per_char"],
        "breakdown": breakdowns(lines),
        "worst_lines": [line_record(ln) for ln in worst],
        "speed": {"seconds": round(time.perf_counter() - t0, 3), "predict_seconds": round(seconds_predict, 3),
                  "lines_per_second": round(len(lines) / seconds_predict, 2) if seconds_predict else None},
        "lines": [line_record(ln) for ln in lines],
    }
    return report, lines, dataset


def line_record(ln: LineResult) -> dict[str, Any]:
    return {"index": ln.index, "name": ln.name, "ref": ln.ref, "pred": ln.pred,
            "confidence": round(ln.confidence, 6), "edits": ln.edits,
            "cer": M.error_rate(ln.edits, len(ln.ref))}


__all__ = ["EvalConfig", "LineResult", "evaluate", "metric_set", "error_analysis", "breakdowns",
           "word_segmenter", "char_label", "sample_metadata"]
