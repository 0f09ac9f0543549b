"""Seeded page layouts: page geometry (size, dpi, margins, columns) and block styles (paragraphs, headings,
lists, captions, mixed Latin/digit lines, rules, ruled tables), plus the text of the non-corpus lines.

Everything here is drawn from the caller's Generator; ``render.page`` flows corpus text into the blocks.
Sizes are in points and become pixels at the page's dpi (``px = pt * dpi / 72``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aksar.core.rng import weighted_choice
from aksar.render.augment import check_range, uniform

BLOCK_KINDS = ("paragraph", "heading", "list", "caption", "mixed", "rule", "table")
ALIGNMENTS = ("left", "right", "centre", "justify")

# Latin words and marks of the kind mixed into Khmer and Thai documents.
LATIN_WORDS = ("ISBN", "Tel.", "Email:", "www.example.org", "PDF", "COVID-19", "UNESCO", "ASEAN", "km", "kg",
               "USD", "No.", "Fig.", "Table", "Page", "ID", "Wi-Fi", "GDP", "NGO", "Ref.", "info@example.com")


@dataclass
class LayoutConfig:
    """How pages are laid out; ranges are drawn uniformly, dicts are weights."""

    page_inches: tuple[float, float] = (8.27, 11.69)    # A4 (width, height)
    size_px: tuple[int, int] | None = None               # (width, height) in px: overrides page_inches * dpi
    dpi: tuple[int, int] = (150, 300)
    body_pt: tuple[float, float] = (8.0, 14.0)
    heading_scale: tuple[float, float] = (1.25, 2.2)     # heading size = body size * this (at most max_pt)
    caption_scale: tuple[float, float] = (0.75, 0.95)
    min_pt: float = 8.0
    max_pt: float = 28.0
    margin: tuple[float, float] = (0.04, 0.10)           # share of the page width, each side
    columns: dict[int, float] = field(default_factory=lambda: {1: 0.5, 2: 0.35, 3: 0.15})
    min_column_em: float = 12.0                          # fewer columns when a column would be narrower
    gutter: tuple[float, float] = (0.02, 0.05)           # share of the page width
    leading: tuple[float, float] = (1.2, 1.7)            # line pitch / font size
    block_gap: tuple[float, float] = (0.3, 1.5)          # blank space between blocks, in body lines
    blocks: dict[str, float] = field(default_factory=lambda: {
        "paragraph": 0.5, "heading": 0.12, "list": 0.1, "caption": 0.06, "mixed": 0.08, "rule": 0.05,
        "table": 0.06})
    align: dict[str, float] = field(default_factory=lambda: {
        "left": 0.45, "justify": 0.3, "centre": 0.15, "right": 0.1})
    indent_p: float = 0.4                                # first-line indent of paragraphs
    indent_em: tuple[float, float] = (1.0, 3.0)
    paragraph_texts: tuple[int, int] = (1, 4)            # corpus lines flowed into one paragraph
    list_items: tuple[int, int] = (2, 5)
    table_rows: tuple[int, int] = (2, 5)
    table_cols: tuple[int, int] = (2, 4)
    page_number_p: float = 0.5
    native_digits_p: float = 0.4                         # digits of the script rather than 0-9

    def __post_init__(self) -> None:
        check_range("layout.dpi", self.dpi, 36, 1200)
        check_range("layout.body_pt", self.body_pt, 4, 72)
        check_range("layout.margin", self.margin, 0, 0.3)
        check_range("layout.leading", self.leading, 0.8, 4)
        unknown = set(self.blocks) - set(BLOCK_KINDS)
        if unknown or sum(self.blocks.values()) <= 0:
            raise ValueError(f"layout.blocks: expected weights of {', '.join(BLOCK_KINDS)}, got {self.blocks}")
        if set(self.align) - set(ALIGNMENTS) or sum(self.align.values()) <= 0:
            raise ValueError(f"layout.align: expected weights of {', '.join(ALIGNMENTS)}, got {self.align}")
        if not self.columns or any(int(k) < 1 for k in self.columns):
            raise ValueError(f"layout.columns: expected weights of column counts >= 1, got {self.columns}")


@dataclass
class Geometry:
    """A page: its size in px, dpi, body size, text area and columns (x0, x1)."""

    width: int
    height: int
    dpi: int
    body_pt: float
    top: int
    bottom: int
    columns: list[tuple[int, int]]

    def px(self, pt: float) -> int:
        return max(6, int(round(pt * self.dpi / 72)))


@dataclass
class BlockStyle:
    """One block: its kind, size, pitch, alignment and kind-specific numbers."""

    kind: str
    pt: float
    leading: float
    align: str
    indent_em: float = 0.0
    count: int = 1                       # corpus texts (paragraph), items (list) or rows (table)
    cols: int = 0                        # table columns
    numbered: str = ""                   # list/heading numbering: "", "bullet", "dash", "arabic", "native"


def page_geometry(cfg: LayoutConfig, rng: np.random.Generator) -> Geometry:
    """Draw the page: dpi, size, margins, body size and columns."""
    dpi = int(rng.integers(cfg.dpi[0], cfg.dpi[1] + 1))
    if cfg.size_px is not None:
        width, height = (int(v) for v in cfg.size_px)
    else:
        width, height = (int(round(v * dpi)) for v in cfg.page_inches)
    margin = uniform(rng, cfg.margin)
    mx = int(round(margin * width))
    my = int(round(margin * width * rng.uniform(0.8, 1.3)))
    body_pt = uniform(rng, cfg.body_pt)
    n = int(weighted_choice({str(k): v for k, v in cfg.columns.items()}, rng))
    gutter = int(round(uniform(rng, cfg.gutter) * width))
    em = body_pt * dpi / 72
    inner = width - 2 * mx
    while n > 1 and (inner - (n - 1) * gutter) / n < cfg.min_column_em * em:
        n -= 1
    col_w = (inner - (n - 1) * gutter) / n
    columns = [(int(round(mx + k * (col_w + gutter))), int(round(mx + k * (col_w + gutter) + col_w)))
               for k in range(n)]
    return Geometry(width, height, dpi, body_pt, my, height - my, columns)


def block_style(cfg: LayoutConfig, geo: Geometry, rng: np.random.Generator) -> BlockStyle:
    """Draw the next block's kind and style."""
    kind = weighted_choice(cfg.blocks, rng)
    align = weighted_choice(cfg.align, rng)
    leading = uniform(rng, cfg.leading)
    pt = geo.body_pt
    style = BlockStyle(kind, pt, leading, align)
    if kind == "paragraph":
        style.count = int(rng.integers(cfg.paragraph_texts[0], cfg.paragraph_texts[1] + 1))
        if rng.random() < cfg.indent_p:
            style.indent_em = uniform(rng, cfg.indent_em)
    elif kind == "heading":
        style.pt = pt * uniform(rng, cfg.heading_scale)
        style.align = "centre" if rng.random() < 0.4 else ("left" if align == "justify" else align)
        style.numbered = "arabic" if rng.random() < 0.3 else ""
    elif kind == "list":
        style.count = int(rng.integers(cfg.list_items[0], cfg.list_items[1] + 1))
        style.align = "left"
        style.indent_em = uniform(rng, cfg.indent_em)
        style.numbered = ("bullet", "dash", "arabic", "native")[int(rng.integers(4))]
    elif kind == "caption":
        style.pt = pt * uniform(rng, cfg.caption_scale)
        style.align = "centre" if rng.random() < 0.6 else "left"
    elif kind == "table":
        style.count = int(rng.integers(cfg.table_rows[0], cfg.table_rows[1] + 1))
        style.cols = int(rng.integers(cfg.table_cols[0], cfg.table_cols[1] + 1))
        style.leading = max(style.leading, 1.5)
        style.align = ("left", "centre", "right")[int(rng.integers(3))]
    style.pt = float(np.clip(style.pt, cfg.min_pt, cfg.max_pt))
    return style


def digits(value: str, native: str, use_native: bool) -> str:
    """``value`` with its ASCII digits written in the script's digits when ``use_native``."""
    if not use_native or len(native) != 10:
        return value
    return value.translate(str.maketrans("0123456789", native))


def number_text(rng: np.random.Generator) -> str:
    """A number as documents write them: counts, decimals, dates, percentages, amounts, phone numbers."""
    kind = int(rng.integers(6))
    if kind == 0:
        return str(int(rng.integers(1, 10000)))
    if kind == 1:
        return f"{rng.uniform(0, 1000):.{int(rng.integers(1, 3))}f}"
    if kind == 2:
        return f"{int(rng.integers(1990, 2030))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
    if kind == 3:
        return f"{int(rng.integers(1, 100))}%"
    if kind == 4:
        return f"${int(rng.integers(1, 100)):d},{int(rng.integers(0, 1000)):03d}"
    return f"+{int(rng.integers(10, 99))} {int(rng.integers(10, 99))} {int(rng.integers(100, 999))} " \
           f"{int(rng.integers(100, 999))}"


def mixed_text(text: str, rng: np.random.Generator, native: str, native_p: float) -> str:
    """A corpus text with Latin words and numbers put in at word boundaries."""
    words = text.split(" ")
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.5:
            extra = LATIN_WORDS[int(rng.integers(len(LATIN_WORDS)))]
        else:
            extra = digits(number_text(rng), native, rng.random() < native_p)
        words.insert(int(rng.integers(len(words) + 1)), extra)
    return " ".join(w for w in words if w)


def list_prefix(style: BlockStyle, item: int, native: str) -> str:
    """The marker of list item ``item`` (0-based)."""
    if style.numbered == "bullet":
        return "\u2022 "
    if style.numbered == "dash":
        return "- "
    return digits(f"{item + 1}. ", native, style.numbered == "native")


def cell_text(text: str, rng: np.random.Generator, native: str, native_p: float) -> str:
    """A short table cell: a number or the first one or two words of a corpus text."""
    if rng.random() < 0.5:
        return digits(number_text(rng), native, rng.random() < native_p)
    words = [w for w in text.split(" ") if w]
    return " ".join(words[: int(rng.integers(1, 3))]) if words else text


__all__ = ["LayoutConfig", "Geometry", "BlockStyle", "page_geometry", "block_style", "mixed_text",
           "list_prefix", "cell_text", "digits", "number_text", "BLOCK_KINDS", "ALIGNMENTS", "LATIN_WORDS"]
