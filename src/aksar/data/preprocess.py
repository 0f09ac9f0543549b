"""THE image preprocessing shared by training, evaluation, ONNX export and inference.

One line image (uint8 grayscale, any size) becomes a fixed-height, aspect-kept image; a batch is
right-padded to a common width (rounded up to ``width_multiple``) with the image's own background
value and normalised with ``(x/255 - mean) / std`` (float in [-1, 1] with the defaults).

Max-width policy: a line wider than ``max_width`` after the height resize is squeezed horizontally to
``max_width`` (never cropped: no character is lost); ``resize_to_height`` reports it so callers count it.

``to_array_batch`` (numpy, used by onnxruntime inference) and ``to_tensor_batch`` (torch) give the
same numbers: the torch version wraps the numpy one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
from PIL import Image

from aksar.core.errors import AksarError

if TYPE_CHECKING:  # torch is imported lazily so inference with onnxruntime needs no torch
    import torch


@dataclass
class PreprocessConfig:
    """Line-image geometry and normalisation (stored in checkpoints and ONNX metadata)."""

    height: int = 32
    max_width: int = 800
    width_multiple: int = 8
    mean: float = 0.5
    std: float = 0.5

    def __post_init__(self) -> None:
        if self.height < 1:
            raise AksarError(f"preprocess.height: must be >= 1, got {self.height}")
        if self.width_multiple < 1:
            raise AksarError(f"preprocess.width_multiple: must be >= 1, got {self.width_multiple}")
        if self.max_width < self.width_multiple:
            raise AksarError(f"preprocess.max_width: must be >= width_multiple, got {self.max_width}")
        if self.std <= 0:
            raise AksarError(f"preprocess.std: must be > 0, got {self.std}")


def to_gray(img: np.ndarray | Image.Image) -> np.ndarray:
    """uint8 HxW grayscale from a grayscale/RGB/RGBA array or a PIL image."""
    if isinstance(img, Image.Image):
        if img.mode != "L":
            img = img.convert("L")
        return np.asarray(img, dtype=np.uint8)
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3:
        return np.asarray(Image.fromarray(arr.astype(np.uint8)).convert("L"), dtype=np.uint8)
    if arr.ndim != 2:
        raise AksarError(f"expected a HxW or HxWxC image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return arr


def target_width(h: int, w: int, cfg: PreprocessConfig) -> tuple[int, bool]:
    """Width after resizing an ``h x w`` image to ``cfg.height`` (aspect kept), and whether it is squeezed."""
    new_w = max(1, int(round(w * cfg.height / max(h, 1))))
    if new_w > cfg.max_width:
        return cfg.max_width, True
    return new_w, False


def resize_to_height(img: np.ndarray | Image.Image, cfg: PreprocessConfig) -> tuple[np.ndarray, bool]:
    """Resize to ``cfg.height`` keeping the aspect ratio; lines wider than ``cfg.max_width`` are squeezed.

    Returns ``(uint8 HxW image, was_squeezed)``.
    """
    arr = to_gray(img)
    h, w = arr.shape
    if h == 0 or w == 0:
        raise AksarError(f"empty image of shape {arr.shape}")
    new_w, squeezed = target_width(h, w, cfg)
    if (h, w) == (cfg.height, new_w):
        return arr, squeezed
    resized = Image.fromarray(arr).resize((new_w, cfg.height), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8), squeezed


def background_value(img: np.ndarray) -> int:
    """Background estimate used for padding: the median of the two right-most columns."""
    return int(np.median(img[:, -2:]))


def to_array_batch(images: Sequence[np.ndarray | Image.Image], cfg: PreprocessConfig,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Numpy batch: ``(float32 [B, 1, H, W], int64 widths)``; W = max width rounded up to width_multiple."""
    if len(images) == 0:
        raise AksarError("cannot build a batch from zero images")
    resized = [resize_to_height(img, cfg)[0] for img in images]
    widths = np.array([r.shape[1] for r in resized], dtype=np.int64)
    mult = cfg.width_multiple
    batch_w = int(-(-int(widths.max()) // mult) * mult)
    out = np.empty((len(resized), 1, cfg.height, batch_w), dtype=np.float32)
    for i, r in enumerate(resized):
        w = r.shape[1]
        out[i, 0, :, :w] = r
        out[i, 0, :, w:] = background_value(r)
    out /= 255.0
    out -= cfg.mean
    out /= cfg.std
    return out, widths


def to_tensor_batch(images: Sequence[np.ndarray | Image.Image], cfg: PreprocessConfig,
                    ) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Torch batch: ``(FloatTensor [B, 1, H, W], LongTensor widths)``, same numbers as ``to_array_batch``."""
    import torch

    arr, widths = to_array_batch(images, cfg)
    return torch.from_numpy(arr), torch.from_numpy(widths)


__all__ = [
    "PreprocessConfig", "resize_to_height", "to_array_batch", "to_tensor_batch", "to_gray",
    "target_width", "background_value",
]
