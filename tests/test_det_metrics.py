"""Detection metrics with known answers (ICDAR 2015 protocol, IoU 0.5)."""
from __future__ import annotations

import pytest

from aksar.data.det_metrics import detection_metrics, match_image


def box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_identical_boxes_hmean_one():
    gts = [[box(0, 0, 100, 20), box(0, 30, 100, 50)], [box(5, 5, 50, 15)]]
    m = detection_metrics(gts, gts)
    assert (m["precision"], m["recall"], m["hmean"]) == (1.0, 1.0, 1.0) and m["matched"] == 3


def test_shifted_boxes_below_iou_half_do_not_match():
    gt = [box(0, 0, 100, 20)]
    pred = [box(0, 11, 100, 31)]  # overlap 9/31 of the union
    m = detection_metrics([gt], [pred])
    assert m["hmean"] == 0.0 and m["images"][0].missed == [0] and m["images"][0].false == [0]
    near = detection_metrics([gt], [[box(0, 4, 100, 24)]])  # IoU 16/24
    assert near["hmean"] == 1.0 and near["images"][0].matched[0][2] == pytest.approx(16 / 24, abs=1e-3)


def test_one_to_one_matching():
    gt = [box(0, 0, 100, 20)]
    preds = [box(0, 0, 100, 20), box(0, 1, 100, 21)]  # both overlap the one line well
    r = match_image(gt, preds)
    assert r.matched == [(0, 0, 1.0)] and r.false == [1]
    m = detection_metrics([gt], [preds])
    assert m["recall"] == 1.0 and m["precision"] == 0.5 and m["hmean"] == pytest.approx(2 / 3)
    # one prediction over two overlapping ground truths matches only one of them, the better one
    r = match_image([box(0, 1, 100, 21), box(0, 0, 100, 20)], [box(0, 0, 100, 20)])
    assert r.matched == [(1, 0, 1.0)] and r.missed == [0]


def test_dont_care_regions_are_excluded():
    gts = [box(0, 0, 100, 20), box(0, 40, 100, 60)]
    preds = [box(0, 0, 100, 20), box(2, 41, 98, 59)]  # the second lies inside the don't-care line
    m = detection_metrics([gts], [preds], ignores=[[False, True]])
    assert (m["precision"], m["recall"], m["gt"], m["pred"]) == (1.0, 1.0, 1, 1)
    assert m["images"][0].dropped == [1]


def test_invalid_polygons_are_repaired_or_counted():
    bowtie = [[0, 0], [100, 20], [100, 0], [0, 20]]      # self-intersecting: buffer(0) repairs it
    r = match_image([box(0, 0, 100, 20)], [bowtie, [[0, 0], [10, 0], [20, 0]]])
    assert r.invalid_pred == 1 and 1 in r.false and r.pred_care == 2
    empty = detection_metrics([[]], [[]])
    assert empty["hmean"] == 1.0
    with pytest.raises(ValueError):
        detection_metrics([[]], [])
