"""``Detector``: text-line polygons on pages, with an exported ``.onnx`` detector or a PyTorch one.

    from aksar.infer.detector import Detector
    det = Detector("det.onnx", threads=1)              # or a checkpoint, or a DBNet object
    for d in det.detect_page("page.png"):
        print(d.polygon, d.score)                        # [4, 2] float32 in page pixels, reading order

Preprocessing (:func:`resize_for_detection`): grayscale uint8 -> float32 in [0, 1] (ink dark), resized
keeping the aspect ratio so the long side is at most ``det_limit_side`` (default 960, PaddleOCR's
``det_limit_side_len`` with ``limit_type: max``), each side then rounded to a multiple of 32 (at least
32). The probability map covers the resized page exactly, so post-processing
(:class:`aksar.models.det_postprocess.DBPostProcess`, numpy only) scales its polygons back to the
original pixels. Pages run ONE AT A TIME (no padding, so a page's result never depends on the other
pages; a detector is convolutional over the whole page, batching pages of different sizes would buy
little on a CPU). ONNX files run with onnxruntime and numpy only: torch is not imported.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from aksar.core.errors import AksarError
from aksar.data.det_dataset import STRIDE, detection_size, resize_for_detection
from aksar.infer.images import PAGE_MAX_PIXELS, as_gray
from aksar.models.det_postprocess import DBPostProcess, Detection

ImageLike = str | os.PathLike | np.ndarray | Image.Image
META_POSTPROCESS = "aksar.det_postprocess"  # JSON DBPostProcess settings
META_TASK = "aksar.task"                    # "detection" for detector exports
META_STRIDE = "aksar.stride"                # input sides must be multiples of this
META_LIMIT_SIDE = "aksar.det_limit_side"    # the default long-side limit


class Detector:
    """Text lines on pages (see the module doc). ``path_or_model``: an ``.onnx`` export, a checkpoint
    (file or run directory), a shipped detector's name (``"khmer_det"``), or a detection model object; ``det_limit_side`` defaults to the one the
    export or checkpoint records, else 960; post-processing settings (``thresh``,
    ``box_thresh``, ``unclip_ratio``, ``max_candidates``, ``min_size``) override the model's."""

    def __init__(self, path_or_model: Any, det_limit_side: int | None = None, threads: int | None = None,
                 device: str = "cpu", **postprocess: Any) -> None:
        self.session = self.model = None
        self.device = device
        self.path = str(path_or_model) if isinstance(path_or_model, (str, os.PathLike)) else ""
        settings: dict[str, Any] = {}
        limit = 960
        if isinstance(path_or_model, (str, os.PathLike)):
            from aksar.models.zoo import resolve_model

            path_or_model = resolve_model(path_or_model)  # a path, or a shipped detector's name (verified)
        if isinstance(path_or_model, (str, os.PathLike)) and Path(path_or_model).suffix.lower() == ".onnx":
            self.session, meta = _onnx_session(Path(path_or_model), threads)
            settings = json.loads(meta.get(META_POSTPROCESS) or "{}")
            limit = int(meta.get(META_LIMIT_SIDE) or limit)
            self.stride = int(meta.get(META_STRIDE) or STRIDE)
            self.name = meta.get("aksar.model_name", "")
            self.kind = meta.get("aksar.model_kind", "")
        else:
            import torch

            if threads:
                torch.set_num_threads(int(threads))
            if isinstance(path_or_model, (str, os.PathLike)):
                from aksar.models.weights import load_detector

                loaded = load_detector(path_or_model, device)
                path_or_model, limit = loaded.model, int(loaded.info.get("det_limit_side") or limit)
            if not hasattr(path_or_model, "postprocess") or getattr(path_or_model, "task", "") != "detection":
                raise AksarError(f"Detector: {type(path_or_model).__name__} is not a detection model")
            self.model = path_or_model
            settings = path_or_model.postprocess.settings()
            self.stride = int(path_or_model.stride)
            self.name = getattr(path_or_model, "name", "")
            self.kind = getattr(path_or_model, "kind", "")
        unknown = sorted(set(postprocess) - set(DBPostProcess().settings()))
        if unknown:
            raise AksarError(f"Detector: unknown post-processing option(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(DBPostProcess().settings())}")
        self.postprocess = DBPostProcess(**{**settings, **postprocess})
        self.det_limit_side = int(det_limit_side or limit)

    def describe(self) -> dict[str, Any]:
        """Model facts for reports and documents: path, backend, name, input size limit, post-processing."""
        return {"path": self.path, "backend": "onnx" if self.session is not None else "torch", "name": self.name,
                "det_limit_side": self.det_limit_side, "postprocess": self.postprocess.settings()}

    def prob_map(self, batch: np.ndarray) -> np.ndarray:
        """The shrink-map probability ``[B, 1, H, W]`` of a preprocessed batch (either back end)."""
        if self.session is not None:
            return self.session.run(None, {"images": np.ascontiguousarray(batch, np.float32)})[0]
        import torch

        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                dev = next(self.model.parameters()).device
                return self.model(torch.from_numpy(batch).to(dev))["prob"].float().cpu().numpy()
        finally:
            self.model.train(was_training)

    def detect_page(self, image: ImageLike) -> list[Detection]:
        """One page (path, array or PIL image) -> its text lines in reading order."""
        gray = as_gray(image, "page", PAGE_MAX_PIXELS, kind="page")
        batch = resize_for_detection(gray, self.det_limit_side, self.stride)
        return self.postprocess.post(self.prob_map(batch), [gray.shape[:2]])[0]

    def detect(self, images: Sequence[ImageLike]) -> list[list[Detection]]:
        """Pages -> the text lines of each (one page at a time: results never depend on the others)."""
        if isinstance(images, (str, os.PathLike, np.ndarray, Image.Image)):
            raise AksarError("Detector.detect: expected a list of pages (use detect_page for one)")
        return [self.detect_page(img) for img in images]


def _onnx_session(path: Path, threads: int | None) -> tuple[Any, dict[str, str]]:
    from aksar.infer.onnx_model import open_session

    session, meta = open_session(path, threads)
    if meta.get(META_TASK) != "detection":
        raise AksarError(f"{path}: not an aksar detection model (metadata {META_TASK!r} is "
                         f"{meta.get(META_TASK)!r}); export a detection checkpoint with `aksar export`")
    return session, meta


__all__ = ["Detector", "Detection", "detection_size", "resize_for_detection", "META_POSTPROCESS", "META_TASK",
           "META_STRIDE", "META_LIMIT_SIDE"]
