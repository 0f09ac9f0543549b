"""Synthetic pages with exact line ground truth: ``PageRenderer(script, cfg).render(texts, rng) -> Page``.

Corpus texts flow into the blocks of a seeded layout (``page_layout``). Every line is shaped and drawn by
the line synthesizer's renderer (RAQM) after its validity gate: a line the gate refuses is skipped and
counted in ``Page.skipped``, never drawn. A line's polygon is the tight rectangle of its drawn ink
(stacked marks included, not the font's ascent and descent), moved with the page through every
geometric degradation (``page_degrade``). Rules and table grids are ink without a label.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from aksar.core.errors import AksarError
from aksar.render.augment import uniform
from aksar.render.fonts import FontInfo, style_class
from aksar.render.page_degrade import PageDegradeConfig, degrade_page
from aksar.render.page_layout import (BlockStyle, Geometry, LayoutConfig, block_style, cell_text, digits,
                                      list_prefix, mixed_text, page_geometry)
from aksar.render.synth import SynthConfig, Synthesizer


@dataclass
class PageConfig:
    """Layout, paper, ink, fonts (``synth``: font choice only) and degradation of synthetic pages."""

    layout: LayoutConfig = field(default_factory=LayoutConfig)
    degrade: PageDegradeConfig = field(default_factory=PageDegradeConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    paper: tuple[float, float] = (205.0, 255.0)     # paper grey level
    paper_texture: tuple[float, float] = (0.0, 8.0)  # amplitude of its low-frequency texture
    ink: tuple[float, float] = (0.0, 70.0)


@dataclass
class PageLine:
    text: str
    polygon: list[list[float]]   # [[x, y], ...] clockwise from top-left, image pixels
    order: int                   # reading order on the page
    block: int                   # index into Page.regions
    kind: str                    # paragraph, heading, list, caption, mixed, cell, page_number
    font: str = ""


@dataclass
class PageRegion:
    index: int
    kind: str
    polygon: list[list[float]]


@dataclass
class Page:
    image: np.ndarray            # uint8 HxW grayscale
    lines: list[PageLine]
    regions: list[PageRegion]
    dpi: int
    record: list[dict] = field(default_factory=list)   # degradations applied
    skipped: Counter = field(default_factory=Counter)  # lines not drawn, per reason


_BREAKS = re.compile("( +|\u200b+)")  # split keeping the separators
_BLANK = " \u200b"


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _points(poly: np.ndarray) -> list[list[float]]:
    out = []
    for x, y in np.asarray(poly, np.float64).tolist():
        out.append([int(v) if float(v).is_integer() else round(v, 1) for v in (x, y)])
    return out


@dataclass
class _State:
    geo: Geometry
    cov: np.ndarray                                  # ink coverage 0..1 (text and rules)
    polys: list[np.ndarray] = field(default_factory=list)
    lines: list[tuple[str, int, str, str]] = field(default_factory=list)  # text, block, kind, font
    blocks: list[tuple[str, list[int]]] = field(default_factory=list)    # kind, line indices
    skipped: Counter = field(default_factory=Counter)


class PageRenderer:
    """Renders pages of one script. Picklable (the Synthesizer loads fonts lazily per process)."""

    def __init__(self, script: str, cfg: PageConfig | None = None):
        from aksar.text.scripts import get_script

        self.script = script
        self.cfg = cfg or PageConfig()
        self.synth = Synthesizer(script, self.cfg.synth)
        self.native = get_script(script).digits

    # -- fonts and text --------------------------------------------------------------------------
    def _font(self, text: str, rng: np.random.Generator, bold: bool, st: _State) -> FontInfo | None:
        """The first font of a weighted random order (bold faces first for headings) that shapes ``text``."""
        fonts = self.synth.candidate_fonts(text, rng, "random")
        if bold:
            fonts = sorted(fonts, key=lambda f: style_class(f) != "bold")
        for font in fonts:
            if self.synth.gate.check(text, font) is None:
                return font
        st.skipped["unrenderable"] += 1
        return None

    def _length(self, text: str, font: FontInfo, px: int) -> float:
        return self.synth.renderer.advance(text, font, px)

    def _wrap(self, text: str, font: FontInfo, px: int, width: float, first: float = 0.0) -> list[str]:
        """Greedy wrap at spaces and zero-width spaces (Khmer's word breaks; dropped at a break),
        ``first``: extra indent of the first line. A word longer than a whole line (Thai and Khmer write
        runs without breaks) continues the current line, broken between grapheme clusters."""
        from aksar.text.graphemes import clusters

        lines: list[str] = []
        cur = ""
        parts = _BREAKS.split(text)
        for sep, word in zip([""] + parts[1::2], parts[::2]):
            if not word:
                continue
            avail = width - (first if not lines else 0.0)
            cand = f"{cur}{sep}{word}" if cur else word
            if self._length(cand, font, px) <= avail:
                cur = cand
                continue
            if self._length(word, font, px) <= width:
                if cur:
                    lines.append(cur)
                cur = word
                continue
            cur = f"{cur}{sep}" if cur else ""
            for cl in clusters(word):
                if cur.strip(_BLANK) and self._length(cur + cl, font, px) > width - (first if not lines else 0.0):
                    lines.append(cur.strip(_BLANK))
                    cur = ""
                cur += cl
        if cur.strip(_BLANK):
            lines.append(cur.strip(_BLANK))
        return lines

    # -- drawing ---------------------------------------------------------------------------------
    def _line(self, st: _State, text: str, font: FontInfo, px: int, x0: float, x1: float, y: float,
              align: str, kind: str, block: int) -> bool:
        """Draw ``text`` in the box x0..x1 with its ascent line at ``y``; False (counted) if not drawn."""
        text = text.strip(_BLANK)
        if not text:
            return False
        reason = self.synth.gate.check(text, font)
        if reason is not None:
            st.skipped[reason] += 1
            return False
        words = text.split(" ")
        segments = words if align == "justify" and len(words) > 1 else [text]
        lengths = [self._length(s, font, px) for s in segments]
        if align == "justify" and len(segments) > 1:
            gap = (x1 - x0 - sum(lengths)) / (len(segments) - 1)
            xs = list(np.cumsum([x0] + [ln + gap for ln in lengths[:-1]]))
        else:
            left = {"left": x0, "justify": x0, "right": x1 - lengths[0], "centre": (x0 + x1 - lengths[0]) / 2}
            xs = [left[align]]
        placed = []
        for seg, x in zip(segments, xs):
            try:
                mask, y0 = self.synth.renderer.ink(seg, font, px)
            except AksarError:
                st.skipped["no_ink"] += 1
                return False
            placed.append((mask, int(round(y + y0)), int(round(x))))
        h, w = st.cov.shape
        boxes = []
        for mask, top, left in placed:
            if not mask.size or not mask.any():
                continue
            rows, cols = np.flatnonzero(mask.max(axis=1)), np.flatnonzero(mask.max(axis=0))
            boxes.append((left + cols[0], top + rows[0], left + cols[-1] + 1, top + rows[-1] + 1))
        if not boxes:
            st.skipped["no_ink"] += 1
            return False
        bx0, by0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        bx1, by1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        if bx0 < 0 or by0 < 0 or bx1 > w or by1 > h:
            st.skipped["off_page"] += 1
            return False
        for mask, top, left in placed:
            mh, mw = mask.shape
            t0, l0 = max(top, 0), max(left, 0)
            sub = mask[t0 - top:min(mh, h - top), l0 - left:min(mw, w - left)]
            region = st.cov[t0:t0 + sub.shape[0], l0:l0 + sub.shape[1]]
            np.maximum(region, sub.astype(np.float32) * (1 / 255), out=region)
        st.polys.append(_rect(bx0, by0, bx1, by1))
        st.lines.append((text, block, kind, font.name))
        st.blocks[block][1].append(len(st.lines) - 1)
        return True

    def _rule(self, st: _State, x0: float, x1: float, y: float) -> None:
        t = max(1, int(round(st.geo.dpi / 150)))
        yi = int(round(y))
        st.cov[max(0, yi):yi + t, int(round(x0)):int(round(x1))] = 1.0

    # -- blocks ----------------------------------------------------------------------------------
    def _block(self, st: _State, style: BlockStyle, col: tuple[int, int], y: float, bottom: float,
               texts: Sequence[str], rng: np.random.Generator) -> float:
        """Lay out one block from ``y``; returns the y below it (``y`` itself when nothing fitted)."""
        geo = st.geo
        x0, x1 = col
        px = geo.px(style.pt)
        pitch = px * style.leading
        em = geo.px(geo.body_pt)
        if style.kind == "rule":
            if y + em > bottom:
                return y
            self._rule(st, x0 + (x1 - x0) * rng.uniform(0, 0.3) * (rng.random() < 0.5), x1, y + em / 2)
            return y + em

        def draw() -> str:
            return texts[int(rng.integers(len(texts)))]

        block = len(st.blocks)
        st.blocks.append((style.kind, []))
        if style.kind == "table":
            return self._table(st, style, col, y, bottom, draw, rng, block)
        items: list[tuple[str, float, float]] = []   # (text, first-line indent, continuation indent)
        if style.kind == "paragraph":
            items = [(" ".join(draw() for _ in range(style.count)), style.indent_em * em, 0.0)]
        elif style.kind == "heading":
            words = draw().split(" ")[: int(rng.integers(1, 7))]
            num = f"{int(rng.integers(1, 10))}.{int(rng.integers(1, 10))} " if style.numbered else ""
            items = [(num + " ".join(words), 0.0, 0.0)]
        elif style.kind == "list":
            for k in range(style.count):
                items.append((list_prefix(style, k, self.native) + draw(), style.indent_em * em,
                              style.indent_em * em + em))
        elif style.kind == "caption":
            label = f"{('Fig.', 'Table', 'Photo')[int(rng.integers(3))]} {int(rng.integers(1, 30))}: "
            items = [((label if rng.random() < 0.5 else "") + draw(), 0.0, 0.0)]
        else:  # mixed
            items = [(mixed_text(draw(), rng, self.native, self.cfg.layout.native_digits_p), 0.0, 0.0)]
        font = self._font(items[0][0], rng, style.kind == "heading", st)
        if font is None:
            return y
        max_lines = 2 if style.kind in ("heading", "caption") else 10**6
        for text, first, cont in items:
            wrapped = self._wrap(text, font, px, x1 - x0 - cont, first - cont)[:max_lines]
            for k, line in enumerate(wrapped):
                if y + pitch > bottom:
                    return y
                indent = first if k == 0 else cont
                last = k == len(wrapped) - 1
                align = "left" if style.align == "justify" and last else style.align
                if self._line(st, line, font, px, x0 + indent, x1, y, align, style.kind, block):
                    y += pitch
        return y

    def _table(self, st: _State, style: BlockStyle, col: tuple[int, int], y: float, bottom: float,
               draw, rng: np.random.Generator, block: int) -> float:
        """A ruled table: a grid (or only horizontal rules), one labelled line per cell."""
        x0, x1 = col
        px = st.geo.px(style.pt * 0.9)
        row_h = px * style.leading
        rows = min(style.count, int((bottom - y) // row_h))
        if rows < 1:
            return y
        font = self._font(draw(), rng, False, st)
        if font is None:
            return y
        width = (x1 - x0) / style.cols
        pad = max(2.0, px * 0.25)
        grid = rng.random() < 0.6
        for r in range(rows + 1):
            if grid or r in (0, 1, rows):
                self._rule(st, x0, x1, y + r * row_h)
        if grid:
            for c in range(style.cols + 1):
                xc = int(round(min(x0 + c * width, x1 - 1)))
                st.cov[int(round(y)):int(round(y + rows * row_h)) + 1, xc:xc + max(1, st.geo.dpi // 150)] = 1.0
        for r in range(rows):
            for c in range(style.cols):
                text = cell_text(draw(), rng, self.native, self.cfg.layout.native_digits_p)
                wrapped = self._wrap(text, font, px, width - 2 * pad)
                if wrapped:
                    top = y + r * row_h + (row_h - px) / 2
                    self._line(st, wrapped[0], font, px, x0 + c * width + pad, x0 + (c + 1) * width - pad,
                               top, style.align, "cell", block)
        return y + rows * row_h + max(2, st.geo.dpi // 150)

    def _page_number(self, st: _State, rng: np.random.Generator) -> None:
        geo = st.geo
        px = geo.px(max(self.cfg.layout.min_pt, geo.body_pt * 0.9))
        y = geo.bottom + (geo.height - geo.bottom - px) / 2
        if y < geo.bottom:
            return
        n = digits(str(int(rng.integers(1, 400))), self.native, rng.random() < self.cfg.layout.native_digits_p)
        text = f"- {n} -" if rng.random() < 0.3 else n
        font = self._font(text, rng, False, st)
        if font is not None:
            st.blocks.append(("page_number", []))
            self._line(st, text, font, px, geo.columns[0][0], geo.columns[-1][1], y, "centre", "page_number",
                       len(st.blocks) - 1)

    # -- the page --------------------------------------------------------------------------------
    def _paper(self, cov: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import cv2

        h, w = cov.shape
        cfg = self.cfg
        paper, ink, amp = uniform(rng, cfg.paper), uniform(rng, cfg.ink), uniform(rng, cfg.paper_texture)
        grid = rng.standard_normal((max(2, h // 64), max(2, w // 64)), dtype=np.float32) * amp + (paper - ink)
        out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)   # paper - ink
        out *= 1 - cov                                                    # ink + (paper - ink) * (1 - cov)
        out += ink
        return np.clip(out, 0, 255, out=out).astype(np.uint8)

    def render(self, texts: Sequence[str], rng: np.random.Generator) -> Page:
        """One page from ``texts`` (drawn at random), decided only by ``rng``'s state."""
        if not texts:
            raise AksarError("no texts to lay out on a page")
        lay = self.cfg.layout
        geo = page_geometry(lay, rng)
        st = _State(geo, np.zeros((geo.height, geo.width), np.float32))
        em = geo.px(geo.body_pt)
        for col in geo.columns:
            y: float = geo.top
            misses = 0
            while y + em <= geo.bottom and misses < 3:
                style = block_style(lay, geo, rng)
                new_y = self._block(st, style, col, y, geo.bottom, texts, rng)
                misses = misses + 1 if new_y <= y else 0
                y = new_y + (uniform(rng, lay.block_gap) * em if new_y > y else 0)
        if rng.random() < lay.page_number_p:
            self._page_number(st, rng)
        image = self._paper(st.cov, rng)
        region_ids = [i for i, (_, members) in enumerate(st.blocks) if members]
        region_polys = []
        for i in region_ids:
            pts = np.concatenate([st.polys[j] for j in st.blocks[i][1]])
            region_polys.append(_rect(*pts.min(axis=0), *pts.max(axis=0)))
        image, polys, dpi, record = degrade_page(image, st.polys + region_polys, geo.dpi, rng, self.cfg.degrade,
                                                 back=st.cov)
        renumber = {old: new for new, old in enumerate(region_ids)}
        lines = [PageLine(text, _points(polys[k]), k, renumber[block], kind, font)
                 for k, (text, block, kind, font) in enumerate(st.lines)]
        regions = [PageRegion(renumber[i], st.blocks[i][0], _points(p))
                   for i, p in zip(region_ids, polys[len(st.polys):])]
        return Page(image, lines, regions, dpi, record, st.skipped)


__all__ = ["PageConfig", "PageRenderer", "Page", "PageLine", "PageRegion"]
