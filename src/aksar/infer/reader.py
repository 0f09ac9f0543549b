"""``Reader``: pages in, a :class:`~aksar.infer.document.Document` out (detect -> crop -> recognize -> order).

    from aksar import Reader
    doc = Reader(det="khmer_det", rec="khmer").read("scan.pdf")
    print(doc.text())

(Skeleton: the page pipeline is being built; the signature below is the contract other modules use.)
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
from PIL import Image

from aksar.infer.document import Document, Page

ImageLike = str | os.PathLike | np.ndarray | Image.Image


class Reader:
    """Detector + recognizer. ``det``/``rec``: paths, shipped model names, or loaded Detector/Recognizer."""

    def __init__(self, det: Any = None, rec: Any = "khmer", **options: Any) -> None:
        raise NotImplementedError

    def read(self, source: ImageLike | Sequence[ImageLike], dpi: float = 300) -> Document:
        """Files (images, multi-page TIFF, PDF), arrays or PIL images -> a Document of every page."""
        raise NotImplementedError

    def read_page(self, image: ImageLike, index: int = 0, source: str = "", source_page: int = 0,
                  dpi: float | None = None, deadline: float | None = None) -> Page:
        """One page image -> its Page (``deadline``: a ``time.monotonic()`` after which it stops with an error)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError
