"""Uploaded bytes -> page or line images, within limits (what ``aksar serve`` accepts from a client).

An upload is an image (any format Pillow opens; every frame of a multi-page TIFF, GIF or WebP is a page) or
a PDF (``%PDF-``, every page rasterized with pypdfium2); ``max_pages`` bounds both. Sizes are checked before pixels are decoded: an image's header, a PDF page's size in
points at the requested dpi. Every refusal is an :class:`UploadRejected` with the HTTP status it maps to
and a one-line message naming the upload and the limit. The upload's name is a label only: it is never
used as a path.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from aksar.core.errors import AksarError
from aksar.data.files import BadImage, decode_image, frame_count

PDF_MAGIC = b"%PDF-"
NAME_CHARS = 120
_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe: one document at a time in this process


class UploadRejected(AksarError):
    """An upload the server refuses; ``status`` is the HTTP status code to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may hold: pixels per image or page, PDF pages, and the PDF raster resolution."""

    max_pixels: int
    max_pages: int
    dpi: float


@dataclass
class PageImage:
    """One decoded page: grayscale pixels, its page number in the upload and the resolution if known."""

    pixels: np.ndarray
    source_page: int = 0
    dpi: float | None = None


def label(name: str | None) -> str:
    """A display name for an upload: its last path part, printable, bounded (``../../etc/passwd`` -> ``passwd``)."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    clean = "".join(c for c in base if c.isprintable())[:NAME_CHARS]
    return clean or "upload"


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(PDF_MAGIC)


def decode_upload_image(data: bytes, name: str, max_pixels: int, frame: int = 0) -> np.ndarray:
    """An image upload (its ``frame``) as uint8 grayscale; 413 above ``max_pixels`` (from the header),
    415/422 if unusable."""
    if not data:
        raise UploadRejected(422, f"{name}: empty file")
    try:
        return decode_image(data, max_pixels, frame)
    except BadImage as exc:
        if exc.reason == "too_large_image":
            raise UploadRejected(413, f"{name}: image too large ({str(exc).split(': ', 1)[-1]}); the limit is "
                                      f"max_pixels={max_pixels}") from None
        if "cannot identify image file" in str(exc):
            raise UploadRejected(415, f"{name}: not an image or PDF this server can read") from None
        raise UploadRejected(422, f"{name}: corrupt image ({exc.reason.replace('_', ' ')})") from None


def _pdf_pages(data: bytes, name: str, limits: UploadLimits) -> list[PageImage]:
    import pypdfium2 as pdfium

    from aksar.infer.page_inputs import PageTooLarge, rasterize_pdf

    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise UploadRejected(422, f"{name}: corrupt PDF ({exc})") from None
        try:
            n = len(pdf)
            if n == 0:
                raise UploadRejected(422, f"{name}: PDF without pages")
            if n > limits.max_pages:
                raise UploadRejected(413, f"{name}: PDF of {n} pages; the limit is max_pages={limits.max_pages}")
            return [PageImage(np.asarray(image.convert("L"), dtype=np.uint8), source_page=i, dpi=page_dpi)
                    for i, image, page_dpi in rasterize_pdf(pdf, limits.dpi, limits.max_pixels, name, shrink=False,
                                                            grayscale=True)]
        except PageTooLarge as exc:
            raise UploadRejected(413, str(exc)) from None
        finally:
            pdf.close()


def decode_pages(data: bytes, name: str, limits: UploadLimits) -> list[PageImage]:
    """Every page of an uploaded image or PDF (an image is one page)."""
    if is_pdf(data):
        return _pdf_pages(data, name, limits)
    first = decode_upload_image(data, name, limits.max_pixels)
    n = frame_count(data)
    if n > limits.max_pages:
        raise UploadRejected(413, f"{name}: image of {n} pages (frames); the limit is max_pages={limits.max_pages}")
    return [PageImage(first)] + [
        PageImage(decode_upload_image(data, f"{name} page {i + 1}", limits.max_pixels, i), source_page=i)
        for i in range(1, n)]


__all__ = ["UploadRejected", "UploadLimits", "PageImage", "label", "is_pdf", "decode_upload_image", "decode_pages"]
