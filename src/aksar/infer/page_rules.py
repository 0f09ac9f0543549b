"""Horizontal rules on a page image (table borders, separators), for reading order
(:func:`aksar.infer.reading_order.find_tables`).

:func:`horizontal_rules`: ink (a threshold adapted over three line heights, so uneven paper is no ink) opened with a horizontal
line ``OPEN_SHARE`` of the page wide, which keeps only long straight strokes; pieces on one row with small
breaks between them (ink dropout) joined; kept when at least ``MIN_SHARE`` of the page wide and thin
(``MAX_THICKNESS`` of a text line's height at most, so a text line blotted into a bar is no rule).
"""
from __future__ import annotations

import math

import numpy as np

Segment = tuple[float, float, float, float]  # x0, y0, x1, y1

OPEN_SHARE = 1 / 15    # the opening's length, a share of the page width: text has no straight stroke this long
MIN_SHARE = 1 / 8      # a rule is at least this share of the page width
MAX_THICKNESS = 0.35   # and at most this share of the median line height thick (3 px at least)
JOIN_GAP = 1 / 40      # pieces of one rule broken by less than this share of the page width are joined ...
SLOPE = 0.035          # ... when one continues the other within 2 degrees
BLOCK_LINES = 3.0      # the threshold adapts over this many line heights


def horizontal_rules(gray: np.ndarray, line_height: float, angle: float = 0.0) -> list[Segment]:
    """The horizontal rules of a uint8 grayscale page (ink dark) as segments ``(x0, y0, x1, y1)`` in page
    pixels, left end first, top to bottom; ``line_height``: the median height of its text lines; ``angle``:
    the page's skew in radians (:func:`aksar.infer.reading_order.page_skew`), turned back before the search
    so that a thin rule on a turned page stays one long stroke."""
    import cv2

    h, w = gray.shape[:2]
    if h < 8 or w < 32:
        return []
    block = max(15, int(BLOCK_LINES * line_height) | 1)  # wider than a line is tall: a blotted line stays ink inside
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10)
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), math.degrees(angle), 1.0)
    if angle:
        ink = cv2.warpAffine(ink, turn, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    length = max(15, int(w * OPEN_SHARE))
    lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    thick = max(3.0, MAX_THICKNESS * line_height)
    pieces = []  # (x0, x1, y at x0, y at x1): a tilted rule is one piece taller than it is thick
    for k in range(1, n):
        x, y, cw, ch, area = (int(v) for v in stats[k, :5])
        if area / cw > thick:  # the mean thickness
            continue
        ys, xs = np.nonzero(labels[y:y + ch, x:x + cw] == k)
        ends = max(1, cw // 20)
        left, right = ys[xs < ends], ys[xs >= cw - ends]
        pieces.append((float(x), float(x + cw), y + float(left.mean()), y + float(right.mean())))
    pieces.sort()
    rules: list[list[float]] = []  # [x0, y at x0, x1, y at x1], pieces joined left to right
    for x0, x1, y0, y1 in pieces:
        for rule in rules:
            drift = max(2.0, SLOPE * (x0 - rule[2]))  # the piece continues the rule's line within SLOPE
            if -length <= x0 - rule[2] <= w * JOIN_GAP and abs(y0 - rule[3]) <= drift:
                if x1 > rule[2]:
                    rule[2], rule[3] = x1, y1
                break
        else:
            rules.append([x0, y0, x1, y1])
    back = cv2.invertAffineTransform(turn)
    out = []
    for x0, y0, x1, y1 in (r for r in rules if r[2] - r[0] >= w * MIN_SHARE):
        (a, b), (c, d) = back[:, :2] @ np.array([[x0, x1], [y0, y1]]) + back[:, 2:]
        out.append((float(a), float(c), float(b), float(d)))
    return sorted(out, key=lambda r: r[1] + r[3])


__all__ = ["horizontal_rules", "Segment"]
