"""DB (differentiable binarization) training targets from line polygons, and ``unclip`` for post-processing.

- shrink map / mask: each polygon shrunk by the Vatti offset ``D = A (1 - r^2) / L`` (area A, perimeter
  L, ``r = shrink_ratio``, pyclipper) is 1 in the map; ignored (``###``), too small or vanishing polygons
  are 0 in the mask (no loss there).
- threshold map / mask: inside each polygon dilated by ``D``, ``1 - distance to the polygon's edges / D``
  (clipped to 0..1) rescaled to ``thresh_min..thresh_max``; elsewhere ``thresh_min``. The mask is the
  dilated polygons.

Polygons are in image pixels; ``scale`` maps them to the target size (e.g. 0.25 for a 1/4 map).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

SHRINK_RATIO = 0.4


@dataclass
class DetTargets:
    shrink_map: np.ndarray       # float32 HxW, 1 inside shrunk polygons
    shrink_mask: np.ndarray      # float32 HxW, 0 where the loss is ignored
    threshold_map: np.ndarray    # float32 HxW in thresh_min..thresh_max
    threshold_mask: np.ndarray   # float32 HxW, 1 inside the dilated polygons
    ignored: int = 0             # polygons ignored (don't care, small, vanishing)


def _area_perimeter(poly: np.ndarray) -> tuple[float, float]:
    x, y = poly[:, 0], poly[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    perimeter = float(np.linalg.norm(poly - np.roll(poly, -1, axis=0), axis=1).sum())
    return area, perimeter


def offset_polygon(poly: np.ndarray, distance: float) -> list[np.ndarray]:
    """``poly`` grown (distance > 0) or shrunk (< 0) by the Vatti offset with round joins (pyclipper)."""
    import pyclipper

    pco = pyclipper.PyclipperOffset()
    pco.AddPath([tuple(p) for p in np.round(np.asarray(poly, np.float64) * 64).astype(np.int64).tolist()],
                pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [np.asarray(p, np.float64) / 64 for p in pco.Execute(distance * 64) if len(p) >= 3]


def shrink_distance(poly: np.ndarray, ratio: float = SHRINK_RATIO) -> float:
    """DB's offset ``D = A (1 - r^2) / L``."""
    area, perimeter = _area_perimeter(np.asarray(poly, np.float64))
    return area * (1 - ratio * ratio) / perimeter if perimeter > 0 else 0.0


def shrink(poly: np.ndarray, ratio: float = SHRINK_RATIO) -> np.ndarray | None:
    """The polygon shrunk by ``shrink_distance`` (the largest piece), or None when it vanishes."""
    poly = np.asarray(poly, np.float64)
    pieces = offset_polygon(poly, -shrink_distance(poly, ratio))
    if not pieces:
        return None
    return max(pieces, key=lambda p: _area_perimeter(p)[0])


def unclip(poly: np.ndarray, ratio: float = 1.5) -> np.ndarray | None:
    """A predicted (shrunk) polygon grown by ``D = A * ratio / L`` (DB post-processing), largest piece."""
    poly = np.asarray(poly, np.float64)
    area, perimeter = _area_perimeter(poly)
    if perimeter <= 0:
        return None
    pieces = offset_polygon(poly, area * ratio / perimeter)
    return max(pieces, key=lambda p: _area_perimeter(p)[0]) if pieces else None


def _fill(canvas: np.ndarray, poly: np.ndarray, value: float) -> None:
    """Fill ``poly`` (vertices rounded to pixel indices, edges included: DB's and PaddleOCR's convention)."""
    import cv2

    cv2.fillPoly(canvas, [np.round(poly).astype(np.int32)], value)


def _segment_distance(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of every point (xs, ys) to the segment a-b."""
    d = b - a
    length2 = float(d @ d)
    if length2 == 0:
        return np.hypot(xs - a[0], ys - a[1])
    t = np.clip(((xs - a[0]) * d[0] + (ys - a[1]) * d[1]) / length2, 0, 1)
    return np.hypot(xs - (a[0] + t * d[0]), ys - (a[1] + t * d[1]))


def _border(canvas: np.ndarray, mask: np.ndarray, poly: np.ndarray, ratio: float) -> None:
    """Dilated polygon into ``mask``; ``1 - distance/D`` to the polygon's edges into ``canvas`` (max)."""
    dist_d = shrink_distance(poly, ratio)
    grown = offset_polygon(poly, dist_d)
    if not grown or dist_d <= 0:
        return
    grown_poly = max(grown, key=lambda p: _area_perimeter(p)[0])
    _fill(mask, grown_poly, 1.0)
    h, w = canvas.shape
    x0, y0 = np.floor(grown_poly.min(axis=0)).astype(int)
    x1, y1 = np.ceil(grown_poly.max(axis=0)).astype(int)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
    if cx0 > cx1 or cy0 > cy1:
        return
    ys, xs = np.mgrid[cy0:cy1 + 1, cx0:cx1 + 1].astype(np.float64)
    dist = np.full(xs.shape, np.inf)
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        dist = np.minimum(dist, _segment_distance(xs, ys, a, b))
    inside = np.zeros(xs.shape, np.float32)
    _fill(inside, grown_poly - [cx0, cy0], 1.0)
    value = (1 - np.clip(dist / dist_d, 0, 1)) * inside
    region = canvas[cy0:cy1 + 1, cx0:cx1 + 1]
    np.maximum(region, value.astype(np.float32), out=region)


def make_targets(polygons: Sequence[np.ndarray], ignore: Sequence[bool], height: int, width: int,
                 scale: float | tuple[float, float] = 1.0, shrink_ratio: float = SHRINK_RATIO,
                 thresh_min: float = 0.3, thresh_max: float = 0.7, min_size: float = 3.0) -> DetTargets:
    """DB targets of size ``height`` x ``width`` for ``polygons`` (image pixels, times ``scale``)."""
    sx, sy = (scale, scale) if np.isscalar(scale) else scale
    shrink_map = np.zeros((height, width), np.float32)
    shrink_mask = np.ones((height, width), np.float32)
    canvas = np.zeros((height, width), np.float32)
    thr_mask = np.zeros((height, width), np.float32)
    ignored = 0
    for poly, ign in zip(polygons, ignore):
        poly = np.asarray(poly, np.float64).reshape(-1, 2) * [sx, sy]
        extent = poly.max(axis=0) - poly.min(axis=0)
        area, _ = _area_perimeter(poly)
        if ign or min(extent) < min_size or area < 1:
            _fill(shrink_mask, poly, 0.0)
            ignored += 1
            continue
        shrunk = shrink(poly, shrink_ratio)
        if shrunk is None:
            _fill(shrink_mask, poly, 0.0)
            ignored += 1
            continue
        _fill(shrink_map, shrunk, 1.0)
        _border(canvas, thr_mask, poly, shrink_ratio)
    threshold_map = canvas * (thresh_max - thresh_min) + thresh_min
    return DetTargets(shrink_map, shrink_mask, threshold_map.astype(np.float32), thr_mask, ignored)


__all__ = ["DetTargets", "make_targets", "shrink", "unclip", "shrink_distance", "offset_polygon", "SHRINK_RATIO"]
