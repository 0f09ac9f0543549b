"""Page images from what a user gives ``aksar ocr`` or ``Reader.read``: files, folders, lists, PDFs.

Inputs (:func:`gather_page_sources`):

- an image file (png, jpg, tif, bmp, webp, ...): one page; a multi-page TIFF (or GIF/WebP) gives every frame;
- a PDF: every page, rasterized with pypdfium2 at ``dpi`` (default 300);
- a folder: its images and PDFs sorted by name, NOT recursive (an output folder inside it is never read back);
- a list file: ``@FILE`` (any name), or a file ending in ``.txt``, ``.lst`` or ``.list``: one path per line
  (a TAB and anything after it is ignored, blank lines too), relative to the list's folder and kept inside
  it unless ``allow_outside_root`` (``aksar predict``'s list rules); ``-`` reads such a list from stdin.

A file named directly that cannot be read is an :class:`AksarError` naming it. A file found through a
folder or a list that cannot be read (missing, corrupt, truncated, too large) is skipped: recorded in
``PageInputs.skipped`` (name and reason) for the caller to report, never dropped silently.
:meth:`PageInputs.count_pages` counts pages from the file headers (for progress) without decoding pixels.

Every page comes out as a :class:`PageImage`: an RGB PIL image (the PDF writer wants the colour page),
its source and page number inside it, and its dpi (the PDF rasterization dpi; an image's dpi tag, or None).
Pages above ``max_pixels`` are refused (decompression bombs); a PDF page that would exceed it is rasterized
at the highest dpi that fits (its ``dpi`` says which).
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from PIL import Image, ImageOps, ImageSequence

from aksar.core.errors import AksarError
from aksar.infer.images import IMAGE_SUFFIXES, PAGE_MAX_PIXELS, InputImage, gather_files

log = logging.getLogger(__name__)

PDF_SUFFIXES = (".pdf",)
PAGE_SUFFIXES = tuple(IMAGE_SUFFIXES) + PDF_SUFFIXES
PAGE_LIST_SUFFIXES = (".txt", ".lst", ".list")
DEFAULT_DPI = 300.0


@dataclass
class PageImage:
    """One page to read: the RGB ``image``, where it came from and its resolution when known."""

    image: Image.Image
    source: str = ""        # the input file as given ("" for an in-memory image)
    page: int = 0           # 0-based page (frame) number inside the source
    dpi: float | None = None


PageSource = InputImage  # one input file (``direct``: named by the user; else found in a folder or list)


def is_pdf(path: Path) -> bool:
    return path.suffix.lower() in PDF_SUFFIXES


def gather_page_sources(inputs: Iterable[str | os.PathLike], allow_outside_root: bool = False) -> list[PageSource]:
    """Expand inputs (files, folders, ``@lists``, list files, ``-``) into the files to read, in order."""
    return gather_files(inputs, allow_outside_root, suffixes=PAGE_SUFFIXES, list_suffixes=PAGE_LIST_SUFFIXES,
                        recursive=False, at_lists=True, kind="image, PDF", kinds="images or PDFs")


def _image_dpi(im: Image.Image) -> float | None:
    dpi = im.info.get("dpi")
    try:
        value = float(dpi[0] if isinstance(dpi, (tuple, list)) else dpi)
    except (TypeError, ValueError, IndexError):
        return None
    return round(value, 2) if 10 <= value <= 10_000 else None  # 0 and 1 mean "not set"


def _open_pdf(path: Path):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except Exception as exc:  # pdfium raises PdfiumError (and OSError) for damaged or encrypted files
        raise AksarError(f"{path}: cannot read PDF ({exc})") from None


def _check_pixels(w: int, h: int, where: str, max_pixels: int) -> None:
    if w <= 0 or h <= 0:
        raise AksarError(f"{where}: empty page ({w}x{h} pixels)")
    if w * h > max_pixels:
        raise AksarError(f"{where}: page of {w}x{h} pixels is above the limit of {max_pixels} pixels")


def count_source_pages(src: PageSource) -> int:
    """Pages in one file from its header (PDF page count, image frames); AksarError if unreadable."""
    if is_pdf(src.path):
        pdf = _open_pdf(src.path)
        try:
            return len(pdf)
        finally:
            pdf.close()
    try:
        with Image.open(src.path) as im:
            return int(getattr(im, "n_frames", 1) or 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise AksarError(f"{src.path}: cannot read image ({exc})") from None


class PageTooLarge(AksarError):
    """A PDF page above the pixel limit at the requested dpi (:func:`rasterize_pdf` with ``shrink=False``)."""


def rasterize_pdf(pdf, dpi: float, max_pixels: int, where: str, shrink: bool = True,
                  grayscale: bool = False) -> Iterator[tuple[int, Image.Image, float]]:
    """(page index, PIL image, dpi) of each page of an open pypdfium2 document, rasterized at ``dpi``. A page
    above ``max_pixels`` at that dpi is rasterized at the highest dpi that fits (``shrink``; logged) or refused
    with :class:`PageTooLarge`; a page that cannot be rasterized is an AksarError naming ``where``."""
    for i in range(len(pdf)):
        page = pdf[i]
        try:
            w_pt, h_pt = page.get_size()
            page_dpi = dpi
            w, h = round(w_pt * dpi / 72), round(h_pt * dpi / 72)
            if w * h > max_pixels:
                if not shrink:
                    raise PageTooLarge(f"{where}: page {i + 1} is {w}x{h} pixels at {dpi:g} dpi; the limit is "
                                       f"max_pixels={max_pixels}")
                page_dpi = float(int(dpi * (max_pixels / (w * h)) ** 0.5))
                log.warning("%s page %d: rasterized at %g dpi (at %g dpi it would exceed %d pixels)",
                            where, i + 1, page_dpi, dpi, max_pixels)
            try:
                image = page.render(scale=page_dpi / 72, grayscale=grayscale).to_pil()
            except Exception as exc:  # pdfium's own errors
                raise AksarError(f"{where}: page {i + 1}: cannot rasterize ({exc})") from None
        finally:
            page.close()
        yield i, image, page_dpi


def _pdf_pages(src: PageSource, dpi: float, max_pixels: int) -> Iterator[PageImage]:
    pdf = _open_pdf(src.path)
    try:
        for i, image, page_dpi in rasterize_pdf(pdf, dpi, max_pixels, src.name):
            yield PageImage(image.convert("RGB"), src.name, i, page_dpi)
    finally:
        pdf.close()


def _image_pages(src: PageSource, max_pixels: int) -> Iterator[PageImage]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # max_pixels is checked here
            with Image.open(src.path) as im:
                _check_pixels(*im.size, str(src.path), max_pixels)
                for i, frame in enumerate(ImageSequence.Iterator(im)):
                    _check_pixels(*frame.size, f"{src.path}: page {i + 1}", max_pixels)
                    dpi = _image_dpi(frame)
                    rgb = ImageOps.exif_transpose(frame.convert("RGB") if frame.mode != "RGB" else frame.copy())
                    yield PageImage(rgb, src.name, i, dpi)
    except AksarError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise AksarError(f"{src.path}: cannot read image ({exc})") from None


def source_pages(src: PageSource, dpi: float = DEFAULT_DPI, max_pixels: int = PAGE_MAX_PIXELS) -> Iterator[PageImage]:
    """Every page of one file, in order (AksarError naming the file when it cannot be read)."""
    if not src.path.is_file():
        raise AksarError(f"{src.path}: file not found")
    if is_pdf(src.path):
        yield from _pdf_pages(src, dpi, max_pixels)
    else:
        yield from _image_pages(src, max_pixels)


@dataclass
class PageInputs:
    """The pages of several inputs; unreadable files found through folders or lists land in ``skipped``."""

    sources: list[PageSource]
    dpi: float = DEFAULT_DPI
    max_pixels: int = PAGE_MAX_PIXELS
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    counts: dict[str, int] = field(default_factory=dict)          # source name -> pages (after count_pages)

    @classmethod
    def from_inputs(cls, inputs: Iterable[str | os.PathLike], dpi: float = DEFAULT_DPI,
                    allow_outside_root: bool = False, max_pixels: int = PAGE_MAX_PIXELS) -> "PageInputs":
        if dpi <= 0:
            raise AksarError(f"dpi: must be > 0, got {dpi}")
        sources = gather_page_sources(inputs, allow_outside_root)
        if not sources:
            raise AksarError("no input pages given")
        return cls(sources, float(dpi), max_pixels)

    def _skip(self, src: PageSource, exc: AksarError) -> None:
        if src.direct:
            raise exc
        if all(name != src.name for name, _ in self.skipped):
            self.skipped.append((src.name, str(exc)))
            log.warning("skipped: %s", exc)

    def count_pages(self) -> int:
        """Pages of every readable source (headers only); unreadable folder/list entries are skipped."""
        total = 0
        for src in list(self.sources):
            try:
                self.counts[src.name] = count_source_pages(src)
                total += self.counts[src.name]
            except AksarError as exc:
                self._skip(src, exc)
        return total

    def pages_of(self, src: PageSource) -> Iterator[PageImage]:
        """The pages of one of ``sources`` (none if it was skipped; a folder/list entry failing is skipped)."""
        if any(name == src.name for name, _ in self.skipped):
            return
        try:
            yield from source_pages(src, self.dpi, self.max_pixels)
        except AksarError as exc:
            self._skip(src, exc)

    def __iter__(self) -> Iterator[PageImage]:
        for src in self.sources:
            yield from self.pages_of(src)


__all__ = ["PageImage", "PageSource", "PageTooLarge", "rasterize_pdf", "PageInputs", "gather_page_sources", "count_source_pages", "source_pages",
           "PAGE_SUFFIXES", "PAGE_LIST_SUFFIXES", "DEFAULT_DPI", "PAGE_MAX_PIXELS"]
