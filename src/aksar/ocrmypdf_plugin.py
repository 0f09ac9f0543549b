"""OCRmyPDF plugin: aksar reads each page and writes its text layer (shaped Khmer/Thai, see docs/notes/pdf-layer.md).

    ocrmypdf --plugin aksar.ocrmypdf_plugin --pdf-renderer sandwich --output-type pdf --rasterizer pypdfium \\
        -l khm in.pdf out.pdf

Only the text-only-PDF path (``--pdf-renderer sandwich``, ``OcrEngine.generate_pdf``) is implemented: OCRmyPDF's
own renderers draw text with their own font from hOCR or an OcrElement tree, not with shaped glyphs.
With ``--output-type pdf --rasterizer pypdfium`` neither Ghostscript nor Tesseract is needed.
Models: ``AKSAR_DET`` (default ``khmer_det``) and ``AKSAR_REC`` (default: the recognizer of the first ``-l``
language, khm -> khmer, tha -> thai). OCRmyPDF grafts one font per text page (named /F1), so pages are written
with a single font. This module imports ``ocrmypdf``; aksar itself never imports it.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from ocrmypdf import hookimpl
from ocrmypdf.pluginspec import OcrEngine, OrientationConfidence
from PIL import Image

import aksar
from aksar.core.errors import AksarError

LANGUAGE_RECOGNIZERS = {"khm": "khmer", "tha": "thai"}


@lru_cache(maxsize=4)
def _reader(det: str, rec: str) -> Any:
    """One Reader per worker process and model pair (OCRmyPDF calls the engine once per page)."""
    from aksar.infer.reader import Reader

    return Reader(det=det, rec=rec)


def _models(options: Any) -> tuple[str, str]:
    languages = list(getattr(options, "languages", None) or [])
    rec = os.environ.get("AKSAR_REC") or next((LANGUAGE_RECOGNIZERS[lang] for lang in languages
                                              if lang in LANGUAGE_RECOGNIZERS), "khmer")
    return os.environ.get("AKSAR_DET", "khmer_det"), rec


@lru_cache(maxsize=4)
def _single_font(rec: str) -> Any:
    """The one font of every text-only page: OCRmyPDF grafts a single font, the one named /F1 (Tesseract's name).
    The first font covering the recognizer's script and Latin letters; any character it lacks is drawn as
    .notdef but still extracts as its text."""
    from aksar.infer.pdf_font import FontChooser
    from aksar.text.scripts import get_script

    script = rec if rec in LANGUAGE_RECOGNIZERS.values() else None
    sample = (get_script(script).sample if script else "") + " ABCXYZ abcxyz 0123456789.,:;-()%"
    return FontChooser(script).for_text(sample)


class AksarOcrEngine(OcrEngine):
    """aksar's detector + recognizer as an OCRmyPDF engine (text-only PDF pages)."""

    @staticmethod
    def version() -> str:
        return aksar.__version__

    @staticmethod
    def creator_tag(options: Any) -> str:
        return f"aksar {aksar.__version__}"

    def __str__(self) -> str:
        return f"aksar {aksar.__version__}"

    @staticmethod
    def languages(options: Any) -> set[str]:
        return set(LANGUAGE_RECOGNIZERS)

    @staticmethod
    def get_orientation(input_file: Path, options: Any) -> OrientationConfidence:
        return OrientationConfidence(angle=0, confidence=0.0)

    @staticmethod
    def generate_hocr(input_file: Path, output_hocr: Path, output_text: Path, options: Any) -> None:
        raise AksarError("aksar's OCRmyPDF plugin writes text-only PDF pages: run ocrmypdf with --pdf-renderer sandwich")

    @staticmethod
    def generate_pdf(input_file: Path, output_pdf: Path, output_text: Path, options: Any) -> None:
        """Read the page image and write its text layer alone, sized to the image at its DPI."""
        from aksar.core.io import atomic_write_text
        from aksar.infer.pdf_layer import SearchablePdf

        det, rec = _models(options)
        with Image.open(input_file) as image:
            image.load()
        dpi = image.info.get("dpi")
        page = _reader(det, rec).read_page(image, source=str(input_file), dpi=float(dpi[0]) if dpi else None)
        with SearchablePdf(output_pdf, fonts=[_single_font(rec)]) as pdf:
            pdf.add_page(page, None)
        atomic_write_text(output_text, page.text() + "\n")


@hookimpl
def get_ocr_engine(options: Any = None) -> OcrEngine:
    return AksarOcrEngine()
