"""Detected line polygons -> horizontal line images for the recognizer (rotated and skewed lines included).

:func:`line_quad` fits the minimum-area rectangle around a polygon and names its corners in reading
order (top-left, top-right, bottom-right, bottom-left of the text as it is read). The reading direction
is the rectangle's long side when it is clearly long (``long / short >= VERTICAL_RATIO``), else the
side closer to horizontal. A long side that is closer to vertical than horizontal is a text line turned
by about 90 degrees: it is read top to bottom (turned clockwise), and ``ambiguous`` says it could as well
be turned the other way (the caller may read it both ways and keep the more confident).
:func:`crop_line` warps that rectangle (with ``pad`` times its height of page around it, edge pixels
replicated beyond the page) into an upright, horizontal grayscale line image.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

VERTICAL_RATIO = 1.5  # a box this much longer than wide is a line along its long side (PaddleOCR's rule)
DEFAULT_PAD = 0.12    # page around the line, as a share of its height on each side (chosen on validation pages)


@dataclass
class LineCrop:
    """One line ready for recognition: ``image`` (uint8 HxW, text left to right), its page ``quad``."""

    image: np.ndarray
    quad: np.ndarray       # [4, 2] float32: top-left, top-right, bottom-right, bottom-left, as read
    ambiguous: bool = False  # turned by ~90 degrees: the 180-degree flip may be the right way up

    def flipped(self) -> "LineCrop":
        """The same line turned by 180 degrees (its quad's corners renamed to match)."""
        return LineCrop(np.ascontiguousarray(self.image[::-1, ::-1]), self.quad[[2, 3, 0, 1]], self.ambiguous)


def line_quad(polygon: np.ndarray) -> tuple[np.ndarray, bool]:
    """(corners in reading order ``[4, 2]`` float32, ambiguous) of the min-area rectangle of ``polygon``."""
    pts = np.asarray(polygon, np.float32).reshape(-1, 2)
    (cx, cy), (w, h), angle = cv2.minAreaRect(pts)
    rad = np.deg2rad(angle)
    ax_w = np.array([np.cos(rad), np.sin(rad)], np.float64)   # direction of the rectangle's side of length w
    ax_h = np.array([-np.sin(rad), np.cos(rad)], np.float64)  # direction of its side of length h
    sides = [(float(w), ax_w), (float(h), ax_h)]
    longer, shorter = sorted(sides, key=lambda s: -s[0])
    if longer[0] >= VERTICAL_RATIO * max(shorter[0], 1e-6):
        (length, u), (thick, _) = longer, shorter
    else:  # nearly square: read along the side closer to horizontal
        (length, u), (thick, _) = sorted(sides, key=lambda s: -abs(s[1][0]))
    ambiguous = abs(u[1]) > abs(u[0])
    if ambiguous:
        u = u if u[1] > 0 else -u  # read top to bottom (a line turned clockwise)
    else:
        u = u if u[0] > 0 else -u  # read left to right
    up = np.array([u[1], -u[0]])   # the glyphs' up: u turned a quarter counterclockwise (y points down)
    c = np.array([cx, cy])
    half_l, half_t = u * length / 2, up * thick / 2
    quad = np.array([c - half_l + half_t, c + half_l + half_t, c + half_l - half_t, c - half_l - half_t], np.float32)
    return quad, bool(ambiguous)


def crop_quad(gray: np.ndarray, quad: np.ndarray, pad: float = DEFAULT_PAD) -> np.ndarray:
    """The rectangle ``quad`` (reading-order corners) of ``gray`` warped to a horizontal image, padded."""
    quad = np.asarray(quad, np.float64)
    u = quad[1] - quad[0]
    v = quad[3] - quad[0]
    length, thick = float(np.hypot(*u)), float(np.hypot(*v))
    margin = pad * max(thick, 1.0)
    ue = u / max(length, 1e-6) * margin
    ve = v / max(thick, 1e-6) * margin
    src = np.array([quad[0] - ue - ve, quad[1] + ue - ve, quad[2] + ue + ve, quad[3] - ue + ve], np.float32)
    out_w = max(1, int(round(length + 2 * margin)))
    out_h = max(1, int(round(thick + 2 * margin)))
    dst = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(gray, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def crop_line(gray: np.ndarray, polygon: np.ndarray, pad: float = DEFAULT_PAD) -> LineCrop:
    """The line inside ``polygon`` on page ``gray`` (uint8 HxW) as an upright horizontal image."""
    quad, ambiguous = line_quad(polygon)
    return LineCrop(crop_quad(gray, quad, pad), quad, ambiguous)


__all__ = ["LineCrop", "line_quad", "crop_quad", "crop_line", "VERTICAL_RATIO", "DEFAULT_PAD"]
