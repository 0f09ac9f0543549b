"""Detection data on disk and the page preprocessing that training and inference share.

- :func:`read_det_dataset`: a PaddleOCR detection list (or a folder holding ``det_labels.txt``), a
  PAGE-XML folder, or an ICDAR ground-truth folder (``images`` names its image folder) -> ``DetSample``s.
- :func:`load_page`: a page image as uint8 grayscale, ink dark.
- :func:`detection_size` / :func:`resize_page` / :func:`resize_for_detection`: the page as the detector sees
  it (long side at most ``limit_side``, both sides multiples of the network stride, 32).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aksar.core.errors import AksarError
from aksar.data.det_formats import DetSample

STRIDE = 32


def read_det_dataset(spec: str, images: str | None = None, key: str = "data",
                     allow_outside_root: bool = False) -> list[DetSample]:
    """The pages of a detection dataset ``spec`` (format from what the path holds); AksarError naming ``key``."""
    from aksar.data.det_formats import read_icdar_dir, read_page_xml, read_paddle_det

    path = Path(spec)
    root = path.parent if path.is_file() else path  # where the images must lie (data.allow_outside_root)
    if not path.exists():
        hint = " (set task.options.generate to make synthetic pages there)" if key.startswith("task.") else ""
        raise AksarError(f"{key}: {path} not found{hint}")
    if path.is_file():
        samples = read_paddle_det(path)
    elif (path / "det_labels.txt").is_file():
        samples = read_paddle_det(path / "det_labels.txt")
    elif images or sorted(path.glob("gt_*.txt")):
        samples = read_icdar_dir(path, images or path)
    else:
        xmls = sorted(path.glob("*.xml"))
        root = path.parent if xmls else path  # PAGE-XML folders name their images as ../images/NAME
        xmls = xmls or sorted(path.glob("page/*.xml"))
        if not xmls:
            raise AksarError(f"{key}: {path} holds no det_labels.txt, PAGE-XML files or ICDAR gt_*.txt files")
        samples = [read_page_xml(p) for p in xmls]
    if not samples:
        raise AksarError(f"{key}: {path} lists no pages")
    if not allow_outside_root and not images:
        for s in samples:
            if not Path(s.image).resolve().is_relative_to(root.resolve()):
                raise AksarError(f"{key}: {path} names an image outside its folder ({s.image}); set "
                                 "data.allow_outside_root: true to allow it")
    return samples


def load_page(path: str) -> np.ndarray:
    """uint8 HxW grayscale (ink dark) of a page image; AksarError naming the file."""
    from PIL import Image

    from aksar.data.preprocess import to_gray

    try:
        with Image.open(path) as im:
            return to_gray(im, where=path)
    except OSError as exc:
        raise AksarError(f"{path}: cannot read page image ({exc})") from None


def detection_size(height: int, width: int, limit_side: int = 960, stride: int = STRIDE) -> tuple[int, int]:
    """The network input size of a ``height x width`` page: long side <= ``limit_side`` (pages are only
    shrunk, as PaddleOCR's ``det_limit_type: max``), sides rounded to multiples of ``stride``."""
    ratio = min(1.0, limit_side / max(height, width))
    return (max(stride, int(round(height * ratio / stride)) * stride),
            max(stride, int(round(width * ratio / stride)) * stride))


def resize_page(image: np.ndarray, limit_side: int = 960, stride: int = STRIDE) -> np.ndarray:
    """A uint8 page resized to :func:`detection_size` (the same image if it already has that size)."""
    import cv2

    h, w = image.shape[:2]
    nh, nw = detection_size(h, w, limit_side, stride)
    if (nh, nw) == (h, w):
        return image
    return cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if nh * nw < h * w else cv2.INTER_LINEAR)



def resize_for_detection(gray: np.ndarray, limit_side: int = 960, stride: int = STRIDE) -> np.ndarray:
    """A uint8 page -> the network input: float32 ``[1, 1, H, W]`` in [0, 1] at :func:`detection_size`."""
    return (resize_page(gray, limit_side, stride).astype(np.float32) / 255.0)[None, None]


__all__ = ["STRIDE", "read_det_dataset", "load_page", "detection_size", "resize_page", "resize_for_detection"]
