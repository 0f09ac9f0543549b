"""``Reader``: pages in, a :class:`~aksar.infer.document.Document` out (detect -> crop -> recognize -> order).

    from aksar import Reader
    doc = Reader(det="khmer_det", rec="khmer").read("scan.pdf")
    print(doc.text())

Per page: the detector finds line polygons (:class:`~aksar.infer.detector.Detector`); pieces of one line
split with overlapping boxes are merged (:func:`merge_split_lines`, else the seam is read twice), and so are
pieces cut at a wide word space (else a paragraph's pieces read as columns); each is warped
into a horizontal line image (:mod:`aksar.infer.line_crops`; a line turned by ~90 degrees is read both
ways up and the more confident reading kept), the recognizer reads all lines of the page in its
width-sorted batches (a line reads the same alone or in any batch), lines go into reading order and
blocks (:mod:`aksar.infer.reading_order`; ruled tables row by row, from the page's rules,
:mod:`aksar.infer.page_rules`), and words get boxes estimated along the line in proportion
to their characters (the recognizer gives no character positions). Lines that read as nothing are
dropped and counted in ``Reader.stats["empty_lines"]``, lines read with a confidence under ``drop_score``
(specks, rules and blots the detector took for text) in ``Reader.stats["low_confidence_lines"]``.
``Line.char_confidences``: one per character where the recognizer gives them (greedy CTC: the best path's
probability at each character's first frame), else None (a beam search's result, or text changed by a repair).
"""
from __future__ import annotations

import os
import time
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

from aksar.core.errors import AksarError, ReadTimeout
from aksar.data.preprocess import to_gray
from aksar.infer.config import DROP_SCORE, InferConfig, PageInferConfig
from aksar.infer.document import Block, Document, Line, Page, Word
from aksar.infer.line_crops import DEFAULT_PAD, LineCrop, crop_line, crop_quad, line_quad
from aksar.infer.images import PAGE_MAX_PIXELS, as_gray
from aksar.infer.page_inputs import DEFAULT_DPI, PageImage, PageInputs
from aksar.infer.page_rules import Segment, horizontal_rules
from aksar.infer.reading_order import (group_blocks, gutter_cuts, median_height, order_boxes, page_skew,
                                       row_piece_groups, split_line_groups, upright_boxes, upright_rules)
from aksar.models.det_postprocess import Detection

ImageLike = str | os.PathLike | np.ndarray | Image.Image


def check_deadline(deadline: float | None, stage: str) -> None:
    """ReadTimeout if ``time.monotonic()`` is past ``deadline`` (None: no deadline)."""
    if deadline is not None and time.monotonic() > deadline:
        raise ReadTimeout(f"reading stopped at the deadline ({stage})")


def word_boxes(text: str, quad: np.ndarray) -> list[tuple[str, list[list[float]], int]]:
    """Words of ``text`` (split on spaces) with boxes along the line ``quad`` (reading-order corners),
    each spanning the line's share of its characters (spaces included in the count), and where each starts
    in ``text``."""
    n = max(len(text), 1)
    out, pos = [], 0
    for word in text.split(" "):
        start, end = pos, pos + len(word)
        pos = end + 1
        if not word:
            continue
        poly = sub_quad(quad, start / n, end / n)
        out.append((word, [[round(float(x), 1), round(float(y), 1)] for x, y in poly], start))
    return out


def sub_quad(quad: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """The part of a reading-order quad (tl, tr, br, bl) from ``t0`` to ``t1`` of its length, float64."""
    tl, tr, br, bl = (np.asarray(p, np.float64) for p in quad)
    return np.array([tl + (tr - tl) * t0, tl + (tr - tl) * t1, bl + (br - bl) * t1, bl + (br - bl) * t0])


def read_crops(recognizer: Any, crops: list[LineCrop]) -> list[tuple[LineCrop, Any]]:
    """The (crop, Prediction) of each line read by ``recognizer`` in its batches; a line turned by ~90
    degrees (``crop.ambiguous``) is read both ways up and the more confident reading kept. The crops keep
    their padding (the recognizer's trim is for loose crops made elsewhere)."""
    extra = [i for i, c in enumerate(crops) if c.ambiguous]
    images = [c.image for c in crops] + [crops[i].flipped().image for i in extra]
    preds = recognizer.predict(images, trim=False) if images else []
    best = list(zip(crops, preds[:len(crops)]))
    for k, i in enumerate(extra):
        alt = preds[len(crops) + k]
        if alt.confidence > best[i][1].confidence:
            best[i] = (crops[i].flipped(), alt)
    return best


def merge_split_lines(detections: Sequence[Any], gray: np.ndarray | None = None) -> list[Detection]:
    """Detections with the pieces of one line merged into one (the minimum-area rectangle of their points,
    scored by their mean): pieces that overlap (:func:`split_line_groups`), then pieces cut at a wide word
    space (:func:`row_piece_groups`; with the page ``gray``, never across one of its horizontal rules)."""
    return merge_line_pieces(detections, gray)[0]


def merge_line_pieces(detections: Sequence[Any], gray: np.ndarray | None = None) -> tuple[list[Detection], list[Segment]]:
    """:func:`merge_split_lines`, and the horizontal rules of the page ``gray`` it kept pieces apart at
    (page pixels; none without ``gray``), searched once per page: the reading order takes them too."""
    merged = _merge_groups(detections, split_line_groups(upright_boxes([np.asarray(d.polygon) for d in detections])))
    quads = [np.asarray(d.polygon) for d in merged]
    angle = page_skew(quads)
    boxes = upright_boxes(quads, angle)
    segments = horizontal_rules(gray, median_height(boxes), angle) if gray is not None and boxes else []
    return _merge_groups(merged, row_piece_groups(boxes, upright_rules(segments, angle))), segments


def _merge_groups(detections: Sequence[Any], groups: list[list[int]]) -> list[Any]:
    """One detection per group: a group of one as it is, more as the minimum-area rectangle of their points."""
    import cv2

    merged = []
    for group in groups:
        if len(group) == 1:
            merged.append(detections[group[0]])
            continue
        pts = np.concatenate([np.asarray(detections[i].polygon, np.float32).reshape(-1, 2) for i in group])
        merged.append(Detection(cv2.boxPoints(cv2.minAreaRect(pts)).astype(np.float32),
                                float(np.mean([detections[i].score for i in group]))))
    return merged


def split_at_gutters(detections: Sequence[Any], gray: np.ndarray) -> list[Any]:
    """Detections with each box that runs across a column gutter (:func:`gutter_cuts`) cut into one box per
    column where the line is blank across a gutter's width near that gutter (a heading over both columns has
    ink there and stays whole); the pieces keep the box's score."""
    quads = [line_quad(d.polygon)[0] for d in detections]
    boxes = upright_boxes(quads, page_skew(quads))
    gutters = gutter_cuts(boxes)
    out: list[Any] = []
    for i, det in enumerate(detections):
        box, quad = boxes[i], quads[i]
        width, height = max(1e-6, box[2] - box[0]), box[3] - box[1]
        pieces, start = [], 0.0
        for lo, hi in gutters.get(i, []):
            near = ((lo - height - box[0]) / width, (hi + height - box[0]) / width)
            gap = _blank_run(gray, quad, near, min(hi - lo, height) / width)
            if gap is not None:
                pieces.append((start, gap[0]))
                start = gap[1]
        if not pieces:
            out.append(det)
            continue
        pieces.append((start, 1.0))
        out.extend(Detection(sub_quad(quad, a, z).astype(np.float32), float(det.score)) for a, z in pieces)
    return out


def _blank_run(gray: np.ndarray, quad: np.ndarray, within: tuple[float, float],
               min_len: float) -> tuple[float, float] | None:
    """The longest run of blank columns (under a tenth of the line's mean ink, Otsu's threshold over the
    line) of the line in ``quad`` inside ``within`` (shares of its length), if at least ``min_len`` long."""
    import cv2

    line = crop_quad(gray, quad, 0.0)
    _, ink = cv2.threshold(line, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    n = ink.shape[1]
    a, z = max(0, int(within[0] * n)), min(n, int(np.ceil(within[1] * n)))
    if z - a < 1 or ink.mean() == 0:
        return None
    blank = ink[:, a:z].mean(axis=0) < 0.1 * float(ink.mean())
    best, run_start = (0, 0), None
    for k, empty in enumerate(np.append(blank, False)):
        if empty and run_start is None:
            run_start = k
        elif not empty and run_start is not None:
            best = max(best, (k - run_start, run_start))
            run_start = None
    length, at = best
    if length < max(1, min_len * n):
        return None
    return (a + at) / n, (a + at + length) / n


def _quad_list(quad: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 1), round(float(y), 1)] for x, y in quad]


class Reader:
    """Detector + recognizer. ``det``/``rec``: paths, shipped model names, or loaded Detector/Recognizer.

    ``det=None``: the shipped detector for the recognizer's script (``aksar.models.zoo.default_detector``).
    ``threads``, ``batch_size``, ``decoder``, ``beam_width``, ``lm``, ``lm_weight``, ``lm_bonus``, ``device``:
    as for :class:`~aksar.infer.recognizer.Recognizer` (``threads`` and ``device`` for the detector too), except
    that ``lm`` defaults to ``"auto"``: the recognizer's shipped language model when it ships one;
    ``det_limit_side``: the detector's input long side (default: the model's); ``pad``: page kept around each
    line crop (share of its height); ``drop_score``: lines read with a lower confidence are left out (0: none);
    ``max_pixels``: the largest page accepted.
    """

    def __init__(self, det: Any = None, rec: Any = "khmer", *, threads: int | None = InferConfig.threads,
                 batch_size: int = InferConfig.batch_size, decoder: str = InferConfig.decoder,
                 beam_width: int = InferConfig.beam_width, lm: Any = PageInferConfig.lm,
                 lm_weight: float | None = InferConfig.lm_weight, lm_bonus: float | None = InferConfig.lm_bonus,
                 det_limit_side: int | None = None, device: str = InferConfig.device, pad: float = DEFAULT_PAD,
                 drop_score: float = DROP_SCORE, max_pixels: int = PAGE_MAX_PIXELS) -> None:
        from aksar.infer.detector import Detector
        from aksar.infer.recognizer import Recognizer
        from aksar.models.zoo import default_detector, resolve_model, verify

        if pad < 0:
            raise AksarError(f"pad: must be >= 0, got {pad}")
        if not 0 <= drop_score <= 1:
            raise AksarError(f"drop_score: must be within 0..1, got {drop_score}")
        if isinstance(rec, Recognizer):
            self.recognizer = rec
        else:
            self.recognizer = Recognizer(rec, device=device, threads=threads, decoder=decoder,
                                         beam_width=beam_width, batch_size=batch_size, lm=lm,
                                         lm_weight=lm_weight, lm_bonus=lm_bonus)
        if isinstance(det, Detector):
            self.detector = det
        else:
            if det is None:
                det = verify(default_detector(self.recognizer.script))
            elif isinstance(det, (str, os.PathLike)):
                det = resolve_model(det)
            self.detector = Detector(det, det_limit_side=det_limit_side, threads=threads, device=device)
        self.pad = pad
        self.drop_score = drop_score
        self.max_pixels = max_pixels
        self.skipped: list[tuple[str, str]] = []  # inputs of the last read() skipped as unreadable
        self.stats: dict[str, int] = {"pages": 0, "lines": 0, "empty_lines": 0, "low_confidence_lines": 0}

    def describe(self) -> dict[str, Any]:
        """The models, as ``Document.models`` records them."""
        return {"detector": self.detector.describe(), "recognizer": self.recognizer.describe()}

    # -- one page ------------------------------------------------------------------------------------
    def read_page(self, image: ImageLike, index: int = 0, source: str = "", source_page: int = 0,
                  dpi: float | None = None, deadline: float | None = None) -> Page:
        """One page image -> its Page (``deadline``: a ``time.monotonic()`` after which it stops with an error)."""
        check_deadline(deadline, "before detection")
        if isinstance(image, Image.Image) and image.mode not in ("L", "RGB"):
            image = image.convert("RGB")  # a page's alpha is not ink (PDF renders, screenshots)
        gray = as_gray(image, source or f"page {index}", self.max_pixels, kind="page")
        height, width = gray.shape[:2]
        detections, rules = merge_line_pieces(self.detector.detect_page(gray), gray)
        detections = split_at_gutters(detections, gray)
        check_deadline(deadline, "after detection")
        crops = [crop_line(gray, d.polygon, self.pad) for d in detections]
        read = read_crops(self.recognizer, crops)
        check_deadline(deadline, "after recognition")
        lines: list[Line] = []
        for det, (crop, pred) in zip(detections, read):
            if not pred.text.strip():
                self.stats["empty_lines"] += 1
                continue
            if (pred.confidence if pred.path_confidence is None else pred.path_confidence) < self.drop_score:
                self.stats["low_confidence_lines"] += 1
                continue
            chars = None if pred.char_confidences is None else list(pred.char_confidences)
            words = [Word(w, pred.confidence if chars is None else float(np.mean(chars[at:at + len(w)])), poly)
                     for w, poly, at in word_boxes(pred.text, crop.quad)]
            lines.append(Line(polygon=_quad_list(crop.quad), text=pred.text, confidence=pred.confidence,
                              det_score=float(det.score), words=words, char_confidences=chars,
                              repaired=pred.repaired))
        quads = [np.asarray(ln.polygon) for ln in lines]
        angle = page_skew(quads)
        boxes = upright_boxes(quads, angle)
        order = order_boxes(boxes, upright_rules(rules, angle))
        ordered = [lines[i] for i in order]
        blocks = [Block.around([ordered[i] for i in group]) for group in group_blocks([boxes[i] for i in order])]
        self.stats["pages"] += 1
        self.stats["lines"] += len(ordered)
        return Page(index=index, width=width, height=height, source=source, source_page=source_page, dpi=dpi,
                    blocks=blocks)

    # -- many pages ----------------------------------------------------------------------------------
    def page_images(self, source: ImageLike | Sequence[ImageLike], dpi: float = DEFAULT_DPI) -> Iterator[PageImage]:
        """Every page of ``source`` (files of any input kind, arrays, PIL images, or a list of them)."""
        items = [source] if isinstance(source, (str, os.PathLike, np.ndarray, Image.Image)) else list(source)
        if not items:
            raise AksarError("Reader.read: no pages given")
        self.skipped = []
        for item in items:
            if isinstance(item, (str, os.PathLike)):
                inputs = PageInputs.from_inputs([item], dpi=dpi, max_pixels=self.max_pixels)
                yield from inputs
                self.skipped.extend(inputs.skipped)
            elif isinstance(item, Image.Image):
                yield PageImage(item)
            elif isinstance(item, np.ndarray):
                yield PageImage(Image.fromarray(to_gray(item, "page array")))
            else:
                raise AksarError(f"Reader.read: expected paths, arrays or PIL images, got {type(item).__name__}")

    def read(self, source: ImageLike | Sequence[ImageLike], dpi: float = DEFAULT_DPI,
             deadline: float | None = None) -> Document:
        """Files (images, multi-page TIFF, PDF, folders, lists), arrays or PIL images -> a Document of every page.

        Unreadable files found in folders or lists are skipped and listed in ``self.skipped``."""
        pages = [self.read_page(p.image, index=i, source=p.source, source_page=p.page, dpi=p.dpi, deadline=deadline)
                 for i, p in enumerate(self.page_images(source, dpi))]
        return Document(pages=pages, models=self.describe())


__all__ = ["Reader", "merge_split_lines", "merge_line_pieces", "ReadTimeout", "read_crops", "word_boxes", "check_deadline", "ImageLike"]
