"""Reading order of text lines on a page: columns left to right, top to bottom inside a column.

:func:`order_boxes` is a recursive XY-cut over line boxes ``(x0, y0, x1, y1)``:

1. cut the boxes into horizontal bands at the gaps of their vertical projection (each box's extent
   shrunk by ``SHRINK`` of its height at both ends, so that lines touching by a few pixels of
   stacked marks still separate; gutters likewise ignore ``X_SHRINK`` of a height at each end);
2. join consecutive bands into *sections* as long as the joined boxes still share a vertical gap
   (a gutter): a heading that spans the columns has no gutter, so it closes the section above it
   and is read before the columns below it; a band that would only add a column of its own beside the
   section's columns (a page number in the gutter) starts a new section too;
3. a section with a gutter is cut at its gutters into columns, read left to right, each ordered by
   the same rules; a section without one is read top to bottom (boxes of one row left to right).

Ruled tables are read row by row, not column by column: given the page's horizontal rules ``(x0, x1, y)``
(:mod:`aksar.infer.page_rules`), :func:`find_tables` takes three or more rules of about one span, one
under the other, with one gap between them no taller than ``TABLE_HEADER`` line heights (a header row's
rule) and none taller than ``TABLE_MAX_GAP``, as a table. Its lines are ordered as one unit among the
others (its box), and inside it row by row (cut at the rules and at the gaps between lines), each row's cells
left to right.

:func:`group_blocks` then cuts the ordered lines into blocks: a new block starts where a line does not
continue the previous one (no horizontal overlap, a vertical gap above ``BLOCK_GAP`` line heights, or a
height change above ``SIZE_CHANGE``: another font size, as a heading's).
On a skewed page both work on :func:`upright_boxes`: the line boxes with the page's skew turned back.
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator, Sequence

import numpy as np

Box = tuple[float, float, float, float]
SHRINK = 0.15      # share of a box's height ignored at its top and bottom for the vertical projection
X_SHRINK = 0.3     # share of a box's height ignored at its left and right ends for the horizontal projection
BLOCK_GAP = 1.2    # a gap above this many line heights starts a new block
SIZE_CHANGE = 1.3  # a line this much taller or shorter than the previous one starts a block (a heading)
ROW_TOLERANCE = 0.5  # boxes whose tops differ by less than this share of their height are one row
GUTTER_REACH = 6.0   # a box's neighbours for gutters: lines within this many of its heights above or below
GUTTER_MIN = 0.5     # a gutter is at least this share of the box's height wide
Rule = tuple[float, float, float]  # a horizontal rule: x0, x1, y
TABLE_SPAN = 0.8     # rules of one table overlap by this share of the shorter one's length, at least
TABLE_HEADER = 2.5   # a table has a gap between rules this many line heights tall at most (a header row) ...
TABLE_MAX_GAP = 30.0  # ... and no gap taller than this
ROW_PIECE_GAP = 5.0    # pieces of one line: at most this many line heights apart, ...
ROW_PIECE_REACH = 1.0  # ... with a line across the gap whose centre is within 1 + this many heights above or below
SPECK = 0.5  # a box under this share of the page's median line height, and no wider than one, is a speck


def median_height(boxes: Sequence[Box]) -> float:
    """The page's line height: the median height of its boxes (0 for none)."""
    return float(np.median([b[3] - b[1] for b in boxes])) if boxes else 0.0


def _one_row(a: Box, b: Box, share: float = 0.6) -> bool:
    """The y-ranges of the two boxes overlap by at least ``share`` of the taller one."""
    return min(a[3], b[3]) - max(a[1], b[1]) >= share * max(1.0, a[3] - a[1], b[3] - b[1])


def _same_size(a: Box, b: Box) -> bool:
    """The two lines are of about one height: the taller at most ``SIZE_CHANGE`` times the shorter."""
    ha, hb = max(1.0, a[3] - a[1]), max(1.0, b[3] - b[1])
    return max(ha, hb) <= SIZE_CHANGE * min(ha, hb)


def _gaps(intervals: list[tuple[float, float]], min_gap: float = 0.0) -> list[float]:
    """Cut positions: the middles of the gaps (wider than ``min_gap``) in the union of ``intervals``."""
    cuts = []
    spans = sorted(intervals)
    end = spans[0][1]
    for lo, hi in spans[1:]:
        if lo - end > min_gap:
            cuts.append((lo + end) / 2)
        end = max(end, hi)
    return cuts


def _y_span(b: Box) -> tuple[float, float]:
    h = b[3] - b[1]
    return b[1] + SHRINK * h, b[3] - SHRINK * h


def _split(idx: list[int], boxes: Sequence[Box], cuts: list[float], key) -> list[list[int]]:
    parts: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in idx:
        centre = key(boxes[i])
        parts[sum(centre > c for c in cuts)].append(i)
    return [p for p in parts if p]


def _x_span(b: Box) -> tuple[float, float]:
    """A box's horizontal extent without ``X_SHRINK`` of its height at both ends (detector boxes are grown
    around the ink, so columns set close together can touch by a few pixels)."""
    pad = min(X_SHRINK * (b[3] - b[1]), 0.25 * (b[2] - b[0]))
    return b[0] + pad, b[2] - pad


def _columns(idx: list[int], boxes: Sequence[Box]) -> list[list[int]]:
    cuts = _gaps([_x_span(boxes[i]) for i in idx])
    return _split(idx, boxes, cuts, lambda b: (b[0] + b[2]) / 2)


def _rows(idx: list[int], boxes: Sequence[Box]) -> list[int]:
    """Top to bottom; boxes of one row (tops within ROW_TOLERANCE of a height) left to right."""
    out = sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0]))
    for k in range(1, len(out)):  # insertion pass, as PaddleOCR's sorted_boxes
        j = k
        while j > 0:
            a, b = boxes[out[j - 1]], boxes[out[j]]
            same_row = abs(a[1] - b[1]) < ROW_TOLERANCE * min(a[3] - a[1], b[3] - b[1])
            if not (same_row and b[0] < a[0]):
                break
            out[j - 1], out[j] = out[j], out[j - 1]
            j -= 1
    return out


def _continues_columns(section: list[int], band: list[int], boxes: Sequence[Box]) -> bool:
    """``band`` goes on the columns of ``section``: together they keep a gutter, and the band opens no column
    of its own beside columns the section already has (a page number in the gutter below the columns)."""
    columns = _columns(section + band, boxes)
    if len(columns) == 1:
        return False
    inside = set(section)
    with_section = sum(1 for col in columns if inside.intersection(col))
    return with_section == len(columns) or with_section == 1


def _order(idx: list[int], boxes: Sequence[Box], depth: int) -> list[int]:
    if len(idx) <= 1 or depth > 50:
        return _rows(idx, boxes)
    cuts = _gaps([_y_span(boxes[i]) for i in idx])
    bands = _split(idx, boxes, cuts, lambda b: sum(_y_span(b)) / 2)
    sections: list[list[int]] = [bands[0]]
    for band in bands[1:]:
        if _continues_columns(sections[-1], band, boxes):
            sections[-1] = sections[-1] + band
        else:
            sections.append(band)
    out: list[int] = []
    for section in sections:
        columns = _columns(section, boxes)
        if len(columns) == 1:
            out.extend(_rows(section, boxes))
        else:
            for col in columns:
                out.extend(_order(col, boxes, depth + 1))
    return out


def page_skew(quads: Sequence[np.ndarray]) -> float:
    """The median angle (radians) of the lines' reading directions (quads: reading-order corners);
    lines turned by more than 45 degrees do not count."""
    angles = []
    for q in quads:
        dx, dy = float(q[1][0] - q[0][0]), float(q[1][1] - q[0][1])
        if abs(dx) >= abs(dy) and dx != 0:
            angles.append(math.atan2(dy, dx))
    return float(np.median(angles)) if angles else 0.0


def upright_boxes(quads: Sequence[np.ndarray], angle: float | None = None) -> list[Box]:
    """Axis-aligned boxes of line quads after turning the page back by ``angle`` (default: its skew,
    :func:`page_skew`), so that the columns of a slightly rotated page keep their gutters."""
    angle = page_skew(quads) if angle is None else angle
    c, s = math.cos(-angle), math.sin(-angle)
    rot = np.array([[c, -s], [s, c]])
    boxes = []
    for q in quads:
        pts = np.asarray(q, np.float64) @ rot.T
        boxes.append((float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())))
    return boxes


def upright_rules(segments: Sequence[tuple[float, float, float, float]], angle: float) -> list[Rule]:
    """Rules as segments ``(x0, y0, x1, y1)`` turned back by ``angle`` like :func:`upright_boxes` turns the
    lines: ``(x0, x1, mean y)`` each."""
    boxes = upright_boxes([np.array([[x0, y0], [x1, y1]], np.float64) for x0, y0, x1, y1 in segments], angle)
    return [(b[0], b[2], (b[1] + b[3]) / 2) for b in boxes]


def gutter_cuts(boxes: Sequence[Box]) -> dict[int, list[tuple[float, float]]]:
    """The boxes that run across a column gutter (``boxes`` upright): {index: the (x0, x1) of each gutter it
    crosses}. A gutter of a box is an x-gap at least ``GUTTER_MIN`` of its height wide, inside it (a line
    height from its ends), between the narrower lines within ``GUTTER_REACH`` line heights above and below,
    with two of them on each side (two lines of two columns that the detector joined into one box)."""
    out: dict[int, list[tuple[float, float]]] = {}
    for i, b in enumerate(boxes):
        h = b[3] - b[1]
        near = [o for j, o in enumerate(boxes) if j != i and o[2] - o[0] < b[2] - b[0]
                and abs((o[1] + o[3]) - (b[1] + b[3])) / 2 <= GUTTER_REACH * h]
        if len(near) < 4:
            continue
        spans = sorted((o[0], o[2]) for o in near)
        cuts, end = [], spans[0][1]
        for lo, hi in spans[1:]:
            if lo - end >= GUTTER_MIN * h and b[0] + h <= end and lo <= b[2] - h \
                    and sum(o[2] <= end for o in near) >= 2 and sum(o[0] >= lo for o in near) >= 2:
                cuts.append((end, lo))
            end = max(end, hi)
        if cuts:
            out[i] = cuts
    return out


def _groups(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The connected groups of ``range(n)`` under ``pairs``, in the order of their first member; every index
    is in exactly one group."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def split_line_groups(boxes: Sequence[Box], min_vertical: float = 0.6) -> list[list[int]]:
    """Groups of ``boxes`` (upright, see :func:`upright_boxes`) that are pieces of one text line the detector
    split with overlapping boxes: two boxes join when their x-ranges overlap and their y-ranges overlap by at
    least ``min_vertical`` of the taller one (so the same characters are never read twice at the seam; a box
    spanning two lines, or a mark's fragment, joins nothing).
    Groups come in the order of their first box; every box is in exactly one group."""
    def pieces() -> Iterator[tuple[int, int]]:
        for i, a in enumerate(boxes):
            for j in range(i + 1, len(boxes)):
                if min(a[2], boxes[j][2]) > max(a[0], boxes[j][0]) and _one_row(a, boxes[j], min_vertical):
                    yield i, j

    return _groups(len(boxes), pieces())


def row_piece_groups(boxes: Sequence[Box], rules: Sequence[Rule] = (), max_gap: float = ROW_PIECE_GAP,
                     reach: float = ROW_PIECE_REACH) -> list[list[int]]:
    """Groups of ``boxes`` (upright) that are pieces of one text line the detector cut at a wide word space
    (justified text): two boxes of one row (y-ranges overlapping by 0.6 of the taller, heights within
    ``SIZE_CHANGE``), next to each other, join when the gap between them is at most ``max_gap`` of their height
    and a line of about their height, its centre within 1 + ``reach`` heights above or below, runs across the
    whole gap, which a column gutter never has, and no horizontal rule (``rules``, same frame) lies between them
    (a table's caption or text above its rule never joins its cells). Left apart, such pieces of a few lines in
    a row look like two columns to the XY-cut, and a paragraph is read column by column. Groups come in the
    order of their first box."""
    def pieces() -> Iterator[tuple[int, int]]:
        for i, a in enumerate(boxes):
            right = [j for j, b in enumerate(boxes)
                     if j != i and b[0] >= a[2] and _same_size(a, b) and _one_row(a, b)]
            if not right:
                continue
            j = min(right, key=lambda k: boxes[k][0])  # the next box to the right in the row
            b = boxes[j]
            if b[0] - a[2] <= max_gap * max(a[3] - a[1], b[3] - b[1]) and any(
                    k not in (i, j) and _bridges(o, a, b, rules, reach) for k, o in enumerate(boxes)):
                yield i, j

    return _groups(len(boxes), pieces())


def _bridges(line: Box, a: Box, b: Box, rules: Sequence[Rule], reach: float) -> bool:
    """``line``, of about the height of ``a`` and its right neighbour ``b`` in their row, runs across the whole
    gap between them, its centre 0.5 to 1 + ``reach`` of their height above or below theirs, with no rule
    of ``rules`` across the gap between the two centres."""
    h = max(a[3] - a[1], b[3] - b[1])
    lo, hi = a[2], b[0]
    centre, mid = (a[1] + a[3] + b[1] + b[3]) / 4, (line[1] + line[3]) / 2
    return (line[0] <= lo and line[2] >= hi and _same_size(line, a)
            and 0.5 * h <= abs(mid - centre) <= (1.0 + reach) * h
            and not any(rx0 <= lo and rx1 >= hi and min(centre, mid) < ry < max(centre, mid)
                        for rx0, rx1, ry in rules))


def order_boxes(boxes: Sequence[Box], rules: Sequence[Rule] = ()) -> list[int]:
    """Indices of ``boxes`` (x0, y0, x1, y1) in reading order (see the module doc); ``rules``: the page's
    horizontal rules in the same frame, for tables. Specks (a mark alone, a blot read as a dash) take no
    part in the layout: each is read next to the line nearest to it (:func:`_place_specks`)."""
    if not boxes:
        return []
    specks = _specks(boxes)
    if not specks or len(specks) == len(boxes):
        return _order_layout(boxes, rules)
    rest = [i for i in range(len(boxes)) if i not in set(specks)]
    order = [rest[k] for k in _order_layout([boxes[i] for i in rest], rules)]
    return _place_specks(order, specks, boxes)


def _place_specks(order: list[int], specks: list[int], boxes: Sequence[Box]) -> list[int]:
    """``order`` with each speck put beside its nearest box: before it when the speck lies left of it in its
    row (a bullet, a blot at the line's start), else after it."""
    out = list(order)
    for s in specks:
        sx0, sy0, sx1, sy1 = boxes[s]

        def dist(i: int) -> float:
            x0, y0, x1, y1 = boxes[i]
            return math.hypot(max(x0 - sx1, sx0 - x1, 0.0), max(y0 - sy1, sy0 - y1, 0.0))

        near = min(order, key=dist)
        out.insert(out.index(near) + (0 if _leads(boxes[s], boxes[near]) else 1), s)
    return out


def _specks(boxes: Sequence[Box]) -> list[int]:
    """Positions of the specks among ``boxes``: under ``SPECK`` of the median line height, no wider than it."""
    line_h = median_height(boxes)
    return [i for i, b in enumerate(boxes) if b[3] - b[1] < SPECK * line_h and b[2] - b[0] < line_h]


def _leads(speck: Box, box: Box) -> bool:
    """``speck`` lies left of ``box`` in its row (a bullet, a blot at the line's start)."""
    return box[1] <= (speck[1] + speck[3]) / 2 <= box[3] and speck[2] <= (box[0] + box[2]) / 2


def _order_layout(boxes: Sequence[Box], rules: Sequence[Rule]) -> list[int]:
    tables = find_tables(boxes, rules)
    inside = {i for members, _ in tables for i in members}
    units = [i for i in range(len(boxes)) if i not in inside]
    unit_boxes = [boxes[i] for i in units] + [_bounds([boxes[i] for i in members]) for members, _ in tables]
    out: list[int] = []
    for u in _order(list(range(len(unit_boxes))), unit_boxes, 0):
        if u < len(units):
            out.append(units[u])
        else:
            members, cuts = tables[u - len(units)]
            out.extend(_table_order(members, boxes, cuts))
    return out


def _bounds(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def find_tables(boxes: Sequence[Box], rules: Sequence[Rule]) -> list[tuple[list[int], list[float]]]:
    """The ruled tables among ``boxes``: (indices of the boxes inside, the y of its rules) for each; a box is
    inside when its centre lies between a table's first and last rule and within their span."""
    if len(rules) < 3 or not boxes:
        return []
    line_h = median_height(boxes)
    groups: list[list[Rule]] = []
    for rule in sorted(rules, key=lambda r: r[2]):
        for group in groups:
            last = group[-1]
            overlap = min(last[1], rule[1]) - max(last[0], rule[0])
            if overlap >= TABLE_SPAN * min(last[1] - last[0], rule[1] - rule[0]) \
                    and rule[2] - last[2] <= TABLE_MAX_GAP * line_h:
                group.append(rule)
                break
        else:
            groups.append([rule])
    tables: list[tuple[list[int], list[float]]] = []
    taken: set[int] = set()
    for group in groups:
        ys = [r[2] for r in group]
        gaps = np.diff(ys)
        if len(group) < 3 or gaps.min() > TABLE_HEADER * line_h:
            continue
        x0, x1 = min(r[0] for r in group), max(r[1] for r in group)
        members = [i for i, b in enumerate(boxes) if i not in taken and ys[0] < (b[1] + b[3]) / 2 < ys[-1]
                   and x0 <= (b[0] + b[2]) / 2 <= x1]
        if members:
            taken.update(members)
            tables.append((members, ys))
    return tables


def _table_order(members: list[int], boxes: Sequence[Box], cuts: Sequence[float]) -> list[int]:
    """A table's boxes row by row (cut at its rules and at the gaps between lines), each row's cells left to
    right, a cell's lines top to bottom. A cell of two lines that no rule keeps together is read as two rows
    (a row with a missed cell could not be told from it)."""
    gaps = _gaps([_y_span(boxes[i]) for i in members])
    out: list[int] = []
    for row in _split(members, boxes, sorted(set(gaps) | set(cuts)), lambda b: (b[1] + b[3]) / 2):
        for col in _columns(row, boxes):
            out.extend(_rows(col, boxes))
    return out


def continues(prev: Box, nxt: Box) -> bool:
    """``nxt`` continues the block of ``prev``: they overlap horizontally, are of about one height and the gap
    between them is small."""
    overlap = min(prev[2], nxt[2]) - max(prev[0], nxt[0])
    height = min(max(1.0, prev[3] - prev[1]), max(1.0, nxt[3] - nxt[1]))
    gap = nxt[1] - prev[3]
    return overlap > 0 and _same_size(prev, nxt) and -height < gap < BLOCK_GAP * height


def group_blocks(ordered: Sequence[Box]) -> list[list[int]]:
    """Positions in ``ordered`` (boxes already in reading order) cut into blocks of consecutive lines. A speck
    never cuts a block: it joins the block of the line it leads (:func:`_leads`), else the block before it."""
    specks = set(_specks(ordered))
    if len(specks) == len(ordered):  # a page of small boxes only: none of them is a speck
        specks = set()
    blocks: list[list[int]] = []
    prev: Box | None = None   # the last line that is not a speck
    leading: list[int] = []   # specks read before the next line, which take its block
    for i, box in enumerate(ordered):
        if i in specks:
            nxt = next((ordered[j] for j in range(i + 1, len(ordered)) if j not in specks), None)
            if blocks and not (nxt is not None and _leads(box, nxt)):
                blocks[-1].append(i)
            else:
                leading.append(i)
            continue
        if blocks and prev is not None and continues(prev, box):
            blocks[-1] += leading + [i]
        else:
            blocks.append(leading + [i])
        leading, prev = [], box
    if leading:
        blocks.append(leading)
    return blocks


__all__ = ["median_height", "split_line_groups", "row_piece_groups", "gutter_cuts", "order_boxes", "find_tables", "group_blocks",
           "continues", "page_skew", "upright_boxes", "upright_rules", "Box", "Rule"]
