"""Detection models to ONNX: ``images [B, 1, H, W] -> prob [B, 1, H, W]`` (B, H, W dynamic), checked.

Metadata (``aksar.*``): task ``detection``, model kind/name/kwargs, stride (input sides are multiples
of it), the post-processing settings (``aksar.det_postprocess``, JSON), the default long-side limit,
version, source checkpoint and the parity result. Parity: deterministic page-like images of several
sizes (not multiples of each other, portrait and landscape) run through PyTorch and onnxruntime one by
one and as a batch; the probability maps must agree within ``atol``, else AksarError and no file is
written at ``out``. ``aksar export`` sends detection checkpoints here (:func:`aksar.infer.export.export_onnx`).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from aksar import __version__
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_bytes
from aksar.core.rng import rng_for
from aksar.infer import onnx_model as om
from aksar.infer.detector import META_LIMIT_SIDE, META_POSTPROCESS, META_STRIDE, META_TASK
from aksar.infer.export import DEFAULT_ATOL, DEFAULT_OPSET, checked_bytes, checkpoint_source, onnx_proto

log = logging.getLogger(__name__)

PARITY_SIZES = ((160, 224), (256, 192), (96, 320))  # (height, width), multiples of 32


def parity_pages(sizes: tuple[tuple[int, int], ...] = PARITY_SIZES) -> list[np.ndarray]:
    """Deterministic float32 ``[1, 1, H, W]`` pages: light paper with dark rows of strokes (text-like)."""
    pages = []
    for i, (h, w) in enumerate(sizes):
        rng = rng_for(0, "det-export-parity", i)
        img = np.full((h, w), 0.95, np.float32) - rng.random((h, w), np.float32) * 0.05
        for y in range(8, h - 16, 24):
            x = int(rng.integers(4, 20))
            while x < w - 24:
                n = int(rng.integers(6, 20))
                img[y:y + int(rng.integers(8, 14)), x:x + n] = rng.random((1, 1), np.float32) * 0.3
                x += n + int(rng.integers(2, 10))
        pages.append(img[None, None])
    return pages


def check_detector_parity(model, onnx_path: Path, atol: float = DEFAULT_ATOL) -> dict[str, Any]:
    """Compare the PyTorch and ONNX probability maps on :func:`parity_pages` (AksarError beyond ``atol``)."""
    import torch

    from aksar.infer.detector import Detector

    onnx = Detector(onnx_path)
    pages = parity_pages()
    groups = [[p] for p in pages] + [[pages[0], pages[0][..., ::-1, ::-1].copy()]]  # one by one, then a batch
    max_diff = 0.0
    for group in groups:
        batch = np.concatenate(group)
        with torch.inference_mode():
            want = model(torch.from_numpy(batch))["prob"].float().numpy()
        got = onnx.prob_map(batch)
        if got.shape != want.shape:
            raise AksarError(f"export parity: prob has shape {want.shape} in PyTorch, {got.shape} in ONNX")
        diff = float(np.max(np.abs(want.astype(np.float64) - got)))
        max_diff = max(max_diff, diff)
        if diff > atol:
            raise AksarError(f"export parity: prob differs by {diff:.2e} > atol {atol:.0e} "
                             f"(input {list(batch.shape)})")
    return {"pages": sum(len(g) for g in groups), "sizes": [list(s) for s in PARITY_SIZES],
            "max_abs_diff": max_diff, "atol": atol}


def export_detector_model(model, out: str | Path, model_name: str = "", model_kwargs: dict[str, Any] | None = None,
                          source: dict[str, Any] | None = None, check: bool = True, atol: float = DEFAULT_ATOL,
                          opset: int = DEFAULT_OPSET, det_limit_side: int = 960, where: str = "model") -> dict[str, Any]:
    """Export a detection model object to ``out`` with metadata and the parity check (mode restored)."""
    t0 = time.perf_counter()
    model_name = model_name or model.name
    out = Path(out)
    was_training = model.training
    model.eval()
    try:
        proto, outputs = onnx_proto(model, opset, model_name, where)
        meta = {
            META_TASK: "detection",
            om.META_KIND: model.kind,
            om.META_NAME: model_name,
            om.META_KWARGS: json.dumps(model.config() if model_kwargs is None else model_kwargs),
            om.META_VERSION: __version__,
            om.META_OUTPUTS: json.dumps(outputs),
            om.META_SOURCE: json.dumps(source or {}),
            META_STRIDE: str(int(model.stride)),
            META_POSTPROCESS: json.dumps(model.postprocess.settings()),
            META_LIMIT_SIDE: str(int(det_limit_side)),
        }
        data, parity = checked_bytes(proto, meta, out, check, lambda tmp: check_detector_parity(model, tmp, atol))
    finally:
        model.train(was_training)
    atomic_write_bytes(out, data)
    summary = {"out": str(out), "bytes": len(data), "task": "detection", "kind": model.kind,
               "model_name": model_name, "opset": opset, "parity": parity,
               "postprocess": model.postprocess.settings(), "seconds": round(time.perf_counter() - t0, 2)}
    log.info("exported %s -> %s (%.1f MB); parity: %s", where, out, len(data) / 1e6, parity)
    return summary


def export_detector(checkpoint: str | Path, out: str | Path, check: bool = True, atol: float = DEFAULT_ATOL,
                    opset: int = DEFAULT_OPSET) -> dict[str, Any]:
    """Export a detection checkpoint (file or run directory) to ``out``; returns a summary."""
    from aksar.models.weights import load_detector, resolve_checkpoint_path

    src = resolve_checkpoint_path(checkpoint)
    loaded = load_detector(src, "cpu")
    summary = export_detector_model(loaded.model, out, model_name=str(loaded.info.get("model_name") or ""),
                                    model_kwargs=loaded.info.get("model_kwargs") or {},
                                    source=checkpoint_source(src, loaded.info), check=check, atol=atol, opset=opset,
                                    where=str(src))
    return {**summary, "checkpoint": str(src)}


__all__ = ["export_detector", "export_detector_model", "check_detector_parity", "parity_pages", "PARITY_SIZES"]
