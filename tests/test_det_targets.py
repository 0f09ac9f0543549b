"""DB targets on shapes with known answers: Vatti shrink of a rectangle, threshold map range, unclip."""
from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon

from aksar.data.det_targets import make_targets, shrink, shrink_distance, unclip


def _rect(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def test_shrink_distance_and_shrunk_rectangle():
    w, h = 100.0, 20.0
    d = shrink_distance(_rect(0, 0, w, h))
    assert d == pytest.approx(w * h * (1 - 0.4 ** 2) / (2 * (w + h)))
    s = shrink(_rect(0, 0, w, h))
    # an inward offset of a rectangle is the rectangle inset by d on every side (sharp corners stay)
    assert s.min(axis=0) == pytest.approx([d, d], abs=0.05) and s.max(axis=0) == pytest.approx([w - d, h - d], abs=0.05)
    assert Polygon(s).area == pytest.approx((w - 2 * d) * (h - 2 * d), rel=0.01)


def test_shrink_map_area_matches_vatti_offset():
    w, h = 200.0, 40.0
    t = make_targets([_rect(20, 30, 20 + w, 30 + h)], [False], 120, 260)
    d = shrink_distance(_rect(0, 0, w, h))
    # cv2.fillPoly includes the edge pixels: one more row and column than the area
    expected = (w - 2 * d + 1) * (h - 2 * d + 1)
    assert t.shrink_map.sum() == pytest.approx(expected, rel=0.02)
    assert t.shrink_mask.min() == 1.0 and t.ignored == 0
    ys, xs = np.nonzero(t.shrink_map)
    assert xs.min() >= 20 + d - 1 and xs.max() <= 20 + w - d + 1 and ys.min() >= 30 + d - 1


def test_threshold_map_range_and_peak_on_edges():
    poly = _rect(40, 40, 200, 80)
    t = make_targets([poly], [False], 140, 260)
    assert t.threshold_map.min() >= 0.3 - 1e-6 and t.threshold_map.max() <= 0.7 + 1e-6
    assert t.threshold_map[40, 120] == pytest.approx(0.7, abs=0.02)      # on the top edge
    assert t.threshold_map[60, 120] < 0.5                                  # middle of the line, far from edges
    assert t.threshold_map[5, 5] == pytest.approx(0.3)                     # outside the dilated polygon
    d = shrink_distance(poly)
    assert t.threshold_mask[int(40 - d / 2), 120] == 1 and t.threshold_mask[int(40 - d - 2), 120] == 0


def test_ignored_and_small_polygons_are_masked_out():
    t = make_targets([_rect(10, 10, 100, 40), _rect(120, 10, 200, 12)], [True, False], 60, 220)
    assert t.ignored == 2 and t.shrink_map.sum() == 0
    assert t.shrink_mask[25, 50] == 0 and t.shrink_mask[11, 150] == 0 and t.shrink_mask[50, 50] == 1


def test_targets_scale_points():
    full = make_targets([_rect(40, 40, 360, 120)], [False], 160, 400)
    quarter = make_targets([_rect(40, 40, 360, 120)], [False], 40, 100, scale=0.25)
    assert quarter.shrink_map.sum() == pytest.approx(full.shrink_map.sum() / 16, rel=0.1)


def test_unclip_inverts_shrink():
    poly = _rect(0, 0, 150, 30)
    d = shrink_distance(poly)
    s = shrink(poly)
    a, per = Polygon(s).area, Polygon(s).length
    grown = unclip(s, ratio=d * per / a)  # the unclip ratio that restores the offset exactly
    iou = Polygon(grown).intersection(Polygon(poly)).area / Polygon(grown).union(Polygon(poly)).area
    assert iou > 0.97
    assert Polygon(unclip(s, 1.5)).area > Polygon(s).area
