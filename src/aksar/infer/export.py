"""``aksar export``: a checkpoint to a self-sufficient ONNX file, with a PyTorch/onnxruntime parity check.

The graph takes ``images`` (float32 ``[batch, 1, height, width]``, batch and width dynamic) and
``widths`` (int64 ``[batch]``) and returns ``OCRModel.export_forward(images, widths)`` (see :mod:`aksar.infer.onnx_model` for the output contract). The
charset, script, normalization, preprocessing, model kind/name/kwargs, width stride, source
checkpoint, the padding margin, the output layer size and the parity result go into ``metadata_props`` (``aksar.*`` keys).

Parity: lines rendered in the model's script (real fonts, several widths, batched together and one
by one) go through the PyTorch model and the exported file. The exported outputs must be within
``atol`` (default 1e-4, absolute, on probabilities) of PyTorch's and the decoded texts (PyTorch:
``model.forward`` + ``model.decode``; ONNX: numpy decoding) must be identical. Any mismatch raises
AksarError and no file is written at ``out``.

A detection checkpoint goes to :func:`aksar.infer.det_export.export_detector` (``images -> prob``).
"""
from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aksar import __version__
from aksar.core.config import to_dict
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_bytes, sha256_file
from aksar.core.rng import rng_for
from aksar.data.preprocess import PreprocessConfig, to_array_batch
from aksar.infer import onnx_model as om

log = logging.getLogger(__name__)

DEFAULT_ATOL = 1e-4
DEFAULT_OPSET = 17
NORMALIZATION = "aksar.text.normalize (NFC, invisibles removed, whitespace collapsed, script cluster order)"


def parity_images(script: str | None, charset: list[str], n: int = 6) -> tuple[list[np.ndarray], bool]:
    """Test lines for the parity check: rendered in the script's first font (``True``), or, when no
    font or renderer is available, deterministic synthetic strokes (``False``)."""
    texts = _parity_texts(script, charset, n)
    if script:
        try:
            from aksar.render.fonts import discover_fonts
            from aksar.render.renderer import LineRenderer, RenderConfig

            fonts = discover_fonts(script)
            if fonts:
                renderer = LineRenderer(RenderConfig(), script)
                return [renderer.render(t, fonts[i % len(fonts)]) for i, t in enumerate(texts)], True
        except AksarError as exc:
            log.warning("parity check: cannot render %s text (%s); using synthetic images", script, exc)
    images = []
    for i in range(n):
        rng = rng_for(0, "export-parity", i)
        w = int(rng.integers(40, 400))
        img = np.full((48, w), 255, np.uint8)
        for _ in range(w // 8):
            x, y = int(rng.integers(0, w - 4)), int(rng.integers(8, 36))
            img[y:y + int(rng.integers(2, 12)), x:x + int(rng.integers(1, 4))] = int(rng.integers(0, 90))
        images.append(img)
    return images, False


def _parity_texts(script: str | None, charset: list[str], n: int) -> list[str]:
    sample = ""
    if script:
        from aksar.text.scripts import get_script

        sample = get_script(script).sample
    letters = [t for t in charset if t.strip()] or ["a"]
    texts = []
    for i in range(n):
        rng = rng_for(0, "export-parity-text", i)
        if sample and i % 2 == 0:
            texts.append(sample[: max(2, len(sample) * (i + 2) // (n + 1))])
        else:
            k = int(rng.integers(2, 24))
            texts.append("".join(letters[int(j)] for j in rng.integers(0, len(letters), k)))
    return texts


def _torch_outputs(model, batch: np.ndarray, widths: np.ndarray) -> tuple[list[np.ndarray], list]:
    import torch

    with torch.inference_mode():
        images = torch.from_numpy(batch)
        raw = model.export_forward(images, torch.from_numpy(widths)) if model.export_takes_widths \
            else model.export_forward(images)
        raw = list(raw) if isinstance(raw, (tuple, list)) else [raw]
        decoded = model.decode(model(images, torch.from_numpy(widths)))
    return [r.detach().cpu().numpy() for r in raw], decoded


def check_parity(model, onnx_path: Path, charset: list[str], script: str | None, preprocess: PreprocessConfig,
                 atol: float = DEFAULT_ATOL) -> dict[str, Any]:
    """Compare PyTorch and onnxruntime on rendered lines; AksarError on any difference beyond ``atol``.

    Batches are built as inference builds them (``margin = model.pad_margin``)."""
    onnx = om.OnnxModel(onnx_path)
    images, rendered = parity_images(script, charset)
    groups = [list(range(len(images)))] + [[i] for i in range(len(images))]  # one batch, then one by one
    max_diff = 0.0
    lines = 0
    for idx in groups:
        batch, widths = to_array_batch([images[i] for i in idx], preprocess, model.pad_margin)
        t_raw, t_dec = _torch_outputs(model, batch, widths)
        o_raw = onnx.forward(batch, widths)
        o_dec = onnx.info.decoder.decode_export(o_raw, widths, onnx.info.width_stride)
        for name, t, o in zip(model.onnx_outputs, t_raw, o_raw):
            if t.shape != o.shape:
                raise AksarError(f"export parity: output {name!r} has shape {t.shape} in PyTorch, {o.shape} in ONNX")
            if np.issubdtype(t.dtype, np.integer):
                if not np.array_equal(t, o):
                    raise AksarError(f"export parity: output {name!r} differs between PyTorch and ONNX")
                continue
            diff = float(np.max(np.abs(t.astype(np.float64) - o))) if t.size else 0.0
            max_diff = max(max_diff, diff)
            if diff > atol:
                raise AksarError(f"export parity: output {name!r} differs by {diff:.2e} > atol {atol:.0e} "
                                 f"(batch of {len(idx)} lines)")
        for i, (t, o) in enumerate(zip(t_dec, o_dec)):
            t_text = "".join(charset[c] for c in t[0])
            o_text = "".join(charset[c] for c in o[0])
            if t_text != o_text:
                raise AksarError(f"export parity: decoded text differs for parity line {idx[i]}: "
                                 f"PyTorch {t_text!r}, ONNX {o_text!r}")
        lines += len(idx)
    return {"lines": lines, "rendered": rendered, "max_abs_diff": max_diff, "atol": atol,
            "texts_equal": True}


def export_onnx(checkpoint: str | Path, out: str | Path, check: bool = True, atol: float = DEFAULT_ATOL,
                opset: int = DEFAULT_OPSET) -> dict[str, Any]:
    """Export ``checkpoint`` to ``out`` (ONNX); returns a summary (parity result, sizes, metadata)."""
    from aksar.models.weights import (is_detection_checkpoint, load_checkpoint, load_for_inference,
                                      resolve_checkpoint_path)

    src = resolve_checkpoint_path(checkpoint)
    if is_detection_checkpoint(load_checkpoint(src)):
        from aksar.infer.det_export import export_detector

        return export_detector(src, out, check=check, atol=atol, opset=opset)
    loaded = load_for_inference(src, "cpu")
    source = checkpoint_source(src, loaded.info)
    summary = export_model(loaded.model, out, list(loaded.charset.tokens), loaded.script, loaded.preprocess,
                           model_name=str(loaded.info.get("model_name") or ""),
                           model_kwargs=loaded.info.get("model_kwargs") or {}, source=source, check=check,
                           atol=atol, opset=opset, where=str(src))
    return {**summary, "checkpoint": str(src)}


def checkpoint_source(src: Path, info: dict[str, Any]) -> dict[str, Any]:
    """What ``aksar.source`` records: the checkpoint file, its sha256, step and epoch."""
    return {"file": src.name, "sha256": sha256_file(src), "step": info.get("step"), "epoch": info.get("epoch")}


def write_metadata(proto, meta: dict[str, str]) -> bytes:
    """The ONNX model ``proto`` with ``metadata_props`` = ``meta``, serialized."""
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    return proto.SerializeToString()


def onnx_proto(model, opset: int, model_name: str, where: str) -> tuple[Any, list[str]]:
    """``model.to_onnx`` in memory: the ONNX proto and its output names (AksarError naming ``where``)."""
    import onnx

    buf = io.BytesIO()
    try:
        outputs = model.to_onnx(buf, opset=opset)
    except Exception as exc:
        raise AksarError(f"{where}: ONNX export of {model_name} failed: {exc}") from None
    return onnx.load_from_string(buf.getvalue()), outputs


def checked_bytes(proto, meta: dict[str, str], out: Path, check: bool,
                  parity_of: Callable[[Path], dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    """The file to write at ``out`` and the parity result: ``parity_of(tmp)`` runs on the graph with ``meta``
    written next to ``out`` (removed after), and the result goes into ``aksar.parity``."""
    parity: dict[str, Any] = {"checked": False}
    if check:
        tmp = out.with_name(f".{out.name}.parity.onnx")
        try:
            atomic_write_bytes(tmp, write_metadata(proto, meta))
            parity = {"checked": True, **parity_of(tmp)}
        finally:
            tmp.unlink(missing_ok=True)
    return write_metadata(proto, {**meta, om.META_PARITY: json.dumps(parity)}), parity


def export_model(model, out: str | Path, charset: list[str], script: str | None, preprocess: PreprocessConfig,
                 model_name: str = "", model_kwargs: dict[str, Any] | None = None,
                 source: dict[str, Any] | None = None, check: bool = True, atol: float = DEFAULT_ATOL,
                 opset: int = DEFAULT_OPSET, where: str = "model") -> dict[str, Any]:
    """Export a model object (any registered model) to ``out`` with its metadata and the parity check
    (the model runs in eval mode; its mode is restored after)."""
    was_training = model.training
    try:
        return _export(model.eval(), out, charset, script, preprocess, model_name, model_kwargs, source, check,
                       atol, opset, where)
    finally:
        model.train(was_training)


def _export(model, out, charset, script, preprocess, model_name, model_kwargs, source, check, atol, opset,
            where) -> dict[str, Any]:
    t0 = time.perf_counter()
    kind = model.output_decoder.kind  # AksarError for a kind without a decoder
    model_name = model_name or model.name
    out = Path(out)
    proto, outputs = onnx_proto(model, opset, model_name, where)
    meta = {
        om.META_CHARSET: json.dumps(charset, ensure_ascii=False),
        om.META_SCRIPT: script or "",
        om.META_PREPROCESS: json.dumps(to_dict(preprocess)),
        om.META_NORMALIZATION: NORMALIZATION,
        om.META_KIND: kind,
        om.META_NAME: model_name,
        om.META_KWARGS: json.dumps(model.config() if model_kwargs is None else model_kwargs, ensure_ascii=False),
        om.META_VERSION: __version__,
        om.META_WIDTH_STRIDE: str(int(model.width_stride)),
        om.META_OUTPUTS: json.dumps(outputs),
        om.META_SOURCE: json.dumps(source or {}),
        om.META_PAD_MARGIN: str(int(model.pad_margin)),
        om.META_NUM_CLASSES: str(int(model.num_classes)),
    }
    data, parity = checked_bytes(proto, meta, out, check,
                                 lambda tmp: check_parity(model, tmp, charset, script, preprocess, atol))
    atomic_write_bytes(out, data)
    summary = {"out": str(out), "bytes": len(data), "kind": kind, "model_name": model_name,
               "charset_size": len(charset), "script": script, "opset": opset, "parity": parity,
               "seconds": round(time.perf_counter() - t0, 2)}
    log.info("exported %s -> %s (%.1f MB); parity: %s", where, out, len(data) / 1e6, parity)
    return summary


__all__ = ["export_onnx", "export_model", "write_metadata", "checkpoint_source", "onnx_proto", "checked_bytes", "check_parity", "parity_images",
           "DEFAULT_ATOL", "DEFAULT_OPSET"]
