"""DB post-processing (numpy + OpenCV, no torch): a probability map -> text-line polygons.

Shared by the PyTorch model (``model.postprocess``) and the ONNX path (:mod:`aksar.infer.detector`).
Per map: binarize at ``thresh``; for each connected contour (``cv2.findContours``, at most
``max_candidates``): its minimum-area rectangle, dropped when its short side is under ``min_size``;
the score is the mean probability inside the contour, dropped under ``box_thresh``; the rectangle is
grown back by the Vatti offset ``D = A * unclip_ratio / L`` (:func:`aksar.data.det_targets.unclip`,
the inverse of the training shrink), its minimum-area rectangle taken again (dropped under
``min_size + 2``), scaled from the map to the original image and clipped to it. Detections come in
reading order (:func:`reading_order`): top to bottom, left to right within a row.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from aksar.core.errors import AksarError


@dataclass
class Detection:
    """One text line: ``polygon`` ``[K, 2]`` float32 in original image pixels (x, y), and its score."""

    polygon: np.ndarray
    score: float


@dataclass
class DBPostProcess:
    """DB post-processing settings; call :meth:`post` (or the object itself)."""

    thresh: float = 0.3
    box_thresh: float = 0.6
    unclip_ratio: float = 1.5
    max_candidates: int = 1000
    min_size: float = 3.0

    def settings(self) -> dict[str, float | int]:
        return asdict(self)

    def __call__(self, prob: np.ndarray, sizes: Sequence[tuple[int, int]],
                 valid: Sequence[tuple[int, int]] | None = None) -> list[list[Detection]]:
        return self.post(prob, sizes, valid)

    def post(self, prob: np.ndarray, sizes: Sequence[tuple[int, int]],
             valid: Sequence[tuple[int, int]] | None = None) -> list[list[Detection]]:
        """``prob`` ``[B, 1, H, W]`` or ``[B, H, W]`` (numpy, or a torch tensor); ``sizes`` the original ``(height, width)`` of each
        image; ``valid`` the ``(height, width)`` of the map that covers it (default: the whole map; less
        when a batch was padded). Returns the detections of each image."""
        if hasattr(prob, "detach"):  # a torch tensor (on any device): no torch import needed here
            prob = prob.detach().float().cpu().numpy()
        prob = np.asarray(prob, np.float32)
        if prob.ndim == 4:
            if prob.shape[1] != 1:
                raise AksarError(f"DB post-processing: expected prob [B, 1, H, W], got {list(prob.shape)}")
            prob = prob[:, 0]
        if prob.ndim != 3 or len(sizes) != prob.shape[0]:
            raise AksarError(f"DB post-processing: expected prob [B, H, W] and one size per image, got "
                             f"{list(prob.shape)} and {len(sizes)} sizes")
        valid = list(valid) if valid is not None else [prob.shape[1:]] * len(sizes)
        return [self.post_one(p[: int(v[0]), : int(v[1])], size) for p, size, v in zip(prob, sizes, valid)]

    def post_one(self, prob: np.ndarray, size: tuple[int, int]) -> list[Detection]:
        """One probability map ``[H, W]`` -> detections in an image of ``size`` = (height, width)."""
        import cv2

        from aksar.data.det_targets import unclip

        h, w = prob.shape
        oh, ow = int(size[0]), int(size[1])
        bitmap = (prob > self.thresh).astype(np.uint8)
        contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        found: list[Detection] = []
        for contour in contours[: self.max_candidates]:
            box, side = mini_box(contour.reshape(-1, 2).astype(np.float32))
            if side < self.min_size:
                continue
            score = contour_score(prob, contour.reshape(-1, 2))
            if score < self.box_thresh:
                continue
            grown = unclip(box, self.unclip_ratio)
            if grown is None:
                continue
            box, side = mini_box(grown.astype(np.float32))
            if side < self.min_size + 2:
                continue
            box = box * np.array([ow / w, oh / h], np.float32)
            box[:, 0] = np.clip(box[:, 0], 0, ow)
            box[:, 1] = np.clip(box[:, 1], 0, oh)
            found.append(Detection(box.astype(np.float32), float(score)))
        return reading_order(found)


def reading_order(dets: list[Detection]) -> list[Detection]:
    """Top to bottom by the top edge, then left to right among boxes of one row (tops closer than half
    the lower box's height, PaddleOCR's ``sorted_boxes`` with a relative tolerance)."""
    def top(d: Detection) -> float:
        return float(d.polygon[:, 1].min())

    def left(d: Detection) -> float:
        return float(d.polygon[:, 0].min())

    def height(d: Detection) -> float:
        return float(np.ptp(d.polygon[:, 1]))

    out = sorted(dets, key=lambda d: (top(d), left(d)))
    for i in range(1, len(out)):
        j = i
        while j > 0 and abs(top(out[j]) - top(out[j - 1])) < 0.5 * min(height(out[j]), height(out[j - 1])) \
                and left(out[j]) < left(out[j - 1]):
            out[j - 1], out[j] = out[j], out[j - 1]
            j -= 1
    return out


def mini_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The minimum-area rectangle of ``points`` as 4 points (top-left first, clockwise) and its short side."""
    import cv2

    rect = cv2.minAreaRect(points)
    pts = sorted(cv2.boxPoints(rect).tolist(), key=lambda p: p[0])
    left = sorted(pts[:2], key=lambda p: p[1])
    right = sorted(pts[2:], key=lambda p: p[1])
    box = np.array([left[0], right[0], right[1], left[1]], np.float32)
    return box, float(min(rect[1]))


def contour_score(prob: np.ndarray, contour: np.ndarray) -> float:
    """Mean of ``prob`` inside the polygon ``contour`` (pixel coordinates, edges included)."""
    import cv2

    h, w = prob.shape
    x0, y0 = np.clip(contour.min(axis=0), 0, [w - 1, h - 1]).astype(int)
    x1, y1 = np.clip(contour.max(axis=0), 0, [w - 1, h - 1]).astype(int)
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [np.round(contour - [x0, y0]).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0])


__all__ = ["DBPostProcess", "Detection", "mini_box", "contour_score", "reading_order"]
