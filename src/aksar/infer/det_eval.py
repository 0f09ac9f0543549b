"""``aksar eval`` for text-line detectors: precision, recall and hmean at IoU 0.5 over a page dataset, and
a report that draws every page's matched, missed and false lines.

The data is any detection dataset :func:`aksar.data.det_dataset.read_det_dataset` reads (a PaddleOCR
detection list or a folder holding ``det_labels.txt``, a PAGE-XML folder, ICDAR ground truth). Pages run
through :class:`aksar.infer.detector.Detector` exactly as at inference; the metrics are
:func:`aksar.data.det_metrics.detection_metrics` (the ICDAR 2015 protocol: don't-care regions excluded,
one-to-one matching, micro-averaged).
"""
from __future__ import annotations

import html
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_text

# colours (RGB) of the report's drawings
MATCHED, MISSED, FALSE, IGNORED = (0, 160, 0), (235, 120, 0), (220, 0, 0), (150, 150, 150)


def is_detector(model: str | Path) -> bool:
    """True if ``model`` (an ``.onnx`` export, a checkpoint, a run folder or a shipped model's name) holds a
    detection model."""
    from aksar.infer.detector import META_TASK
    from aksar.models.weights import is_detection_checkpoint, load_checkpoint, resolve_checkpoint_path

    path = Path(model)
    if not path.exists() and "/" not in str(model) and os.sep not in str(model) and not path.suffix:
        from aksar.models.zoo import find_model

        return find_model(str(model)).task == "detection"
    if path.suffix == ".onnx" and path.is_file():
        import onnx

        try:
            meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        except Exception as exc:  # onnx raises its own DecodeError types
            raise AksarError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
        return meta.get(META_TASK) == "detection"
    if path.is_dir() or path.suffix in (".pt", ".pth", ".ckpt"):
        return is_detection_checkpoint(load_checkpoint(resolve_checkpoint_path(path)))
    return False


def evaluate_detection(detector: Any, data: str | Path, model: str | Path = "", max_pages: int | None = None,
                       progress: bool = True, allow_outside_root: bool = False
                       ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, per-page results) of ``detector`` (loaded from ``model``) on the detection dataset ``data``."""
    from tqdm import tqdm

    from aksar.data.det_dataset import load_page, read_det_dataset
    from aksar.data.det_metrics import detection_metrics, ratios

    samples = read_det_dataset(str(data), key="DATA", allow_outside_root=allow_outside_root)
    if max_pages:
        samples = samples[:max_pages]
    gts, ignores, preds, scores, seconds = [], [], [], [], 0.0
    for sample in tqdm(samples, desc="pages", unit="page", disable=not progress, dynamic_ncols=True):
        image = load_page(sample.image)
        t0 = time.perf_counter()
        dets = detector.detect_page(image)
        seconds += time.perf_counter() - t0
        gts.append([np.asarray(r.polygon, np.float64) for r in sample.regions])
        ignores.append([bool(r.ignore) for r in sample.regions])
        preds.append([d.polygon for d in dets])
        scores.append([float(d.score) for d in dets])
    metrics = detection_metrics(gts, preds, ignores)
    pages = []
    for sample, gt, ign, pred, score, res in zip(samples, gts, ignores, preds, scores, metrics.pop("images")):
        page = {"image": str(sample.image), "gt": len(gt) - sum(ign), "pred": len(pred), "matched": len(res.matched),
                "missed": res.missed, "false": res.false,
                "hmean": round(ratios(len(res.matched), res.gt_care, res.pred_care)["hmean"], 4),
                "gt_polygons": [g.round(1).tolist() for g in gt], "ignore": ign,
                "pred_polygons": [np.asarray(p).round(1).tolist() for p in pred], "scores": score}
        pages.append(page)
    report = {
        "task": "detection",
        "model": {"path": str(model), "name": detector.name, "backend": "onnx" if detector.session else "torch",
                  "det_limit_side": detector.det_limit_side, "postprocess": detector.postprocess.settings()},
        "dataset": {"path": str(data), "pages": len(samples), "gt_lines": metrics["gt"],
                    "dont_care": sum(sum(i) for i in ignores)},
        "metrics": metrics,
        "speed": {"seconds_detecting": round(seconds, 3),
                  "ms_per_page": round(1000 * seconds / max(1, len(samples)), 1),
                  "pages_per_second": round(len(samples) / seconds, 3) if seconds > 0 else None},
        "pages": pages,
    }
    return report, pages


def draw_page(page: dict[str, Any], max_side: int = 900) -> np.ndarray:
    """RGB picture of a page: matched lines green, missed orange, false red, don't care grey."""
    from aksar.data.det_dataset import load_page
    from aksar.render.preview import draw_groups

    missed, false = set(page["missed"]), set(page["false"])
    gts = page["gt_polygons"]
    ignored = [g for g, ign in zip(gts, page["ignore"]) if ign]
    matched = [g for i, (g, ign) in enumerate(zip(gts, page["ignore"])) if not ign and i not in missed]
    return draw_groups(load_page(page["image"]), [
        (ignored, IGNORED, 1), (matched, MATCHED, 1), ([gts[i] for i in sorted(missed)], MISSED, 2),
        ([page["pred_polygons"][j] for j in sorted(false)], FALSE, 2)], max_side)


def write_detection_html(report: dict[str, Any], path: str | Path, max_pages: int = 20) -> None:
    """The readable report: metrics, then the worst pages (lowest hmean first) drawn with their lines."""
    from aksar.infer.report import CSS, html_table, png_b64

    esc = html.escape
    m, ds, sp = report["metrics"], report["dataset"], report["speed"]
    model = report["model"]
    parts = [f'<!doctype html><html><head><meta charset="utf-8"><title>aksar eval: {esc(Path(model["path"]).name)} '
             f'on {esc(ds["path"])}</title><style>{CSS}</style></head><body>',
             f"<h1>aksar eval (text-line detection)</h1><p>Model <b>{esc(model['path'])}</b><br>"
             f"Dataset <b>{esc(ds['path'])}</b>: {ds['pages']} pages, {ds['gt_lines']} lines "
             f"({ds['dont_care']} don't care)</p>",
             "<h2>Metrics</h2>" + html_table(
                 ["hmean", "precision", "recall", "matched", "ground truth", "predicted", "IoU"],
                 [[f"{m['hmean']:.4f}", f"{m['precision']:.4f}", f"{m['recall']:.4f}", str(m["matched"]),
                   str(m["gt"]), str(m["pred"]), str(m["iou"])]], {0, 1, 2, 3, 4, 5, 6}),
             f"<p class='small'>{sp['ms_per_page']} ms per page (detection and post-processing), "
             f"{sp['pages_per_second']} pages/s</p>",
             "<h2>Pages</h2><p class='small'>worst first; lines: <span style='color:#00a000'>matched</span>, "
             "<span style='color:#eb7800'>missed</span>, <span style='color:#dc0000'>false</span>, "
             "<span style='color:#969696'>don't care</span></p>"]
    for page in sorted(report["pages"], key=lambda p: (p["hmean"], p["image"]))[:max_pages]:
        parts.append(f"<h3>{esc(Path(page['image']).name)}: hmean {page['hmean']:.3f}, {page['matched']} of "
                     f"{page['gt']} lines found, {len(page['missed'])} missed, {len(page['false'])} false</h3>"
                     f'<img alt="page" src="data:image/png;base64,{png_b64(draw_page(page))}">')
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))


__all__ = ["is_detector", "evaluate_detection", "draw_page", "write_detection_html"]
