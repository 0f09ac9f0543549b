"""Text-line detection data: readers (and writers) of PaddleOCR detection lists, PAGE-XML and ICDAR files.

Every reader yields ``DetSample(image, regions)``, a region being ``DetRegion(polygon, text, ignore)``
with ``polygon`` a float Nx2 array of (x, y) image pixels and ``ignore`` true for don't-care regions
(``###``; PaddleOCR also ``*``). A bad line raises AksarError naming ``file:line``; with an ``errors``
list the message is appended there instead and the line (or file) is skipped.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from xml.etree import ElementTree as ET

import numpy as np

from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_text

IGNORE_TEXTS = ("###", "*")
PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
# PAGE-XML's Created/LastChange are required; a fixed value keeps written files byte-identical per seed.
PAGE_TIMESTAMP = "2000-01-01T00:00:00"
PAGE_REGION_TYPES = {"paragraph": "paragraph", "heading": "heading", "caption": "caption",
                     "page_number": "page-number", "list": "paragraph", "mixed": "paragraph", "table": "other"}


@dataclass
class DetRegion:
    polygon: np.ndarray          # float64 Nx2 (x, y)
    text: str = ""
    ignore: bool = False


@dataclass
class DetSample:
    image: str                   # path of the image (as resolved by the reader)
    regions: list[DetRegion] = field(default_factory=list)


def _polygon(values: Iterable, where: str) -> np.ndarray:
    try:
        pts = np.asarray([[float(x), float(y)] for x, y in values], dtype=np.float64)
    except (TypeError, ValueError):
        raise AksarError(f"{where}: points must be [x, y] number pairs") from None
    if len(pts) < 3 or not np.isfinite(pts).all():
        raise AksarError(f"{where}: a polygon needs at least 3 finite points, got {len(pts)}")
    return pts


def _fail(msg: str, errors: list[str] | None) -> None:
    if errors is None:
        raise AksarError(msg)
    errors.append(msg)


# ------------------------------------------------------------------ PaddleOCR detection lists

def read_paddle_det(path: str | Path, root: str | Path | None = None,
                    errors: list[str] | None = None) -> list[DetSample]:
    """``IMAGE<TAB>[{"transcription": ..., "points": [[x, y], ...]}, ...]`` per line; images resolved
    against ``root`` (default: the list's folder)."""
    path = Path(path)
    base = Path(root) if root is not None else path.parent
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AksarError(f"{path}: cannot read detection list ({exc})") from None
    samples = []
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{no}"
        try:
            name, _, data = line.partition("\t")
            if not data:
                raise AksarError(f"{where}: expected IMAGE<TAB>JSON list")
            try:
                items = json.loads(data)
            except json.JSONDecodeError as exc:
                raise AksarError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(items, list):
                raise AksarError(f"{where}: expected a JSON list of regions")
            regions = []
            for item in items:
                if not isinstance(item, dict) or "points" not in item:
                    raise AksarError(f"{where}: each region needs 'points' (and 'transcription')")
                t = str(item.get("transcription", ""))
                regions.append(DetRegion(_polygon(item["points"], where), t, t in IGNORE_TEXTS))
            samples.append(DetSample(str(base / name), regions))
        except AksarError as exc:
            _fail(str(exc), errors)
    return samples


def paddle_det_line(image: str, regions: Iterable[DetRegion]) -> str:
    """One line of a PaddleOCR detection list (no newline)."""
    items = [{"transcription": "###" if r.ignore else r.text, "points": _json_points(r.polygon)} for r in regions]
    return f"{image}\t{json.dumps(items, ensure_ascii=False)}"


def _json_points(poly) -> list[list[float]]:
    return [[int(v) if float(v).is_integer() else round(float(v), 1) for v in pt] for pt in np.asarray(poly)]


def write_paddle_det(path: str | Path, samples: Iterable[DetSample]) -> None:
    atomic_write_text(path, "".join(paddle_det_line(s.image, s.regions) + "\n" for s in samples))


# ------------------------------------------------------------------ ICDAR 2015 style

_NUM = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def read_icdar(gt_path: str | Path, image: str | Path = "", errors: list[str] | None = None) -> DetSample:
    """``x1,y1,x2,y2,x3,y3,x4,y4,text`` per line (UTF-8 with or without BOM; text may hold commas;
    ``###`` = don't care)."""
    gt_path = Path(gt_path)
    try:
        text = gt_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AksarError(f"{gt_path}: cannot read ICDAR ground truth ({exc})") from None
    sample = DetSample(str(image))
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < 8 or not all(_NUM.match(p) for p in parts[:8]):
            _fail(f"{gt_path}:{no}: expected x1,y1,...,x4,y4[,text]", errors)
            continue
        xy = [float(p) for p in parts[:8]]
        t = ",".join(parts[8:]).strip()
        sample.regions.append(DetRegion(np.asarray(xy, np.float64).reshape(4, 2), t, t == "###"))
    return sample


def read_icdar_dir(gt_dir: str | Path, image_dir: str | Path, errors: list[str] | None = None) -> list[DetSample]:
    """Every ``gt_NAME.txt`` of ``gt_dir`` with its image ``NAME.{jpg,png,...}`` from ``image_dir``."""
    out = []
    for gt in sorted(Path(gt_dir).glob("*.txt")):
        name = gt.stem[3:] if gt.stem.startswith("gt_") else gt.stem
        images = sorted(p for p in Path(image_dir).glob(f"{name}.*") if p.suffix.lower() in
                        (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"))
        if not images:
            _fail(f"{gt}: no image {name}.* in {image_dir}", errors)
            continue
        out.append(read_icdar(gt, images[0], errors))
    return out


# ------------------------------------------------------------------ PAGE-XML

def _coords(el: ET.Element, ns: str, where: str) -> np.ndarray:
    coords = el.find(f"{ns}Coords")
    if coords is None:
        raise AksarError(f"{where}: {el.get('id', '?')} has no Coords")
    if coords.get("points"):
        try:
            pairs = [p.split(",") for p in coords.get("points", "").split()]
        except ValueError:
            pairs = []
        return _polygon(pairs, f"{where}: Coords of {el.get('id', '?')}")
    return _polygon([(p.get("x"), p.get("y")) for p in coords.findall(f"{ns}Point")],
                    f"{where}: Coords of {el.get('id', '?')}")  # PAGE 2009/2010: Point children


_LINE_INDEX = re.compile(r"readingOrder\s*\{[^}]*index\s*:\s*(\d+)")
_ORDER_TAGS = {"OrderedGroup", "UnorderedGroup", "OrderedGroupIndexed", "UnorderedGroupIndexed",
               "RegionRef", "RegionRefIndexed"}


def _region_order(page: ET.Element, ns: str) -> dict[str, int]:
    """Region id -> its position in the page's ``ReadingOrder`` (groups flattened: indexed children by
    ``@index``, unordered ones in document order; a group's own ``regionRef`` before its children)."""
    order: dict[str, int] = {}

    def walk(group: ET.Element) -> None:
        ref = group.get("regionRef")
        if ref and ref not in order:
            order[ref] = len(order)
        children = [c for c in group if c.tag.startswith(ns) and c.tag[len(ns):] in _ORDER_TAGS]
        if any(c.get("index") is not None for c in children):
            children.sort(key=lambda c: int(c.get("index", "0")) if (c.get("index") or "").isdigit() else 0)
        for child in children:
            walk(child)

    ro = page.find(f"{ns}ReadingOrder")
    for group in (ro if ro is not None else []):
        walk(group)
    return order


def _lines_in_reading_order(page: ET.Element, ns: str) -> list[ET.Element]:
    """The TextLines of ``page``: regions by the ReadingOrder (regions it does not name after their enclosing
    region, or after every named one, in document order), lines of a region by their
    ``custom="readingOrder {index:N;}"`` where every line has one, else in document order."""
    order = _region_order(page, ns)
    regions: list[tuple[float, int, ET.Element]] = []

    def walk(el: ET.Element, inherited: float) -> None:
        for child in el:
            if child.tag.startswith(ns) and child.tag.endswith("Region"):
                key = float(order[child.get("id", "")]) if child.get("id", "") in order else inherited
                regions.append((key, len(regions), child))
                walk(child, key)

    walk(page, float("inf"))
    lines: list[ET.Element] = []
    for _, _, region in sorted(regions, key=lambda t: (t[0], t[1])):
        own = region.findall(f"{ns}TextLine")
        found = [_LINE_INDEX.search(ln.get("custom", "")) for ln in own]
        if own and all(found):
            own = [ln for _, ln in sorted(zip((int(m.group(1)) for m in found), own), key=lambda t: t[0])]
        lines.extend(own)
    return lines


def read_page_xml(path: str | Path, errors: list[str] | None = None) -> DetSample:
    """The text lines of a PAGE-XML file (any schema version) in reading order (``ReadingOrder`` over the
    regions, ``readingOrder {index:N;}`` inside one; document order where these are missing); the image
    path is ``Page/@imageFilename`` resolved against the file's folder."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise AksarError(f"{path}: not readable PAGE-XML ({exc})") from None
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    page = root.find(f"{ns}Page")
    if root.tag != f"{ns}PcGts" or page is None:
        raise AksarError(f"{path}: not PAGE-XML (expected PcGts/Page, got {root.tag})")
    sample = DetSample(str(path.parent / page.get("imageFilename", "")))
    for line in _lines_in_reading_order(page, ns):
        try:
            poly = _coords(line, ns, str(path))
        except AksarError as exc:
            _fail(str(exc), errors)
            continue
        uni = line.find(f"{ns}TextEquiv/{ns}Unicode")
        text = uni.text or "" if uni is not None else ""
        sample.regions.append(DetRegion(poly, text, text in IGNORE_TEXTS))
    return sample


_XML_FORBIDDEN = re.compile(r"[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def xml_text(text: str) -> tuple[str, int]:
    """``text`` without the characters XML 1.0 cannot hold (C0 controls but tab/newline/CR, lone surrogates,
    U+FFFE/U+FFFF), and how many were dropped. Everything else (Khmer, Thai, ``&``, ``<``) passes unchanged:
    ElementTree escapes markup characters itself."""
    return _XML_FORBIDDEN.subn("", text)


def pixel_points(poly, width: int | None = None, height: int | None = None) -> list[tuple[int, int]]:
    """A polygon's points as whole pixels, clipped to ``[0, width] x [0, height]`` (to 0 only when the size is
    not given). Rounding is monotone, so the bounding box of these points is the rounded bounding box."""
    w = float("inf") if width is None else width
    h = float("inf") if height is None else height
    return [(int(min(max(0, round(x)), w)), int(min(max(0, round(y)), h))) for x, y in np.asarray(poly, float)]


def _points_attr(poly, width: int | None, height: int | None) -> str:
    return " ".join(f"{x},{y}" for x, y in pixel_points(poly, width, height))


@dataclass
class PageWord:
    """A word of a PAGE-XML text line (``conf`` in [0, 1], or None)."""

    text: str
    polygon: object
    conf: float | None = None


@dataclass
class PageLine:
    """A PAGE-XML text line: its text, polygon, confidence (or None) and words (may be empty)."""

    text: str
    polygon: object
    conf: float | None = None
    words: list[PageWord] = field(default_factory=list)


@dataclass
class PageRegion:
    """A PAGE-XML text region: ``kind`` (a layout kind of ``PAGE_REGION_TYPES``), polygon, lines in order."""

    kind: str
    polygon: object
    lines: list[PageLine] = field(default_factory=list)


def unit_confidence(value: float) -> float:
    """A confidence as the XML formats hold it: in [0, 1] (NaN -> 0)."""
    v = float(value)
    return min(max(v, 0.0), 1.0) if math.isfinite(v) else 0.0


def _text_equiv(parent: ET.Element, text: str, conf: float | None, dropped: list[int]) -> None:
    clean, n = xml_text(text)
    dropped[0] += n
    equiv = ET.SubElement(parent, "TextEquiv")
    if conf is not None:
        equiv.set("conf", f"{unit_confidence(conf):.4f}")
    ET.SubElement(equiv, "Unicode").text = clean


def page_xml(image: str, width: int, height: int, regions: list[PageRegion], creator: str = "aksar",
             created: str = PAGE_TIMESTAMP, comments: str = "", dpi: float | None = None,
             dropped: list[int] | None = None) -> str:
    """PAGE-XML 2019 of one page (ground truth and OCR output alike): ``regions`` in reading order (a
    ReadingOrder over the regions; lines in order inside each region, words inside lines). Points are whole
    pixels clipped to the page. Characters XML cannot hold are dropped and counted in ``dropped[0]``."""
    dropped = [0] if dropped is None else dropped
    root = ET.Element("PcGts", xmlns=PAGE_NS)
    meta = ET.SubElement(root, "Metadata")
    ET.SubElement(meta, "Creator").text = xml_text(creator)[0]
    ET.SubElement(meta, "Created").text = created
    ET.SubElement(meta, "LastChange").text = created
    if comments:
        ET.SubElement(meta, "Comments").text = xml_text(comments)[0]
    page = ET.SubElement(root, "Page", imageFilename=xml_text(image)[0], imageWidth=str(width),
                         imageHeight=str(height))
    if dpi:
        page.attrib.update(imageXResolution=f"{dpi:g}", imageYResolution=f"{dpi:g}", imageResolutionUnit="PPI")
    order = ET.SubElement(ET.SubElement(page, "ReadingOrder"), "OrderedGroup", id="ro")
    for r in range(len(regions)):
        ET.SubElement(order, "RegionRefIndexed", index=str(r), regionRef=f"r{r}")
    for r, region in enumerate(regions):
        reg = ET.SubElement(page, "TextRegion", id=f"r{r}", type=PAGE_REGION_TYPES.get(region.kind, "other"),
                            custom=f"structure {{type:{region.kind};}}")
        ET.SubElement(reg, "Coords", points=_points_attr(region.polygon, width, height))
        for k, line in enumerate(region.lines):
            tl = ET.SubElement(reg, "TextLine", id=f"r{r}l{k}", custom=f"readingOrder {{index:{k};}}")
            ET.SubElement(tl, "Coords", points=_points_attr(line.polygon, width, height))
            for j, word in enumerate(line.words):
                we = ET.SubElement(tl, "Word", id=f"r{r}l{k}w{j}")
                ET.SubElement(we, "Coords", points=_points_attr(word.polygon, width, height))
                _text_equiv(we, word.text, word.conf, dropped)
            _text_equiv(tl, line.text, line.conf, dropped)
        _text_equiv(reg, "\n".join(line.text for line in region.lines), None, [0])
    return xml_document(root)


def xml_document(root: ET.Element, short_empty_elements: bool = True) -> str:
    """``root`` as an indented UTF-8 XML document. Writers give the root its default namespace as a plain
    ``xmlns`` attribute and use unqualified names (ElementTree's namespace registry is global, not
    thread-safe, and its ``default_namespace`` refuses unqualified attributes). XHTML read by HTML
    parsers needs ``short_empty_elements=False`` (``<span/>`` opens a span there)."""
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode", short_empty_elements=short_empty_elements) + "\n")


__all__ = ["DetRegion", "DetSample", "read_paddle_det", "write_paddle_det", "paddle_det_line", "read_icdar",
           "read_icdar_dir", "read_page_xml", "page_xml", "PageRegion", "PageLine", "PageWord", "xml_text",
           "xml_document", "unit_confidence", "pixel_points", "IGNORE_TEXTS", "PAGE_NS"]
