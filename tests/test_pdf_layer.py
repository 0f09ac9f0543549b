"""Searchable PDF output (aksar.infer.pdf_layer): the text pypdfium2 extracts is the Document's text, placed
over each line, over the untouched page image; the file is well-formed, deterministic and written atomically."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

from aksar.core.errors import AksarError
from aksar.infer.document import Block, Document, Line, Page, box_polygon
from aksar.infer.pdf_font import FontChooser
from aksar.infer.pdf_layer import SearchablePdf, write_pdf

KHMER_BLOCKS = [["ព្រះរាជាណាចក្រកម្ពុជា", "ជាតិ សាសនា ព្រះមហាក្សត្រ"],
                ["ស្ត្រី កម្ពុជា ដើម្បី គោលការណ៍", "លេខ 12345 ឆ្នាំ ២០២៤ Invoice No. 7"]]
THAI_BLOCKS = [["น้ำ ที่นี่ ภาษาไทย", "ผู้ใหญ่ กำลัง ไปโรงเรียน"], ["Total 99.50 USD, ref A-17"]]


def _render_page(index: int, blocks: list[list[str]], script: str, dpi: float | None,
                 mode: str = "L") -> tuple[Page, Image.Image]:
    """A page image drawn with Pillow (RAQM) and its Page, each line's polygon around its ink."""
    chooser = FontChooser(script)
    img = Image.new("L", (1400, 260 + 150 * sum(len(b) for b in blocks)), 255)
    draw = ImageDraw.Draw(img)
    page_blocks, y = [], 60
    for texts in blocks:
        lines = []
        for text in texts:
            font = ImageFont.truetype(chooser.for_text(text).path, 52)
            x0, y0, x1, y1 = draw.textbbox((70, y), text, font=font)
            draw.text((70, y), text, font=font, fill=0)
            lines.append(Line(polygon=box_polygon(x0 - 3, y0 - 3, x1 + 3, y1 + 3), text=text, confidence=0.9))
            y += 130
        page_blocks.append(Block.around(lines))
        y += 60
    page = Page(index=index, width=img.width, height=img.height, dpi=dpi, blocks=page_blocks)
    return page, img.convert(mode)


@pytest.fixture(scope="module")
def two_pages(tmp_path_factory):
    khmer = _render_page(0, KHMER_BLOCKS, "khmer", 200.0, mode="L")
    thai = _render_page(1, THAI_BLOCKS, "thai", None, mode="RGB")
    doc = Document(pages=[khmer[0], thai[0]], models={"recognizer": {"script": "khmer"}})
    path = tmp_path_factory.mktemp("pdf") / "out.pdf"
    assert write_pdf(doc, [khmer[1], thai[1]], path) == 2
    return doc, [khmer[1], thai[1]], path


def _page_lines(text: str) -> list[str]:
    """Extracted text as lines: PDFium separates lines with CRLF; trailing spaces dropped, empty lines skipped."""
    return [ln.rstrip(" ") for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]


def test_extracted_text_is_the_documents_text(two_pages):
    doc, _, path = two_pages
    pdf = pdfium.PdfDocument(path)
    assert len(pdf) == 2
    for page, pdf_page in zip(doc.pages, pdf):
        extracted = pdf_page.get_textpage().get_text_range()
        # exact up to line breaks: no stray characters between the clusters, spaces kept
        assert _page_lines(extracted) == [ln.text for ln in page.lines]


def test_page_size_follows_dpi_and_default(two_pages):
    doc, _, path = two_pages
    pdf = pdfium.PdfDocument(path)
    for page, pdf_page, dpi in zip(doc.pages, pdf, (200.0, 300.0)):
        w, h = pdf_page.get_size()
        assert w == pytest.approx(page.width * 72 / dpi, abs=0.01)
        assert h == pytest.approx(page.height * 72 / dpi, abs=0.01)


def test_characters_lie_inside_their_line_box(two_pages):
    doc, _, path = two_pages
    pdf = pdfium.PdfDocument(path)
    for page, pdf_page, dpi in zip(doc.pages, pdf, (200.0, 300.0)):
        k = 72 / dpi
        _, page_h = pdf_page.get_size()
        tp = pdf_page.get_textpage()
        wanted = iter([(ch, ln) for ln in page.lines for ch in ln.text])
        checked = 0
        for i in range(tp.count_chars()):
            ch = tp.get_text_range(i, 1)
            if ch in ("", "\r", "\n"):
                continue
            expected, line = next(wanted)
            assert ch == expected
            if ch == " ":
                continue
            left, bottom, right, top = tp.get_charbox(i)
            cx, cy = (left + right) / 2 / k, (page_h - (top + bottom) / 2) / k  # pixels, y down
            x0, y0, x1, y1 = line.bbox
            assert x0 - 1 <= cx <= x1 + 1 and y0 - 1 <= cy <= y1 + 1, (line.text, ch, (cx, cy), line.bbox)
            checked += 1
        assert next(wanted, None) is None
        assert checked > 30


def test_invisible_layer_leaves_the_image_as_it_was(two_pages):
    doc, images, path = two_pages
    pdf = pdfium.PdfDocument(path)
    for page, pdf_page, image in zip(doc.pages, pdf, images):
        kinds = [obj.type for obj in pdf_page.get_objects()]
        assert kinds.count(pdfium.raw.FPDF_PAGEOBJ_IMAGE) == 1
        assert pdfium.raw.FPDF_PAGEOBJ_TEXT in kinds
        scale = page.width / pdf_page.get_size()[0]
        shown = np.asarray(pdf_page.render(scale=scale).to_pil().convert("L").resize(image.size), dtype=float)
        assert np.abs(shown - np.asarray(image.convert("L"), dtype=float)).mean() < 3.0


def test_visible_text_is_drawn_over_the_lines(tmp_path):
    page, image = _render_page(0, KHMER_BLOCKS[:1], "khmer", 150.0)
    path = tmp_path / "visible.pdf"
    with SearchablePdf(path, script="khmer", visible_text=True) as pdf:
        pdf.add_page(page, image)
    rendered = np.asarray(pdfium.PdfDocument(path)[0].render(scale=150 / 72).to_pil().convert("RGB")
                          .resize(image.size), dtype=int)
    red = (rendered[..., 0] > 180) & (rendered[..., 1] < 120) & (rendered[..., 2] < 120)
    for line in page.lines:
        x0, y0, x1, y1 = (int(v) for v in line.bbox)
        inside = red[y0:y1, x0:x1].sum()
        assert inside > 0.05 * (x1 - x0) * (y1 - y0)  # the shaped text covers its box
    assert red.sum() > 0
    boxes = np.zeros_like(red)
    for line in page.lines:
        x0, y0, x1, y1 = (int(v) for v in line.bbox)
        boxes[max(y0 - 4, 0):y1 + 4, max(x0 - 4, 0):x1 + 4] = True
    assert red[~boxes].sum() < 0.01 * red.sum()  # and stays there


def _check_structure(data: bytes) -> None:
    """What `qpdf --check` would look at first: every xref offset points at its object, startxref at xref."""
    start = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    assert data[start:start + 4] == b"xref"
    count = int(re.match(rb"xref\n0 (\d+)\n", data[start:]).group(1))
    rows = data[start:].split(b"\n")[2:2 + count]
    assert rows[0].startswith(b"0000000000 65535 f")
    for num, row in enumerate(rows[1:], 1):
        offset = int(row[:10])
        assert data[offset:].startswith(b"%d 0 obj\n" % num), num
    for m in re.finditer(rb"/Length (\d+) >>\nstream\n", data):
        end = m.end() + int(m.group(1))
        assert data[end:end + 10] == b"\nendstream"


def test_file_is_well_formed(two_pages):
    _check_structure(Path(two_pages[2]).read_bytes())


def _three_pages():
    blocks = [[["ស្ត្រី កម្ពុជា"]], [["ការងារ ១២៣"]], [["ទឹក ភ្លើង"]]]
    return [_render_page(i, b, "khmer", 300.0) for i, b in enumerate(blocks)]


def test_incremental_writes_are_deterministic_and_atomic(tmp_path):
    pages = _three_pages()
    outputs = []
    for name in ("a.pdf", "b.pdf"):
        path = tmp_path / name
        with SearchablePdf(path, script="khmer") as pdf:
            for page, image in pages:
                pdf.add_page(page, image)
                assert not path.exists()  # nothing at the final path until close
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    assert len(pdfium.PdfDocument(tmp_path / "a.pdf")) == 3
    assert b"CreationDate" not in outputs[0]

    with pytest.raises(RuntimeError):
        with SearchablePdf(tmp_path / "a.pdf", script="khmer") as pdf:
            pdf.add_page(*pages[0])
            raise RuntimeError("interrupted")
    assert (tmp_path / "a.pdf").read_bytes() == outputs[0]  # an interrupted write leaves the old file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "b.pdf"]


def test_bilevel_pages_are_flate_and_photos_jpeg(tmp_path):
    page, image = _render_page(0, [["ស្ត្រី កម្ពុជា"]], "khmer", 300.0)
    bilevel = image.point(lambda v: 255 if v > 128 else 0)
    write_pdf(Document(pages=[page]), [bilevel], tmp_path / "bw.pdf")
    write_pdf(Document(pages=[page]), [image.convert("RGB")], tmp_path / "rgb.pdf")
    bw, rgb = (tmp_path / "bw.pdf").read_bytes(), (tmp_path / "rgb.pdf").read_bytes()
    assert b"/BitsPerComponent 1" in bw and b"/DCTDecode" not in bw
    assert b"/DCTDecode" in rgb and b"/DeviceRGB" in rgb
    for path in ("bw.pdf", "rgb.pdf"):
        assert _page_lines(pdfium.PdfDocument(tmp_path / path)[0].get_textpage().get_text_range()) == ["ស្ត្រី កម្ពុជា"]


def test_user_errors_name_the_page(tmp_path):
    page, image = _render_page(0, [["ស្ត្រី"]], "khmer", 300.0)
    with pytest.raises(AksarError, match="page 1: image is"):
        with SearchablePdf(tmp_path / "x.pdf", script="khmer") as pdf:
            pdf.add_page(page, image.resize((100, 100)))
    with pytest.raises(AksarError, match="no pages"):
        SearchablePdf(tmp_path / "y.pdf").close()
    with pytest.raises(AksarError, match="2 pages but only 1 images"):
        write_pdf(Document(pages=[page, page]), [image], tmp_path / "z.pdf")
    assert list(tmp_path.iterdir()) == []


def test_lines_sharing_a_row_are_extracted_as_separate_lines(tmp_path):
    """Two columns: each row holds two lines side by side; extraction keeps them apart, in reading order."""
    rows = [("ស្ត្រី កម្ពុជា", "ដើម្បី គោល"), ("ព្រះរាជាណាចក្រ", "ទឹក ភ្លើង ១២៣")]
    lines = []
    for r, (left, right) in enumerate(rows):
        y = 80 + 110 * r
        lines += [Line(box_polygon(60, y, 560, y + 70), left, 0.9), Line(box_polygon(700, y, 1200, y + 70), right, 0.9)]
    page = Page(index=0, width=1300, height=400, dpi=300.0, blocks=[Block.around(lines)])
    write_pdf(Document(pages=[page]), [Image.new("L", (1300, 400), 255)], tmp_path / "cols.pdf", script="khmer")
    text = pdfium.PdfDocument(tmp_path / "cols.pdf")[0].get_textpage().get_text_range()
    assert _page_lines(text) == [ln.text for ln in lines]


def test_text_only_page_has_no_image(tmp_path):
    page, _ = _render_page(0, [["ស្ត្រី កម្ពុជា", "Total 99.50"]], "khmer", 300.0)
    with SearchablePdf(tmp_path / "text.pdf", script="khmer") as pdf:
        pdf.add_page(page, None)
    pdf_page = pdfium.PdfDocument(tmp_path / "text.pdf")[0]
    assert pdfium.raw.FPDF_PAGEOBJ_IMAGE not in [obj.type for obj in pdf_page.get_objects()]
    assert pdf_page.get_size() == pytest.approx((page.width * 72 / 300, page.height * 72 / 300), abs=0.01)
    assert _page_lines(pdf_page.get_textpage().get_text_range()) == ["ស្ត្រី កម្ពុជា", "Total 99.50"]
    assert np.asarray(pdf_page.render().to_pil().convert("L")).min() == 255  # nothing visible
    _check_structure((tmp_path / "text.pdf").read_bytes())
