"""Searchable PDF: each page image with an invisible, correctly shaped text layer (``aksar ocr --format pdf``).

``SearchablePdf(path)`` writes pages one at a time (a long input never sits in memory) to a temporary file
that replaces ``path`` on :meth:`SearchablePdf.close`; ``write_pdf(doc, images, path)`` does it for a whole
Document. The PDF objects are written here by hand; fonts and the text encoding are in
:mod:`aksar.infer.pdf_font`. Output is deterministic: no dates, no random ids.

Page size in points is the image size at ``page.dpi`` (300 when unknown). The image is embedded as 1-bit
Flate when it is bilevel (mode "1", or grayscale holding only black and white), else as JPEG (quality 85).
Each line is one text object in render mode 3 (invisible; 0 with ``visible_text=True`` for checking the
placement), sized so the font's ascent..descent fills the line's bounding box height and horizontally scaled
(``Tz``) so the shaped line spans the box width. Rotated line polygons are placed by their bounding box.
"""
from __future__ import annotations

import io
import os
import zlib
from contextlib import ExitStack
from typing import BinaryIO, Iterable, Sequence

from PIL import Image

from aksar.core.errors import AksarError
from aksar.core.io import atomic_open
from aksar.infer.document import Document, Line, Page
from aksar.infer.pdf_font import EmbeddedFont, FontChooser, PlacedGlyph, merge_clusters
from aksar.render.fonts import FontInfo
from aksar.render.shaping import ShapingGate

DEFAULT_DPI = 300.0
JPEG_QUALITY = 85
PRODUCER = "aksar"


def _num(v: float) -> str:
    """A PDF number: at most 3 decimals, no trailing zeros, no exponent."""
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


class _PdfFile:
    """Numbered objects written one after the other, with the cross-reference table at the end."""

    def __init__(self, f: BinaryIO):
        self.f = f
        self.offsets: dict[int, int] = {}
        self.count = 0
        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def reserve(self) -> int:
        self.count += 1
        return self.count

    def put_object(self, num: int, body: str | bytes) -> None:
        if num in self.offsets:
            raise RuntimeError(f"PDF object {num} written twice")
        self.offsets[num] = self.f.tell()
        data = body.encode("latin-1") if isinstance(body, str) else body
        self.f.write(b"%d 0 obj\n" % num + data + b"\nendobj\n")

    def put_stream(self, num: int, entries: str, data: bytes, compress: bool = True) -> None:
        if compress:
            data = zlib.compress(data, 6)
            entries = f"{entries} /Filter /FlateDecode".strip()
        head = f"<< {entries} /Length {len(data)} >>\nstream\n".encode("latin-1")
        self.put_object(num, head + data + b"\nendstream")

    def finish(self, root: int, info: int) -> None:
        missing = [n for n in range(1, self.count + 1) if n not in self.offsets]
        if missing:
            raise RuntimeError(f"PDF objects reserved but never written: {missing}")
        xref = self.f.tell()
        rows = [b"xref\n0 %d\n" % (self.count + 1), b"0000000000 65535 f \n"]
        rows += [b"%010d 00000 n \n" % self.offsets[n] for n in range(1, self.count + 1)]
        self.f.write(b"".join(rows))
        self.f.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                     % (self.count + 1, root, info, xref))


def encode_image(image: Image.Image, quality: int = JPEG_QUALITY) -> tuple[str, bytes, bool]:
    """(image XObject dictionary entries, data, whether to Flate it) for a page image."""
    img = image
    if img.mode in ("RGBA", "LA", "PA", "P"):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
    elif img.mode not in ("1", "L", "RGB"):
        img = img.convert("RGB" if img.mode in ("CMYK", "YCbCr", "LAB", "HSV") else "L")
    if img.mode == "L":
        levels = {v for v, n in enumerate(img.histogram()) if n}
        if levels <= {0, 255}:
            img = img.convert("1", dither=Image.Dither.NONE)
    w, h = img.size
    if img.mode == "1":
        return (f"/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
                f"/BitsPerComponent 1", img.tobytes(), True)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    space = "/DeviceGray" if img.mode == "L" else "/DeviceRGB"
    return (f"/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace {space} /BitsPerComponent 8 "
            f"/Filter /DCTDecode", buf.getvalue(), False)


def _glyph_run(glyphs: Sequence[PlacedGlyph], font: EmbeddedFont, size: float, rise: bool) -> list[str]:
    """Content operators drawing ``glyphs`` from the current point: TJ with gaps for HarfBuzz's advances and x
    offsets; with ``rise``, y offsets as ``Ts`` (PDFium then reads a risen glyph as a line of its own)."""
    upem = font.metrics.units_per_em
    ops: list[str] = []
    items: list[str] = []
    shift = 0  # font units the pen must still move right before the next glyph

    def gap() -> None:
        nonlocal shift
        if shift:
            items.append(_num(-shift * 1000 / upem))
            shift = 0

    def flush() -> None:
        if items:
            ops.append(f"[{' '.join(items)}] TJ")
            items.clear()

    for g in glyphs:
        cid = font.cid(g.gid, g.text, g.x_advance)
        shift += g.x_offset
        gap()
        code = f"<{cid:04X}>"
        if rise and g.y_offset:
            flush()
            ops += [f"{_num(g.y_offset * size / upem)} Ts", f"[{code}] TJ", "0 Ts"]
        else:
            items.append(code)
        shift += g.x_advance - g.x_offset - font.advance(cid)
    gap()
    flush()
    return ops


# Text extraction (PDFium, Poppler) starts a new line where the next text sits on another row. A line that shares
# the previous line's row (columns, a line split in two) starts with a zero-width glyph mapped to a line break.
LINE_BREAK = "\r\n"


# The invisible text is squashed vertically to the middle of its box, so that stacked rows of Khmer, whose boxes
# often overlap a little (subscripts, tall vowels), do not overlap in the PDF: readers then break lines between
# them by themselves. Lines whose middle bands overlap share a row and get an explicit line break.
INVISIBLE_SQUASH = 0.5
MIN_ROW_PT = 5.0  # PDFium compares text rows by their boxes only when both are taller than 4.5 pt


def _squash(line: Line, k: float) -> float:
    """How much the invisible text of ``line`` is squashed: ``INVISIBLE_SQUASH``, less where that would leave
    it under ``MIN_ROW_PT`` tall (k: points per pixel)."""
    _, y0, _, y1 = line.bbox
    return min(1.0, max(INVISIBLE_SQUASH, MIN_ROW_PT / max((y1 - y0) * k, 1e-6)))


def _same_row(a: Line, b: Line, k: float) -> bool:
    """Whether the middle bands of the two lines' boxes, where their invisible text lies, overlap vertically."""
    def band(line: Line) -> tuple[float, float]:
        _, y0, _, y1 = line.bbox
        half = (y1 - y0) * _squash(line, k) / 2
        return (y0 + y1) / 2 - half, (y0 + y1) / 2 + half

    (a0, a1), (b0, b1) = band(a), band(b)
    return min(a1, b1) > max(a0, b0)


MAX_INK_ZOOM = 2.5  # the ink fit may make the font at most this much larger than the em box fit


def _fit_line(box: tuple[float, float, float, float], font: EmbeddedFont, glyphs: Sequence[PlacedGlyph],
              k: float, page_h: float, squash: float = 1.0) -> tuple[float, float, float, float]:
    """(x, baseline y, font size, horizontal scale %) in points that lay the shaped line over its pixel box
    (k: points per pixel): the line's ink is fitted to the box (detected boxes enclose ink), squashed vertically
    by ``squash``; the font size stays under ``MAX_INK_ZOOM`` times the size whose ascent..descent fills the box,
    so a line of short letters in a loose box does not balloon."""
    m = font.metrics
    upem = m.units_per_em
    x0, y0, x1, y1 = box
    height, width = max(y1 - y0, 1.0) * k, max(x1 - x0, 1.0) * k
    em_size = height * upem / (m.ascent - m.descent)
    ink = font.ink_bounds(glyphs)
    if ink is None:  # no ink: fit the em box and the advances
        advance = sum(g.x_advance for g in glyphs)
        ink = (0, m.descent, advance, m.ascent)
    ix0, iy0, ix1, iy1 = ink
    size = min(height * upem / max(iy1 - iy0, 1), MAX_INK_ZOOM * em_size)
    ink_w = (ix1 - ix0) * size / upem
    scale = 100 * width / ink_w if ink_w > 0 else 100.0
    # centre the ink (squashed vertically by ``squash``) in the box (it fills the box unless the size was clamped)
    baseline = page_h - (y0 + y1) / 2 * k - squash * (iy0 + iy1) / 2 * size / upem
    x = x0 * k - ix0 * size / upem * scale / 100
    return x, baseline, size, scale


class SearchablePdf:
    """Writes a searchable PDF page by page; use as a context manager (the file appears only on a clean exit).

    ``script`` (e.g. "khmer") orders the fonts tried for the text layer; ``fonts`` replaces them.
    ``visible_text`` draws the text layer in red instead of invisibly, every shaped glyph at its HarfBuzz
    position (for checking placement and shaping); the invisible layer draws only each cluster's first glyph
    (mapped to the cluster's text), advancing by the whole cluster.
    """

    def __init__(self, path: str | os.PathLike, *, script: str | None = None,
                 fonts: Sequence[FontInfo] | None = None, visible_text: bool = False,
                 default_dpi: float = DEFAULT_DPI, jpeg_quality: int = JPEG_QUALITY):
        self.path = os.fspath(path)
        self.visible_text = visible_text
        self.default_dpi = default_dpi
        self.jpeg_quality = jpeg_quality
        self.pages_written = 0
        self._chooser = FontChooser(script, fonts)
        self._gate = ShapingGate(None)  # HarfBuzz guesses each line's script and direction
        self._fonts: dict[FontInfo, EmbeddedFont] = {}
        self._stack = ExitStack()
        self._pdf = _PdfFile(self._stack.enter_context(atomic_open(self.path)))
        self._catalog, self._pages_obj, self._info = (self._pdf.reserve() for _ in range(3))
        self._page_objs: list[int] = []
        self._closed = False

    def __enter__(self) -> "SearchablePdf":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _font_for(self, text: str) -> EmbeddedFont:
        info = self._chooser.for_text(text)
        emb = self._fonts.get(info)
        if emb is None:
            emb = self._fonts[info] = EmbeddedFont(info, f"F{len(self._fonts) + 1}", self._pdf.reserve())
        return emb

    def _line_ops(self, line: Line, k: float, page_h: float,
                  break_before: bool) -> tuple[list[str], EmbeddedFont | None]:
        """Operators of one line's text object (k: points per pixel), and the font it uses; ``break_before``
        starts it with a zero-width glyph standing for a line break."""
        text = line.text.rstrip("\r\n")
        if not text.strip():
            return [], None
        font = self._font_for(text)
        glyphs = font.place(text, self._gate)
        squash = 1.0 if self.visible_text else _squash(line, k)
        x, baseline, size, scale = _fit_line(line.bbox, font, glyphs, k, page_h, squash)
        if not self.visible_text:
            glyphs = merge_clusters(glyphs)
        if break_before:
            glyphs = [PlacedGlyph(font.blank_gid(), LINE_BREAK, 0, 0, 0), *glyphs]
        ops = ["BT", f"/{font.resource_name} {_num(size)} Tf", "0 Tr 1 0 0 rg" if self.visible_text else "3 Tr",
               f"{_num(scale)} Tz", f"1 0 0 {_num(squash)} {_num(x)} {_num(baseline)} Tm"]
        ops += _glyph_run(glyphs, font, size, rise=self.visible_text)
        ops.append("ET")
        return ops, font

    def add_page(self, page: Page, image: Image.Image | None) -> None:
        """Write one page: ``image`` (the page's pixels, ``page.width`` x ``page.height``) and ``page``'s lines;
        with ``image=None`` the page holds the text layer alone (OCRmyPDF grafts such pages onto its own)."""
        if self._closed:
            raise AksarError(f"{self.path}: searchable PDF already closed")
        where = f"{self.path}: page {page.index + 1}"
        if image is not None and image.size != (page.width, page.height):
            raise AksarError(f"{where}: image is {image.size[0]}x{image.size[1]} px, the page is "
                             f"{page.width}x{page.height}")
        dpi = page.dpi or self.default_dpi
        if dpi <= 0:
            raise AksarError(f"{where}: dpi must be positive, got {dpi}")
        k = 72.0 / dpi
        pw, ph = page.width * k, page.height * k
        ops = [] if image is None else ["q", f"{_num(pw)} 0 0 {_num(ph)} 0 0 cm", "/Im0 Do", "Q"]
        used: dict[str, int] = {}
        previous: Line | None = None
        for line in page.lines:
            line_ops, font = self._line_ops(line, k, ph, previous is not None and _same_row(previous, line, k))
            if font is not None:
                ops += line_ops
                used[font.resource_name] = font.object_number
                previous = line
        pdf = self._pdf
        page_obj, content = pdf.reserve(), pdf.reserve()
        xobjects = ""
        if image is not None:
            image_obj = pdf.reserve()
            entries, data, compress = encode_image(image, self.jpeg_quality)
            pdf.put_stream(image_obj, entries, data, compress)
            xobjects = f"/XObject << /Im0 {image_obj} 0 R >> "
        pdf.put_stream(content, "", ("\n".join(ops) + "\n").encode("ascii"))
        fonts = " ".join(f"/{name} {num} 0 R" for name, num in sorted(used.items()))
        pdf.put_object(page_obj, f"<< /Type /Page /Parent {self._pages_obj} 0 R /MediaBox [0 0 {_num(pw)} {_num(ph)}] "
                                 f"/Resources << {xobjects}/Font << {fonts} >> >> /Contents {content} 0 R >>")
        self._page_objs.append(page_obj)
        self.pages_written += 1

    def close(self) -> None:
        """Write the fonts, page tree and cross-references, and move the file into place."""
        if self._closed:
            return
        if not self._page_objs:
            self.abort()
            raise AksarError(f"{self.path}: no pages to write")
        pdf = self._pdf
        for font in self._fonts.values():
            font.write(pdf.reserve, pdf.put_object, pdf.put_stream)
        kids = " ".join(f"{n} 0 R" for n in self._page_objs)
        pdf.put_object(self._pages_obj, f"<< /Type /Pages /Kids [{kids}] /Count {len(self._page_objs)} >>")
        pdf.put_object(self._catalog, f"<< /Type /Catalog /Pages {self._pages_obj} 0 R >>")
        pdf.put_object(self._info, f"<< /Producer ({PRODUCER}) >>")
        pdf.finish(self._catalog, self._info)
        self._closed = True
        self._stack.close()

    def abort(self) -> None:
        """Drop the partial file (``path`` is left as it was)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._stack.__exit__(AksarError, AksarError("aborted"), None)
        except AksarError:
            pass


def document_script(doc: Document) -> str | None:
    """The script of the Document's recognizer (``models["recognizer"]["script"]``), when recorded."""
    rec = doc.models.get("recognizer") if isinstance(doc.models, dict) else None
    script = rec.get("script") if isinstance(rec, dict) else None
    return str(script) if script else None


def write_pdf(doc: Document, images: Iterable[Image.Image], path: str | os.PathLike, **options) -> int:
    """Write ``doc`` over its page ``images`` (one per page, in order) as a searchable PDF; returns pages written.
    ``options`` go to :class:`SearchablePdf` (``script`` defaults to the Document's)."""
    options.setdefault("script", document_script(doc))
    with SearchablePdf(path, **options) as pdf:
        images = iter(images)
        for n, page in enumerate(doc.pages):
            image = next(images, None)
            if image is None:
                raise AksarError(f"{path}: {len(doc.pages)} pages but only {n} images")
            pdf.add_page(page, image)
        return pdf.pages_written


__all__ = ["SearchablePdf", "write_pdf", "encode_image", "document_script", "DEFAULT_DPI", "JPEG_QUALITY"]
