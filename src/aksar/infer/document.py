"""The result of reading pages: ``Document`` -> ``Page`` -> ``Block`` -> ``Line`` -> ``Word`` (docTR's shape).

Geometry is kept twice, as docTR users and page-format writers each need it:

- ``polygon``: points ``[[x, y], ...]`` in the page image's pixels (clockwise from the top-left corner);
- ``geometry`` (derived, in :meth:`Document.to_dict`): the bounding box relative to the page,
  ``[[xmin, ymin], [xmax, ymax]]`` in [0, 1], as docTR exports it.

``Document.to_dict()`` is the JSON that ``aksar ocr --format json`` writes and ``aksar serve`` returns;
``Document.from_dict`` reads it back (a round trip is lossless for every field listed here).
Confidences are in [0, 1]. ``Line.char_confidences`` holds one value per character of ``Line.text``
where the recognizer gives them (greedy decoding), else it is None.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from aksar.core.errors import AksarError

Polygon = list[list[float]]
SCHEMA_VERSION = 1


def bbox(polygon: Polygon) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` of a polygon in pixels."""
    if not polygon:
        raise AksarError("empty polygon")
    xs = [float(p[0]) for p in polygon]
    ys = [float(p[1]) for p in polygon]
    return min(xs), min(ys), max(xs), max(ys)


def box_polygon(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """The 4-point polygon of an axis-aligned box (clockwise from the top-left)."""
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _relative(polygon: Polygon, width: int, height: int) -> list[list[float]]:
    x0, y0, x1, y1 = bbox(polygon)
    w, h = max(width, 1), max(height, 1)
    return [[round(x0 / w, 6), round(y0 / h, 6)], [round(x1 / w, 6), round(y1 / h, 6)]]


def _points(polygon: Any, where: str) -> Polygon:
    try:
        pts = [[float(p[0]), float(p[1])] for p in polygon]
    except (TypeError, ValueError, IndexError):
        raise AksarError(f"{where}: polygon: expected a list of [x, y] points") from None
    if len(pts) < 3:
        raise AksarError(f"{where}: polygon: expected at least 3 points, got {len(pts)}")
    return pts


@dataclass
class Word:
    """A run of text between spaces in a line, with its (estimated or measured) box."""

    value: str
    confidence: float
    polygon: Polygon

    def to_dict(self, width: int, height: int) -> dict[str, Any]:
        return {"value": self.value, "confidence": round(float(self.confidence), 6), "polygon": self.polygon,
                "geometry": _relative(self.polygon, width, height)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> "Word":
        return cls(value=str(d.get("value", "")), confidence=float(d.get("confidence", 0.0)),
                   polygon=_points(d.get("polygon"), where))


@dataclass
class Line:
    """One text line: its polygon on the page, the recognised text and confidences."""

    polygon: Polygon
    text: str
    confidence: float                      # recognition confidence of the whole line
    det_score: float = 1.0                 # the detector's score for the polygon
    words: list[Word] = field(default_factory=list)
    char_confidences: list[float] | None = None
    repaired: bool = False                 # the decoded text needed an orthography repair

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return bbox(self.polygon)

    def to_dict(self, width: int, height: int) -> dict[str, Any]:
        return {"text": self.text, "confidence": round(float(self.confidence), 6),
                "det_score": round(float(self.det_score), 6), "polygon": self.polygon,
                "geometry": _relative(self.polygon, width, height),
                "words": [w.to_dict(width, height) for w in self.words],
                "char_confidences": None if self.char_confidences is None
                else [round(float(c), 6) for c in self.char_confidences],
                "repaired": self.repaired}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> "Line":
        cc = d.get("char_confidences")
        return cls(polygon=_points(d.get("polygon"), where), text=str(d.get("text", "")),
                   confidence=float(d.get("confidence", 0.0)), det_score=float(d.get("det_score", 1.0)),
                   words=[Word.from_dict(w, f"{where}.words[{i}]") for i, w in enumerate(d.get("words") or [])],
                   char_confidences=None if cc is None else [float(c) for c in cc],
                   repaired=bool(d.get("repaired", False)))


@dataclass
class Block:
    """Lines read together (a column's paragraph), in reading order."""

    polygon: Polygon
    lines: list[Line] = field(default_factory=list)

    def to_dict(self, width: int, height: int) -> dict[str, Any]:
        return {"polygon": self.polygon, "geometry": _relative(self.polygon, width, height),
                "lines": [ln.to_dict(width, height) for ln in self.lines]}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> "Block":
        return cls(polygon=_points(d.get("polygon"), where),
                   lines=[Line.from_dict(ln, f"{where}.lines[{i}]") for i, ln in enumerate(d.get("lines") or [])])

    @classmethod
    def around(cls, lines: list[Line]) -> "Block":
        """A block whose polygon is the bounding box of ``lines``."""
        boxes = [ln.bbox for ln in lines]
        return cls(box_polygon(min(b[0] for b in boxes), min(b[1] for b in boxes),
                               max(b[2] for b in boxes), max(b[3] for b in boxes)), list(lines))


@dataclass
class Page:
    """One page image: where it came from, its size in pixels, and its blocks in reading order."""

    index: int                    # position in the Document
    width: int
    height: int
    source: str = ""              # the input file (or "" for an in-memory image)
    source_page: int = 0          # page number inside a PDF or multi-page TIFF (0-based)
    dpi: float | None = None      # resolution of the page image, when known (PDF rasterization, TIFF tags)
    blocks: list[Block] = field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        """Every line of the page in reading order."""
        return [ln for b in self.blocks for ln in b.lines]

    def text(self) -> str:
        """Lines joined by newlines, blocks separated by a blank line."""
        return "\n\n".join("\n".join(ln.text for ln in b.lines) for b in self.blocks if b.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"page_idx": self.index, "dimensions": [self.height, self.width], "source": self.source,
                "source_page": self.source_page, "dpi": self.dpi,
                "blocks": [b.to_dict(self.width, self.height) for b in self.blocks]}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> "Page":
        try:
            height, width = (int(v) for v in d["dimensions"])
        except (KeyError, TypeError, ValueError):
            raise AksarError(f"{where}: dimensions: expected [height, width]") from None
        dpi = d.get("dpi")
        return cls(index=int(d.get("page_idx", 0)), width=width, height=height, source=str(d.get("source", "")),
                   source_page=int(d.get("source_page", 0)), dpi=None if dpi is None else float(dpi),
                   blocks=[Block.from_dict(b, f"{where}.blocks[{i}]") for i, b in enumerate(d.get("blocks") or [])])


@dataclass
class Document:
    """Pages read by a :class:`aksar.infer.reader.Reader`, with the models that read them."""

    pages: list[Page] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)  # {"detector": {...}, "recognizer": {...}}

    def lines(self) -> Iterator[Line]:
        for page in self.pages:
            yield from page.lines

    def text(self) -> str:
        """Pages' text separated by form feeds (as Tesseract's txt output)."""
        return "\f".join(p.text() for p in self.pages)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "models": self.models, "pages": [p.to_dict() for p in self.pages]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Document":
        if not isinstance(d, dict) or not isinstance(d.get("pages"), list):
            raise AksarError("document JSON: expected an object with a 'pages' list")
        return cls(pages=[Page.from_dict(p, f"pages[{i}]") for i, p in enumerate(d["pages"])],
                   models=dict(d.get("models") or {}))


__all__ = ["Document", "Page", "Block", "Line", "Word", "Polygon", "bbox", "box_polygon", "SCHEMA_VERSION"]
