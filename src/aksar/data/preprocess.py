"""THE image preprocessing shared by training, evaluation, ONNX export and inference.

One line image (uint8 grayscale, any size) becomes a fixed-height, aspect-kept image; a batch is
right-padded to a common width (rounded up to ``width_multiple``) with the image's own background
value (the same whether the line is alone or in a batch) and normalised with ``(x/255 - mean) / std``
(float in [-1, 1] with the defaults).

Crops (``trim_margin``): every margin of a line image wider than ``trim_margin`` times the ink's height
is cut to that width, or to ``trim_to`` times the ink's height when that is set (narrower margins are
kept), so a loose crop (a detector's, a scan's) reads as the renderer's tight lines do. ``None`` (older
models) leaves the image as given.

Max-width policy: a line wider than ``max_width`` after the height resize is squeezed horizontally to
``max_width`` (never cropped: no character is lost); ``resize_to_height`` reports it so callers count it.

``to_array_batch`` (numpy, used by onnxruntime inference) and ``to_tensor_batch`` (torch) give the
same numbers: the torch version wraps the numpy one.

``to_gray`` is THE pixel decoder (files via ``aksar.data.readers.decode_image``; arrays and PIL images
given to ``Recognizer.predict``): every Pillow mode and numpy dtype to 8-bit dark ink on light paper,
or a one-line AksarError.
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
    trim_margin: float | None = None  # cut margins wider than this share of the ink height; None: keep
    trim_to: float | None = None      # ... to this share (<= trim_margin); None: to trim_margin

    def __post_init__(self) -> None:
        if self.height < 1:
            raise AksarError(f"preprocess.height: must be >= 1, got {self.height}")
        if self.width_multiple < 1:
            raise AksarError(f"preprocess.width_multiple: must be >= 1, got {self.width_multiple}")
        if self.max_width < self.width_multiple:
            raise AksarError(f"preprocess.max_width: must be >= width_multiple, got {self.max_width}")
        if self.std <= 0:
            raise AksarError(f"preprocess.std: must be > 0, got {self.std}")
        if self.trim_margin is not None and not 0 <= self.trim_margin <= 2:
            raise AksarError(f"preprocess.trim_margin: must be within 0..2 (share of the ink height) or null, "
                             f"got {self.trim_margin}")
        if self.trim_to is not None and (self.trim_margin is None or not 0 <= self.trim_to <= self.trim_margin):
            raise AksarError(f"preprocess.trim_to: must be within 0..trim_margin ({self.trim_margin}) or null, "
                             f"got {self.trim_to}")


def to_gray(img: np.ndarray | Image.Image, where: str = "image") -> np.ndarray:
    """THE image decoder: uint8 HxW grayscale, dark ink on light paper, from a PIL image or an array.

    PIL: every mode Pillow opens (1, L, LA, P with or without transparency, RGB, RGBA, I;16, I, F,
    CMYK, ...). Arrays: HxW or HxWx1/2/3/4 (gray, gray+alpha, RGB, RGBA) of uint8, uint16 (scaled by
    1/257), bool, other integers within 0..255, or floats in [0, 1] or [0, 255]. With an alpha
    channel, transparent pixels are paper: when the opaque pixels are one colour (text drawn on a
    transparent background, in any colour) the alpha channel is the ink and reads black; otherwise the
    image is composited over white. Anything else (NaN, values out of range, wrong shape) raises an
    AksarError naming ``where``.
    """
    if isinstance(img, Image.Image):
        return _pil_to_gray(img, where)
    return _array_to_gray(np.asarray(img), where)


INK_STD = 24.0  # opaque pixels more uniform than this (std of luminance) are one ink colour


def _pil_to_gray(im: Image.Image, where: str) -> np.ndarray:
    mode = im.mode
    if mode == "L":
        return np.array(im, dtype=np.uint8)
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise AksarError(f"{where}: {mode} pixel values outside 0..65535 (min {arr.min()}, max {arr.max()})")
        return _array_to_gray(arr.astype(np.uint16), where)
    if mode == "F":
        return _array_to_gray(np.asarray(im), where)
    if mode in ("RGB", "RGBA", "LA"):
        return _array_to_gray(np.asarray(im), where)
    if mode in ("P", "PA") and ("transparency" in im.info or mode == "PA"):
        return _array_to_gray(np.asarray(im.convert("RGBA")), where)
    if mode == "1":
        return np.array(im.convert("L"), dtype=np.uint8)
    try:  # P, CMYK, YCbCr, LAB, HSV, La, RGBa, ...
        return _array_to_gray(np.asarray(im.convert("RGBA" if "A" in mode or "a" in mode else "RGB")), where)
    except (ValueError, OSError) as exc:
        raise AksarError(f"{where}: cannot convert image mode {mode} to grayscale ({exc})") from None


def _to_8bit(arr: np.ndarray, where: str) -> np.ndarray:
    """Any supported dtype -> uint8 with the same channels."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return np.rint(arr / 257.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise AksarError(f"{where}: float image holds NaN or infinite values")
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if lo >= 0.0 and hi <= 1.0:
            arr = arr * 255.0
        elif lo < 0.0 or hi > 255.0:
            raise AksarError(f"{where}: float pixel values {lo:g}..{hi:g} are in neither [0, 1] nor [0, 255]")
        return np.rint(arr).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise AksarError(f"{where}: {arr.dtype} pixel values {arr.min()}..{arr.max()} outside 0..255 "
                             "(give uint8, uint16 or floats in [0, 1])")
        return arr.astype(np.uint8)
    raise AksarError(f"{where}: unsupported pixel type {arr.dtype}")


def _array_to_gray(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise AksarError(f"{where}: expected a HxW or HxWx1/2/3/4 image, got shape {arr.shape}")
    arr = _to_8bit(arr, where)
    if arr.ndim == 2:
        return arr
    color = arr[:, :, :-1] if arr.shape[2] in (2, 4) else arr
    gray = color[:, :, 0] if color.shape[2] == 1 else np.asarray(Image.fromarray(np.ascontiguousarray(color)).convert("L"))
    if arr.shape[2] in (1, 3):
        return np.array(gray, dtype=np.uint8)
    alpha = arr[:, :, -1].astype(np.float32) / 255.0
    if alpha.min() >= 1.0:
        return np.array(gray, dtype=np.uint8)
    lum = gray.astype(np.float32)
    opaque = alpha >= 0.5
    if opaque.any() and float(lum[opaque].std()) < INK_STD:  # one ink colour on transparency: alpha is the ink
        out = 255.0 * (1.0 - alpha)
    else:  # composite over white paper
        out = lum * alpha + 255.0 * (1.0 - alpha)
    return np.rint(out).astype(np.uint8)


MIN_INK_CONTRAST = 40.0  # paper minus ink grey levels below which an image has no ink to trim to


def hist_median(hist: np.ndarray) -> float:
    """The median of the grey levels counted in a 256-bin histogram, equal to ``np.median`` of the pixels
    (the mean of the two middle values for an even count) without sorting them."""
    cum = np.cumsum(hist)
    n = int(cum[-1])
    lo = int(np.searchsorted(cum, (n - 1) // 2, side="right"))
    hi = int(np.searchsorted(cum, n // 2, side="right"))
    return (lo + hi) / 2


def ink_mask(gray: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``(mask, paper)``: the ink of ``gray`` (1 where Otsu on a 3x3 blur says ink) and the median grey of
    the rest, or None when there is no ink with at least ``MIN_INK_CONTRAST`` grey levels against it."""
    import cv2

    if gray.shape[0] < 2 or gray.shape[1] < 2:
        return None
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    _, mask = cv2.threshold(blurred, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    ink_hist = cv2.calcHist([blurred], [0], mask, [256], [0, 256]).ravel()
    paper_hist = cv2.calcHist([blurred], [0], None, [256], [0, 256]).ravel() - ink_hist
    if not ink_hist.any() or not paper_hist.any():
        return None
    paper = hist_median(paper_hist)
    if paper - hist_median(ink_hist) < MIN_INK_CONTRAST:
        return None
    return mask, int(round(paper))


def ink_box(gray: np.ndarray) -> tuple[int, int, int, int, int] | None:
    """``(top, bottom, left, right, paper)`` of the ink in ``gray`` (:func:`ink_mask`, specks ignored;
    bottom and right exclusive), or None when the image holds no ink."""
    import cv2

    found = ink_mask(gray)
    if found is None:
        return None
    mask, paper = found
    # Specks are single ink pixels without an 8-neighbour of ink (components of one pixel): the ink
    # pixels whose 3x3 box sum is >= 2 are the rest, found without labelling components (3x faster).
    counts = cv2.boxFilter(mask, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    x0, y0, w, h = cv2.boundingRect(((counts >= 2) & (mask > 0)).view(np.uint8))
    if w == 0:
        return None
    return y0, y0 + h, x0, x0 + w, paper


def trim_to_ink(gray: np.ndarray, margin: float, to: float | None = None) -> np.ndarray:
    """``gray`` with every margin wider than ``margin`` times the ink height (:func:`ink_box`) cut to that
    width (``to`` times the ink height if given); narrower margins are kept as they are. Unchanged when the
    image holds no ink."""
    box = ink_box(gray)
    if box is None:
        return gray
    y0, y1, x0, x1, _ = box
    wide = int(round(margin * (y1 - y0)))
    keep = wide if to is None else int(round(to * (y1 - y0)))
    h, w = gray.shape

    def kept(side: int) -> int:
        return side if side <= wide else min(side, keep)

    return gray[y0 - kept(y0):y1 + kept(h - y1), x0 - kept(x0):x1 + kept(w - x1)]


def fit_line(img: np.ndarray | Image.Image, cfg: PreprocessConfig) -> np.ndarray:
    """Grayscale (:func:`to_gray`), then cropped to the ink when ``cfg.trim_margin`` is set."""
    arr = to_gray(img)
    if arr.size == 0:
        raise AksarError(f"empty image of shape {arr.shape}")
    return arr if cfg.trim_margin is None else trim_to_ink(arr, cfg.trim_margin, cfg.trim_to)


def target_width(h: int, w: int, cfg: PreprocessConfig) -> tuple[int, bool]:
    """Width after resizing an ``h x w`` image to ``cfg.height`` (aspect kept), and whether it is squeezed."""
    new_w = max(1, int(round(w * cfg.height / max(h, 1))))
    if new_w > cfg.max_width:
        return cfg.max_width, True
    return new_w, False


def resize_to_height(img: np.ndarray | Image.Image, cfg: PreprocessConfig) -> tuple[np.ndarray, bool]:
    """Resize to ``cfg.height`` keeping the aspect ratio; lines wider than ``cfg.max_width`` are squeezed.

    Returns ``(uint8 HxW image, was_squeezed)``; the image is first cropped as :func:`fit_line` says.
    """
    arr = fit_line(img, cfg)
    h, w = arr.shape
    new_w, squeezed = target_width(h, w, cfg)
    if (h, w) == (cfg.height, new_w):
        return arr, squeezed
    resized = Image.fromarray(arr).resize((new_w, cfg.height), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8), squeezed


def background_value(img: np.ndarray) -> int:
    """Background estimate used for padding: the median of the two right-most columns."""
    return int(np.median(img[:, -2:]))


def to_array_batch(images: Sequence[np.ndarray | Image.Image], cfg: PreprocessConfig, margin: int = 0,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Numpy batch: ``(float32 [B, 1, H, W], int64 widths)``; W = max width + ``margin`` rounded up to
    width_multiple, so every line has at least ``margin`` background columns after it (inference passes
    the model's ``pad_margin``: a line then reads the same alone or in any batch)."""
    return pad_batch(resize_lines(images, cfg)[0], cfg, margin)


def resize_lines(images: Sequence[np.ndarray | Image.Image], cfg: PreprocessConfig,
                 ) -> tuple[list[np.ndarray], int]:
    """Each image through :func:`resize_to_height`; also how many of them were squeezed."""
    out = [resize_to_height(img, cfg) for img in images]
    return [r for r, _ in out], sum(sq for _, sq in out)


def pad_batch(resized: Sequence[np.ndarray], cfg: PreprocessConfig, margin: int = 0,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Lines already at ``cfg.height`` (:func:`resize_lines`) -> the normalised, padded batch of
    :func:`to_array_batch`."""
    if len(resized) == 0:
        raise AksarError("cannot build a batch from zero images")
    widths = np.array([r.shape[1] for r in resized], dtype=np.int64)
    mult = cfg.width_multiple
    batch_w = int(-(-(int(widths.max()) + max(0, int(margin))) // mult) * mult)
    out = np.empty((len(resized), 1, cfg.height, batch_w), dtype=np.float32)
    for i, r in enumerate(resized):
        w = r.shape[1]
        out[i, 0, :, :w] = r
        out[i, 0, :, w:] = background_value(r)
    out /= 255.0
    out -= cfg.mean
    out /= cfg.std
    return out, widths


def to_tensor_batch(images: Sequence[np.ndarray | Image.Image], cfg: PreprocessConfig, margin: int = 0,
                    ) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Torch batch: ``(FloatTensor [B, 1, H, W], LongTensor widths)``, same numbers as ``to_array_batch``."""
    import torch

    arr, widths = to_array_batch(images, cfg, margin)
    return torch.from_numpy(arr), torch.from_numpy(widths)


__all__ = [
    "PreprocessConfig", "resize_to_height", "to_array_batch", "to_tensor_batch", "to_gray",
    "target_width", "background_value", "hist_median", "ink_mask", "ink_box", "trim_to_ink", "fit_line", "resize_lines", "pad_batch",
]
