"""Page outputs (txt, JSON, hOCR, ALTO, PAGE-XML) of a hand-built two-page Khmer/Thai Document: each parses,
carries every line's box, polygon, confidence and text in reading order, and PAGE files read back."""
from __future__ import annotations

import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from aksar.core.errors import AksarError
from aksar.data.det_formats import read_page_xml
from aksar.infer.document import Block, Document, Line, Page, Word, bbox, box_polygon
from aksar.infer.page_outputs import ALTO_NS, PAGE_NS, WRITERS, XHTML_NS, render, xml_dropped

ROTATED = [[100, 300], [400, 353], [393, 392], [93, 339]]  # a box turned by about 10 degrees


def _line(polygon: list, text: str, conf: float, with_words: bool = True) -> Line:
    """A line whose words split its box evenly (as a reader estimates them)."""
    x0, y0, x1, y1 = bbox(polygon)
    tokens = text.split()
    step = (x1 - x0) / len(tokens)
    words = [Word(t, round(conf - 0.01 * i, 6),
                  box_polygon(round(x0 + i * step), y0, round(x0 + (i + 1) * step) - 2, y1))
             for i, t in enumerate(tokens)] if with_words else []
    return Line(polygon, text, conf, det_score=0.9, words=words)


def _doc(source: str, script: str = "khmer") -> Document:
    khmer = [_line(box_polygon(50, 40, 500, 80), "សួស្តី ពិភពលោក", 0.93),
             _line(box_polygon(50, 90, 520, 130), "ក & ខ < គ \"ឃ\"", 0.71)]
    thai = [_line(ROTATED, "สวัสดี ชาวโลก", 0.88),
            _line(box_polygon(60, 420, 420, 460), "ภาษาไทย ไม่มีคำ", 0.5, with_words=False)]
    page1 = Page(0, 1000, 800, source=source, source_page=0, dpi=300.0,
                 blocks=[Block.around(khmer), Block.around(thai)])
    # the second page: a line running off the page (clipped) and a block of one line
    off = _line([[-12, 20], [640, 20], [640, 60], [-12, 60]], "ខ្មែរ ไทย", 0.66)
    page2 = Page(1, 600, 400, source=source, source_page=1, dpi=None,
                 blocks=[Block(box_polygon(0, 10, 600, 70), [off]),
                         Block.around([_line(box_polygon(30, 100, 300, 140), "ចប់", 0.99)])])
    return Document([page1, page2], models={"detector": {"name": "khmer_det"},
                                            "recognizer": {"name": script, "script": script}})


def _expected_box(polygon: list, page: Page) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = bbox(polygon)
    return (max(0, int(x0)), max(0, int(y0)), min(page.width, int(x1)), min(page.height, int(y1)))


def _clipped(polygon: list, page: Page) -> list[list[int]]:
    return [[min(max(0, int(x)), page.width), min(max(0, int(y)), page.height)] for x, y in polygon]


def _expected_lines(doc: Document) -> list[tuple[int, Line]]:
    return [(p, ln) for p, page in enumerate(doc.pages) for ln in page.lines]


@pytest.fixture
def doc(tmp_path: Path) -> Document:
    return _doc(str(tmp_path / "scans" / "book.pdf"))


def test_txt_and_json(doc, tmp_path):
    out = tmp_path / "out"
    [txt] = WRITERS["txt"](doc, out, "book")
    assert txt == out / "book.txt"
    pages = txt.read_text(encoding="utf-8").removesuffix("\n").split("\f")
    assert pages == [p.text() for p in doc.pages] and "ក & ខ < គ" in pages[0]
    [js] = WRITERS["json"](doc, out, "book")
    raw = js.read_text(encoding="utf-8")
    assert "សួស្តី" in raw  # not \u escaped
    assert Document.from_dict(json.loads(raw)).to_dict() == doc.to_dict()
    assert sorted(out.iterdir()) == sorted([txt, js])  # no temporary files left


def _title(el: ET.Element) -> dict[str, list[str]]:
    return {p.split()[0]: p.split()[1:] for p in el.get("title", "").split("; ")}


class _Classes(HTMLParser):
    """The hOCR classes in the order an HTML parser meets them, and the text inside each ocr_line."""

    def __init__(self) -> None:
        super().__init__()
        self.classes: list[str] = []
        self.depth = 0
        self.lines: list[str] = []

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class")
        if cls:
            self.classes.append(cls)
        if cls == "ocr_line":
            self.depth, self.lines = 1, self.lines + [""]
        elif self.depth and tag == "span":
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth and tag == "span":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.lines[-1] += data


def test_hocr(doc, tmp_path):
    out = tmp_path / "out"
    [path] = WRITERS["hocr"](doc, out, "book")
    assert path == out / "book.hocr"
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"<(?!meta\b)\w+[^>]*/>", text)  # HTML parsers would open a never-closed element
    root = ET.fromstring(text)
    ns = {"h": XHTML_NS}
    assert root.get("lang") == "km"
    metas = {m.get("name"): m.get("content") for m in root.iterfind("h:head/h:meta", ns)}
    assert metas["ocr-system"].startswith("aksar ") and "ocrx_word" in metas["ocr-capabilities"].split()
    pages = root.findall(".//h:div[@class='ocr_page']", ns)
    assert len(pages) == 2
    props = _title(pages[0])
    assert props["image"] == ['"../scans/book.pdf"'] and props["bbox"] == ["0", "0", "1000", "800"]
    assert props["ppageno"] == ["0"] and props["scan_res"] == ["300", "300"] and "scan_res" not in _title(pages[1])
    lines = [(p, ln) for p, page in enumerate(pages) for ln in page.iterfind(".//h:span[@class='ocr_line']", ns)]
    expected = _expected_lines(doc)
    assert len(lines) == len(expected)
    assert all(par.get("lang") == "km" for par in root.iterfind(".//h:p[@class='ocr_par']", ns))
    for (p, el), (q, line) in zip(lines, expected):
        page = doc.pages[q]
        assert p == q
        t = _title(el)
        assert tuple(int(v) for v in t["bbox"]) == _expected_box(line.polygon, page)
        assert [int(v) for v in t["poly"]] == [v for pt in _clipped(line.polygon, page) for v in pt]
        assert int(t["x_wconf"][0]) == round(line.confidence * 100)
        words = el.findall("h:span[@class='ocrx_word']", ns)
        assert len(words) == len(line.words)
        if words:
            assert [w.text for w in words] == line.text.split()
            for w, word in zip(words, line.words):
                assert tuple(int(v) for v in _title(w)["bbox"]) == _expected_box(word.polygon, page)
                assert int(_title(w)["x_wconf"][0]) == round(word.confidence * 100)
        else:
            assert el.text == line.text
    html = _Classes()
    html.feed(text)
    assert html.classes.count("ocr_line") == len(expected)
    assert [" ".join(s.split()) for s in html.lines] == [" ".join(ln.text.split()) for _, ln in expected]
    thai = render(_doc("", script="thai"), "hocr")
    assert ET.fromstring(thai).get("lang") == "th" and 'image "' not in thai


def test_alto(doc, tmp_path):
    out = tmp_path / "out"
    [path] = WRITERS["alto"](doc, out, "book")
    assert path == out / "book.alto.xml"
    root = ET.parse(path).getroot()
    ns = {"a": ALTO_NS}
    assert root.tag == f"{{{ALTO_NS}}}alto"
    assert root.findtext("a:Description/a:MeasurementUnit", namespaces=ns) == "pixel"
    assert root.findtext("a:Description/a:sourceImageInformation/a:fileName", namespaces=ns) == "../scans/book.pdf"
    settings = root.findtext("a:Description/a:OCRProcessing/a:ocrProcessingStep/a:processingStepSettings",
                             namespaces=ns)
    assert json.loads(settings) == doc.models
    pages = root.findall("a:Layout/a:Page", ns)
    assert [(p.get("PHYSICAL_IMG_NR"), p.get("WIDTH"), p.get("HEIGHT")) for p in pages] == [
        ("1", "1000", "800"), ("2", "600", "400")]
    assert all(b.get("LANG") == "km" for b in root.iterfind(".//a:TextBlock", ns))
    assert len(root.findall(".//a:PrintSpace/a:TextBlock", ns)) == 4
    lines = [(p, el) for p, page in enumerate(pages) for el in page.iterfind(".//a:TextLine", ns)]
    expected = _expected_lines(doc)
    assert len(lines) == len(expected)

    def box(el):
        x, y, w, h = (int(el.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
        return x, y, x + w, y + h

    for (p, el), (q, line) in zip(lines, expected):
        page = doc.pages[q]
        assert p == q and box(el) == _expected_box(line.polygon, page)
        points = el.find("a:Shape/a:Polygon", ns).get("POINTS")
        assert [[int(v) for v in pt.split(",")] for pt in points.split()] == _clipped(line.polygon, page)
        strings = el.findall("a:String", ns)
        children = [c.tag.split("}")[1] for c in el if c.tag != f"{{{ALTO_NS}}}Shape"]
        assert children == ["String", "SP"] * (len(strings) - 1) + ["String"]
        assert " ".join(s.get("CONTENT") for s in strings) == line.text
        sources = line.words or [Word(line.text, line.confidence, line.polygon)]
        assert len(strings) == len(sources)
        for s, word in zip(strings, sources):
            assert box(s) == _expected_box(word.polygon, page)
            assert float(s.get("WC")) == pytest.approx(word.confidence, abs=1e-4)


def test_page_xml_one_file_per_page(doc, tmp_path):
    out = tmp_path / "out"
    paths = WRITERS["page"](doc, out, "book")
    assert paths == [out / "book_p0001.page.xml", out / "book_p0002.page.xml"]
    ns = {"p": PAGE_NS}
    for path, page in zip(paths, doc.pages):
        sample = read_page_xml(path)
        assert Path(sample.image).resolve() == Path(page.source).resolve()
        assert [r.text for r in sample.regions] == [ln.text for ln in page.lines]
        assert [r.polygon.astype(int).tolist() for r in sample.regions] == [_clipped(ln.polygon, page)
                                                                             for ln in page.lines]
        root = ET.parse(path).getroot()
        refs = [r.get("regionRef") for r in root.iterfind(".//p:ReadingOrder/p:OrderedGroup/p:RegionRefIndexed", ns)]
        assert refs == [r.get("id") for r in root.iterfind(".//p:TextRegion", ns)] and len(refs) == len(page.blocks)
        for el, line in zip(root.iterfind(".//p:TextLine", ns), page.lines):
            assert float(el.find("p:TextEquiv", ns).get("conf")) == pytest.approx(line.confidence, abs=1e-4)
            words = el.findall("p:Word", ns)
            assert [w.findtext("p:TextEquiv/p:Unicode", namespaces=ns) for w in words] == [w.value for w in line.words]
        pg = root.find("p:Page", ns)
        assert pg.get("imageXResolution") == ("300" if page.dpi else None)
    one = Document([doc.pages[0]], doc.models)
    assert WRITERS["page"](one, out, "single") == [out / "single.page.xml"]
    assert render(one, "page").startswith("<?xml")
    with pytest.raises(AksarError, match="one page"):
        render(doc, "page")
    with pytest.raises(AksarError, match="unknown output format 'pdfx'"):
        render(doc, "pdfx")


def test_page_xml_created_time_honours_source_date_epoch(doc, monkeypatch):
    one = Document(pages=doc.pages[:1], models=doc.models)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = render(one, "page")
    assert "<Created>2023-11-14T22:13:20</Created>" in first and render(one, "page") == first
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(AksarError, match="SOURCE_DATE_EPOCH"):
        render(one, "page")


def test_xml_forbidden_characters_dropped_and_counted_and_odd_confidences(caplog):
    line = Line(box_polygon(0, 0, 50, 20), "ក\x0bខ\x00", float("nan"))
    doc = Document([Page(0, 100, 50, blocks=[Block.around([line])])])
    assert xml_dropped(doc) == 2
    for fmt in ("hocr", "alto", "page"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aksar.infer"):
            text = render(doc, fmt)
        assert "\x0b" not in text and "\x00" not in text and "កខ" in text
        ET.fromstring(text.encode("utf-8"))
        assert "dropped 2 character" in caplog.text
        assert "nan" not in text.lower()
    assert "x_wconf 0" in render(doc, "hocr")
    assert Document.from_dict(json.loads(render(doc, "json"))).pages[0].lines[0].text == line.text


def test_a_rendered_page_reads_back_from_every_xml_format(khmer_corpus_dir, tmp_path):
    """A real synthetic page (aksar's page renderer, real fonts) as a perfectly read Document: PAGE output
    reads back like its ground truth, and hOCR/ALTO carry the same lines."""
    from PIL import Image

    from aksar.core.rng import rng_for
    from aksar.render.page import PageRenderer
    from aksar.text.corpus import read_split
    from fixtures.pages import tiny_page_config

    rendered = PageRenderer("khmer", tiny_page_config("khmer", degrade=False)).render(
        read_split(khmer_corpus_dir, "train"), rng_for(3, "page_outputs"))
    assert rendered.lines
    source = tmp_path / "scan.png"
    Image.fromarray(rendered.image).save(source)
    h, w = rendered.image.shape
    blocks = [Block(r.polygon, [Line(ln.polygon, ln.text, 0.9) for ln in rendered.lines if ln.block == r.index])
              for r in rendered.regions]
    doc = Document([Page(0, w, h, source=str(source), dpi=rendered.dpi, blocks=blocks)],
                   models={"recognizer": {"script": "khmer"}})
    out = tmp_path / "out"
    [page_file] = WRITERS["page"](doc, out, "scan")
    sample = read_page_xml(page_file)
    assert Path(sample.image).resolve() == source.resolve()
    assert [r.text for r in sample.regions] == [ln.text for ln in doc.pages[0].lines]
    assert [r.polygon.astype(int).tolist() for r in sample.regions] == [
        [[min(max(0, round(x)), w), min(max(0, round(y)), h)] for x, y in ln.polygon] for ln in doc.pages[0].lines]
    alto = ET.parse(WRITERS["alto"](doc, out, "scan")[0]).getroot()
    assert [s.get("CONTENT") for s in alto.iter(f"{{{ALTO_NS}}}String")] == [ln.text for ln in doc.pages[0].lines]
    hocr = ET.parse(WRITERS["hocr"](doc, out, "scan")[0]).getroot()
    assert [el.text for el in hocr.iter(f"{{{XHTML_NS}}}span")] == [ln.text for ln in doc.pages[0].lines]
