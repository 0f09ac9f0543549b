"""Text-line detection metrics: precision, recall and hmean at an IoU threshold (ICDAR 2015 protocol).

Per image: predictions lying mostly (intersection / prediction area > 0.5) inside a don't-care ground
truth are dropped; the others are matched one-to-one to the care ground truths, pairs taken in order of
decreasing IoU, a pair counting when IoU > ``iou`` (0.5). Totals are summed over images before the
ratios (micro average). Self-intersecting polygons are repaired with ``buffer(0)``; polygons that stay
empty are counted as invalid (an invalid ground truth becomes don't care, an invalid prediction a false one).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


@dataclass
class ImageResult:
    matched: list[tuple[int, int, float]] = field(default_factory=list)  # (gt index, pred index, IoU)
    missed: list[int] = field(default_factory=list)                       # care gt indices not matched
    false: list[int] = field(default_factory=list)                        # pred indices not matched
    dropped: list[int] = field(default_factory=list)                      # preds inside don't-care gts
    gt_care: int = 0
    pred_care: int = 0
    invalid_gt: int = 0
    invalid_pred: int = 0


def _shape(points):
    from shapely.geometry import Polygon

    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) < 3 or not np.isfinite(pts).all():
        return None
    poly = Polygon(pts)
    if not poly.is_valid:
        poly = poly.buffer(0)
    return poly if not poly.is_empty and poly.area > 0 else None


def match_image(gts: Sequence, preds: Sequence, ignore: Sequence[bool] | None = None,
                iou: float = 0.5) -> ImageResult:
    """One image: ``gts`` and ``preds`` are point lists (Nx2); ``ignore`` marks don't-care gts."""
    ignore = list(ignore) if ignore is not None else [False] * len(gts)
    res = ImageResult()
    g_shapes = [_shape(g) for g in gts]
    p_shapes = [_shape(p) for p in preds]
    res.invalid_gt = sum(s is None for s in g_shapes)
    res.invalid_pred = sum(s is None for s in p_shapes)
    care = [i for i, s in enumerate(g_shapes) if s is not None and not ignore[i]]
    dont = [g_shapes[i] for i, s in enumerate(g_shapes) if s is not None and ignore[i]]
    live: list[int] = []
    for j, s in enumerate(p_shapes):
        if s is not None and any(s.intersection(d).area / s.area > 0.5 for d in dont):
            res.dropped.append(j)
        else:
            live.append(j)
    pairs = []
    for i in care:
        for j in live:
            p = p_shapes[j]
            if p is None or not g_shapes[i].intersects(p):
                continue
            inter = g_shapes[i].intersection(p).area
            union = g_shapes[i].area + p.area - inter
            if union > 0 and inter / union > iou:
                pairs.append((inter / union, i, j))
    used_g: set[int] = set()
    used_p: set[int] = set()
    for value, i, j in sorted(pairs, key=lambda t: (-t[0], t[1], t[2])):
        if i not in used_g and j not in used_p:
            used_g.add(i)
            used_p.add(j)
            res.matched.append((i, j, round(float(value), 4)))
    res.matched.sort()
    res.missed = [i for i in care if i not in used_g]
    res.false = [j for j in live if j not in used_p]
    res.gt_care, res.pred_care = len(care), len(live)
    return res


def most_overlapped(gts: Sequence, preds: Sequence) -> list[int | None]:
    """For each prediction, the index of the ground truth it overlaps most (largest intersection area),
    or None when it overlaps none (or either polygon is invalid)."""
    g_shapes = [_shape(g) for g in gts]
    out: list[int | None] = []
    for p in preds:
        ps = _shape(p)
        areas = [(ps.intersection(g).area if ps is not None and g is not None and ps.intersects(g) else 0.0, -i)
                 for i, g in enumerate(g_shapes)]
        best = max(areas, default=(0.0, 0))
        out.append(-best[1] if best[0] > 0 else None)
    return out


def ratios(matched: int, gt: int, pred: int) -> dict[str, float]:
    """Precision, recall and hmean of ``matched`` pairs among ``gt`` ground truths and ``pred`` predictions."""
    recall = matched / gt if gt else (1.0 if pred == 0 else 0.0)
    precision = matched / pred if pred else (1.0 if gt == 0 else 0.0)
    hmean = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "hmean": hmean}


def detection_metrics(gts: Sequence[Sequence], preds: Sequence[Sequence],
                      ignores: Sequence[Sequence[bool]] | None = None, iou: float = 0.5) -> dict:
    """Precision, recall, hmean over images (lists of per-image polygon lists), with per-image results."""
    if len(gts) != len(preds):
        raise ValueError(f"{len(gts)} images of ground truth but {len(preds)} of predictions")
    images = [match_image(g, p, ignores[k] if ignores is not None else None, iou)
              for k, (g, p) in enumerate(zip(gts, preds))]
    matched = sum(len(r.matched) for r in images)
    gt = sum(r.gt_care for r in images)
    pred = sum(r.pred_care for r in images)
    out = {**ratios(matched, gt, pred), "matched": matched, "gt": gt, "pred": pred, "iou": iou,
           "invalid_gt": sum(r.invalid_gt for r in images), "invalid_pred": sum(r.invalid_pred for r in images),
           "images": images}
    return out


__all__ = ["ImageResult", "match_image", "detection_metrics", "ratios", "most_overlapped"]
