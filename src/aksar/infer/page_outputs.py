"""The text outputs of read pages (``aksar ocr --format``): a :class:`~aksar.infer.document.Document` as plain
text, docTR-shaped JSON, hOCR 1.2, ALTO v4 and PAGE-XML 2019.

``render(doc, fmt)`` gives one format as a string (the HTTP server's bodies); ``WRITERS[fmt](doc, out_dir,
stem)`` writes it atomically and returns the files written. File names (``OUTPUT_SUFFIXES``):
``stem.txt``, ``stem.json``, ``stem.hocr``, ``stem.alto.xml``; PAGE-XML holds one page, so ``stem.page.xml``
for a one-page document and ``stem_p0001.page.xml``, ``stem_p0002.page.xml``, ... otherwise.

Coordinates are whole pixels of the page image, clipped to the page. Word boxes are used where a line's words
spell its text (``[w.value for w in words] == text.split()``); otherwise the line is written as one piece.
Characters XML 1.0 cannot hold (C0 controls other than tab/newline/CR) are dropped from the XML formats and
counted: a warning names how many (``xml_dropped`` counts them beforehand). See docs/notes/page-outputs.md.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from xml.etree import ElementTree as ET

from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_text
from aksar.data.det_formats import (PAGE_NS, PageLine, PageRegion, PageWord, page_xml, pixel_points,
                                    unit_confidence, xml_document, xml_text)
from aksar.infer.document import Document, Line, Page, Polygon, Word

log = logging.getLogger("aksar.infer")

XHTML_NS = "http://www.w3.org/1999/xhtml"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_SCHEMA = "http://www.loc.gov/standards/alto/v4/alto-4-2.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XHTML_DOCTYPE = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
                 '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">')
HOCR_CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf ocrp_lang ocrp_poly"
OUTPUT_SUFFIXES = {"txt": ".txt", "json": ".json", "hocr": ".hocr", "alto": ".alto.xml", "page": ".page.xml"}
Box = tuple[int, int, int, int]


def _software() -> str:
    from aksar import __version__

    return f"aksar {__version__}"


# ---------------------------------------------------------------- shared pieces

def language(doc: Document) -> str | None:
    """The ISO 639-1 code of the recognizer's script (``Script.language``: ``km``, ``th``), or None."""
    from aksar.text.scripts import SCRIPTS

    script = SCRIPTS.get(str((doc.models.get("recognizer") or {}).get("script") or ""))
    return script.language if script is not None else None


def pixel_box(polygon: Polygon, page: Page) -> Box:
    """``(x0, y0, x1, y1)``: the polygon's bounding box in whole pixels, clipped to the page."""
    pts = pixel_points(polygon, page.width, page.height)
    return min(x for x, _ in pts), min(y for _, y in pts), max(x for x, _ in pts), max(y for _, y in pts)


def spelling_words(line: Line) -> list[Word] | None:
    """The line's words if they spell its text (space-separated, in order), else None."""
    if line.words and [w.value for w in line.words] == line.text.split():
        return line.words
    return None


def _image_ref(page: Page, folder: Path | None) -> str:
    """The page's source as written in the output: relative to the output folder when there is one."""
    if not page.source or folder is None:
        return page.source
    return os.path.relpath(os.path.abspath(page.source), os.path.abspath(folder))


class _Clean:
    """Text made XML-safe, counting what was dropped."""

    def __init__(self) -> None:
        self.dropped = 0

    def __call__(self, text: str) -> str:
        clean, n = xml_text(text)
        self.dropped += n
        return clean


def xml_dropped(doc: Document) -> int:
    """How many characters of the lines' text XML 1.0 cannot hold (hOCR, ALTO and PAGE drop them; each
    output's warning counts what it dropped itself, words and file names included)."""
    return sum(xml_text(line.text)[1] for line in doc.lines())


def _report(fmt: str, dropped: int) -> None:
    if dropped:
        log.warning("%s output: dropped %d character(s) XML 1.0 cannot hold (control characters)", fmt, dropped)


# ---------------------------------------------------------------- hOCR

def _bbox(box: Box) -> str:
    return "bbox {} {} {} {}".format(*box)


def _wconf(item: Line | Word) -> str:
    return f"x_wconf {round(unit_confidence(item.confidence) * 100)}"


def _hocr(doc: Document, folder: Path | None, title: str, clean: _Clean) -> str:
    lang = language(doc)
    root = ET.Element("html", {"xmlns": XHTML_NS, **({XML_LANG: lang, "lang": lang} if lang else {})})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = clean(title) or "aksar"
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, "meta", name="ocr-system", content=_software())
    ET.SubElement(head, "meta", name="ocr-capabilities", content=HOCR_CAPABILITIES)
    body = ET.SubElement(root, "body")
    for p, page in enumerate(doc.pages, 1):
        props = []
        if page.source:
            props.append('image "{}"'.format(clean(_image_ref(page, folder)).replace('"', '\\"')))
        props += [f"bbox 0 0 {page.width} {page.height}", f"ppageno {page.index}"]
        if page.dpi:
            props.append(f"scan_res {page.dpi:g} {page.dpi:g}")
        div = ET.SubElement(body, "div", {"class": "ocr_page", "id": f"page_{p}", "title": "; ".join(props)})
        for b, block in enumerate(page.blocks, 1):
            box = _bbox(pixel_box(block.polygon, page))
            area = ET.SubElement(div, "div", {"class": "ocr_carea", "id": f"block_{p}_{b}", "title": box})
            par = ET.SubElement(area, "p", {"class": "ocr_par", "id": f"par_{p}_{b}", "title": box})
            if lang:
                par.set("lang", lang)
            for n, line in enumerate(block.lines, 1):
                lid = f"{p}_{b}_{n}"
                poly = " ".join(f"{x} {y}" for x, y in pixel_points(line.polygon, page.width, page.height))
                span = ET.SubElement(par, "span", {
                    "class": "ocr_line", "id": f"line_{lid}",
                    "title": f"{_bbox(pixel_box(line.polygon, page))}; poly {poly}; "
                             f"{_wconf(line)}"})
                words = spelling_words(line)
                if words is None:
                    span.text = clean(line.text)
                    continue
                for k, w in enumerate(words, 1):
                    ET.SubElement(span, "span", {"class": "ocrx_word", "id": f"word_{lid}_{k}",
                                                 "title": f"{_bbox(pixel_box(w.polygon, page))}; {_wconf(w)}"},
                                  ).text = clean(w.value)
    text = xml_document(root, short_empty_elements=False)
    head, _, rest = text.partition("\n")
    return f"{head}\n{XHTML_DOCTYPE}\n{rest}"


# ---------------------------------------------------------------- ALTO v4

def _alto_box(box: Box) -> dict[str, str]:
    x0, y0, x1, y1 = box
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(x1 - x0), "HEIGHT": str(y1 - y0)}


def _alto(doc: Document, folder: Path | None, clean: _Clean) -> str:
    sub = ET.SubElement
    root = ET.Element("alto", {"xmlns": ALTO_NS, f"{{{XSI_NS}}}schemaLocation": f"{ALTO_NS} {ALTO_SCHEMA}",
                               "SCHEMAVERSION": "4.2"})
    desc = sub(root, "Description")
    sub(desc, "MeasurementUnit").text = "pixel"
    sources = {_image_ref(page, folder) for page in doc.pages}
    if len(sources) == 1 and "" not in sources:
        sub(sub(desc, "sourceImageInformation"), "fileName").text = clean(sources.pop())
    step = sub(sub(desc, "OCRProcessing", ID="OCR_0"), "ocrProcessingStep")
    if doc.models:
        sub(step, "processingStepSettings").text = clean(json.dumps(doc.models, ensure_ascii=False,
                                                                        sort_keys=True, default=str))
    software = sub(step, "processingSoftware")
    name, _, version = _software().partition(" ")
    sub(software, "softwareName").text = name
    sub(software, "softwareVersion").text = version
    lang = language(doc)
    layout = sub(root, "Layout")
    for p, page in enumerate(doc.pages, 1):
        pg = sub(layout, "Page", ID=f"page_{p}", PHYSICAL_IMG_NR=str(p), WIDTH=str(page.width),
                 HEIGHT=str(page.height))
        space = sub(pg, "PrintSpace", _alto_box((0, 0, page.width, page.height)))
        for b, block in enumerate(page.blocks, 1):
            tb = sub(space, "TextBlock", ID=f"block_{p}_{b}", **_alto_box(pixel_box(block.polygon, page)))
            if lang:
                tb.set("LANG", lang)
            for n, line in enumerate(block.lines, 1):
                lid = f"{p}_{b}_{n}"
                tl = sub(tb, "TextLine", ID=f"line_{lid}", **_alto_box(pixel_box(line.polygon, page)))
                points = " ".join(f"{x},{y}" for x, y in pixel_points(line.polygon, page.width, page.height))
                sub(sub(tl, "Shape"), "Polygon", POINTS=points)
                words = spelling_words(line) or [Word(line.text, line.confidence, line.polygon)]  # >= 1 String
                prev: Box | None = None
                for k, w in enumerate(words, 1):
                    box = pixel_box(w.polygon, page)
                    if prev is not None:
                        gap = (prev[2], min(prev[1], box[1]), max(prev[2], box[0]), max(prev[3], box[3]))
                        sub(tl, "SP", _alto_box(gap))
                    sub(tl, "String", ID=f"string_{lid}_{k}", CONTENT=clean(w.value), **_alto_box(box),
                        WC=f"{unit_confidence(w.confidence):.4f}")
                    prev = box
    return xml_document(root)


# ---------------------------------------------------------------- PAGE-XML (one page)

def _created() -> str:
    """PAGE-XML's Created time: now (UTC), or ``$SOURCE_DATE_EPOCH`` when set (reproducible output)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    try:
        when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise AksarError(f"SOURCE_DATE_EPOCH: expected seconds since 1970 as an integer, got {epoch!r}") from None
    return when.replace(microsecond=0, tzinfo=None).isoformat()


def _page(doc: Document, page: Page, folder: Path | None, clean: _Clean) -> str:
    regions = []
    for block in page.blocks:
        lines = [PageLine(line.text, line.polygon, unit_confidence(line.confidence),
                          [PageWord(w.value, w.polygon, unit_confidence(w.confidence))
                           for w in spelling_words(line) or []])
                 for line in block.lines]
        regions.append(PageRegion("paragraph", block.polygon, lines))
    now = _created()
    comments = json.dumps({"models": doc.models, "source": page.source, "source_page": page.source_page},
                          ensure_ascii=False, sort_keys=True, default=str)
    dropped = [0]
    text = page_xml(_image_ref(page, folder), page.width, page.height, regions, creator=_software(), created=now,
                    comments=comments, dpi=page.dpi, dropped=dropped)
    clean.dropped += dropped[0]
    return text


# ---------------------------------------------------------------- public API

def _render(doc: Document, fmt: str, folder: Path | None, title: str) -> str:
    clean = _Clean()
    if fmt == "txt":
        return doc.text() + "\n"
    if fmt == "json":
        return json.dumps(doc.to_dict(), ensure_ascii=False, indent=2) + "\n"
    if fmt == "hocr":
        text = _hocr(doc, folder, title, clean)
    elif fmt == "alto":
        text = _alto(doc, folder, clean)
    elif fmt == "page":
        if len(doc.pages) != 1:
            raise AksarError(f"format page: PAGE-XML holds one page, the document has {len(doc.pages)}")
        text = _page(doc, doc.pages[0], folder, clean)
    else:
        raise AksarError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_SUFFIXES)}")
    _report(fmt, clean.dropped)
    return text


def render(doc: Document, fmt: str, title: str = "") -> str:
    """``doc`` in format ``fmt`` (``txt``, ``json``, ``hocr``, ``alto``; ``page`` for a one-page document);
    image paths are written as the pages' ``source``."""
    return _render(doc, fmt, None, title)


def output_names(fmt: str, stem: str, pages: int) -> list[str]:
    """The file names ``WRITERS[fmt]`` writes for a document of ``pages`` pages."""
    if fmt == "page" and pages != 1:
        return [f"{stem}_p{i:04d}.page.xml" for i in range(1, pages + 1)]
    return [stem + OUTPUT_SUFFIXES[fmt]]


def _one_file_writer(fmt: str) -> Callable[[Document, Path, str], list[Path]]:
    def write(doc: Document, out_dir: Path, stem: str) -> list[Path]:
        path = Path(out_dir) / output_names(fmt, stem, len(doc.pages))[0]
        atomic_write_text(path, _render(doc, fmt, Path(out_dir), stem))
        return [path]

    write.__name__ = write.__qualname__ = f"write_{fmt}"
    write.__doc__ = f"Write ``stem{OUTPUT_SUFFIXES[fmt]}`` into ``out_dir``; returns the file written."
    return write


def write_page(doc: Document, out_dir: Path, stem: str) -> list[Path]:
    """One PAGE-XML file per page (see ``output_names``); returns the files written."""
    clean = _Clean()
    texts = [_page(doc, page, Path(out_dir), clean) for page in doc.pages]
    _report("page", clean.dropped)
    paths = [Path(out_dir) / name for name in output_names("page", stem, len(doc.pages))]
    for path, text in zip(paths, texts):
        atomic_write_text(path, text)
    return paths


WRITERS: dict[str, Callable[[Document, Path, str], list[Path]]] = {
    **{fmt: _one_file_writer(fmt) for fmt in ("txt", "json", "hocr", "alto")}, "page": write_page}

__all__ = ["WRITERS", "render", "output_names", "OUTPUT_SUFFIXES", "xml_dropped", "language", "pixel_box",
           "spelling_words", "XHTML_NS", "ALTO_NS", "PAGE_NS"]
