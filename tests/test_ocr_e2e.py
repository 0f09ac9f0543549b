"""End to end: synthetic Khmer pages (a PNG and a two-page PDF) read by `aksar ocr` with the shipped detector
(db_mobilenet, 0.9M parameters) and recognizer (ctc_fast) into every format. The page CER stays under a
stated bound, and every format carries the same lines as the JSON: hOCR, ALTO and PAGE-XML read back, and the
searchable PDF's text layer extracted with PDFium equals the JSON text."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from aksar.data.det_formats import read_page_xml
from aksar.infer.document import Document
from test_reader import det_model, synthetic_page  # noqa: F401  (the shipped detector fixture)

FORMATS = "txt,json,hocr,alto,page,pdf"
# Measured 0.00-0.07 on such clean pages (training fonts, 100-150 dpi); the bound leaves room for other CPUs.
PAGE_CER_BOUND = 0.15


def squash(text: str) -> str:
    return "".join(text.split())


def page_cer(truth: str, pred: str) -> float:
    ref = squash(truth)
    return Levenshtein.distance(ref, squash(pred)) / max(len(ref), 1)


class _HocrLines(HTMLParser):
    """The text of each ``ocr_line`` of an hOCR file, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._depth = 0  # >0 inside an ocr_line

    def handle_starttag(self, tag, attrs):
        if self._depth:
            self._depth += 1
        elif dict(attrs).get("class") == "ocr_line":
            self.lines.append("")
            self._depth = 1

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.lines[-1] += data


def alto_lines(path) -> list[str]:
    ns = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
    root = ET.parse(path).getroot()
    out = []
    for line in root.iter("{%s}TextLine" % ns["a"]):
        out.append(" ".join(s.get("CONTENT") for s in line.findall("a:String", ns)))
    return out


def pdf_page_texts(path) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


@pytest.fixture(scope="module")
def inputs(khmer_lines, tmp_path_factory):
    """A one-page PNG and a two-page PDF of clean synthetic pages, with the truth of each page."""
    folder = tmp_path_factory.mktemp("ocr_e2e")
    pages = [synthetic_page(khmer_lines, columns, seed=s, dpi=120) for columns, s in ((1, 21), (2, 22))]
    truth = ["\n".join(ln.text for ln in sorted(p.lines, key=lambda ln: ln.order)) for p in pages]
    Image.fromarray(pages[0].image).save(folder / "page.png")
    images = [Image.fromarray(p.image).convert("RGB") for p in pages]
    images[0].save(folder / "doc.pdf", "PDF", resolution=120.0, save_all=True, append_images=images[1:])
    return folder, truth


@pytest.fixture(scope="module")
def read_out(inputs, det_model, tmp_path_factory):  # noqa: F811
    from aksar.cli.main import main

    folder, _ = inputs
    out = tmp_path_factory.mktemp("ocr_e2e_out") / "out"
    status = main(["ocr", str(folder / "page.png"), str(folder / "doc.pdf"), "--det", det_model, "--rec", "khmer",
                   "--format", FORMATS, "--dpi", "120", "--output-dir", str(out), "--threads", "1", "--no-progress"])
    assert status == 0
    return out


def test_every_format_is_written(read_out):
    names = sorted(p.name for p in read_out.iterdir())
    assert names == sorted(["ocr_outputs.json", "page.txt", "page.json", "page.hocr", "page.alto.xml",
                            "page.page.xml", "page.pdf", "doc.txt", "doc.json", "doc.hocr", "doc.alto.xml",
                            "doc_p0001.page.xml", "doc_p0002.page.xml", "doc.pdf"])
    owned = json.loads((read_out / "ocr_outputs.json").read_text(encoding="utf-8"))["files"]
    assert sorted(owned) == sorted(n for n in names if n != "ocr_outputs.json")


def test_page_cer_is_under_the_bound(read_out, inputs):
    _, truth = inputs
    page = Document.from_dict(json.loads((read_out / "page.json").read_text(encoding="utf-8")))
    doc = Document.from_dict(json.loads((read_out / "doc.json").read_text(encoding="utf-8")))
    assert len(page.pages) == 1 and len(doc.pages) == 2
    assert [p.dpi for p in doc.pages] == [120.0, 120.0] and doc.pages[1].source_page == 1
    cers = [page_cer(truth[0], page.pages[0].text())] + [page_cer(t, p.text()) for t, p in zip(truth, doc.pages)]
    assert max(cers) < PAGE_CER_BOUND, cers
    assert (read_out / "doc.txt").read_text(encoding="utf-8") == doc.text() + "\n"


@pytest.mark.parametrize("stem", ["page", "doc"])
def test_hocr_alto_and_page_carry_the_json_lines(read_out, stem):
    doc = Document.from_dict(json.loads((read_out / f"{stem}.json").read_text(encoding="utf-8")))
    lines = [ln.text for ln in doc.lines()]
    assert lines and all(lines)
    hocr = _HocrLines()
    hocr.feed((read_out / f"{stem}.hocr").read_text(encoding="utf-8"))
    assert [squash(t) for t in hocr.lines] == [squash(t) for t in lines]
    assert [squash(t) for t in alto_lines(read_out / f"{stem}.alto.xml")] == [squash(t) for t in lines]
    page_files = [f"{stem}.page.xml"] if len(doc.pages) == 1 else [
        f"{stem}_p{i:04d}.page.xml" for i in range(1, len(doc.pages) + 1)]
    for page, name in zip(doc.pages, page_files):
        sample = read_page_xml(read_out / name)
        assert [r.text for r in sample.regions] == [ln.text for ln in page.lines]
        for region, line in zip(sample.regions, page.lines):
            assert region.polygon.min(axis=0).round().tolist() == [round(min(p[0] for p in line.polygon)),
                                                                    round(min(p[1] for p in line.polygon))]


@pytest.mark.parametrize("stem", ["page", "doc"])
def test_the_pdf_text_layer_gives_back_the_json_text(read_out, inputs, stem):
    doc = Document.from_dict(json.loads((read_out / f"{stem}.json").read_text(encoding="utf-8")))
    texts = pdf_page_texts(read_out / f"{stem}.pdf")
    assert len(texts) == len(doc.pages)
    for text, page in zip(texts, doc.pages):
        got = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
        want = [ln.text.strip() for ln in page.lines if ln.text.strip()]
        assert squash("".join(got)) == squash("".join(want))  # every character, in reading order
        assert len(got) >= 0.9 * len(want)  # lines stay lines (PDFium may join a few small ones)
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(read_out / f"{stem}.pdf"))
    try:
        w, h = pdf[0].get_size()
        assert (round(w), round(h)) == (round(doc.pages[0].width * 72 / (doc.pages[0].dpi or 300)),
                                        round(doc.pages[0].height * 72 / (doc.pages[0].dpi or 300)))
    finally:
        pdf.close()


def test_thai_pages_with_the_default_detector_of_the_script(thai_lines, run_cli, tmp_path):
    """`--rec thai` without `--det`: the shipped Thai detector is chosen by the recognizer's script."""
    from aksar.core.rng import rng_for
    from aksar.render.page import PageRenderer
    from fixtures.pages import tiny_page_config

    cfg = tiny_page_config("thai", degrade=False, columns={1: 1}, blocks={"paragraph": 3, "heading": 1},
                           min_column_em=6)
    cfg.layout.dpi, cfg.layout.size_px, cfg.paper_texture = (120, 120), (840, 672), (0.0, 0.0)
    page = PageRenderer("thai", cfg).render(thai_lines, rng_for(5, "ocr-thai"))
    truth = "".join(ln.text for ln in page.lines)
    Image.fromarray(page.image).save(tmp_path / "thai.png")
    proc = run_cli(["ocr", tmp_path / "thai.png", "--rec", "thai", "--format", "json", "--output-dir",
                    tmp_path / "out", "--threads", "1", "--no-progress"])
    assert proc.returncode == 0, proc.stderr
    doc = Document.from_dict(json.loads((tmp_path / "out" / "thai.json").read_text(encoding="utf-8")))
    assert doc.models["detector"]["path"].endswith("thai_det_v1/model.onnx")
    assert doc.models["recognizer"]["script"] == "thai"
    assert page_cer(truth, doc.pages[0].text()) < PAGE_CER_BOUND
