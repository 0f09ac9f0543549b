"""Contact sheets: a grid of samples with their labels (drawn with RAQM) and font names underneath."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from aksar.render.fonts import FontInfo
from aksar.render.renderer import LineRenderer, RenderConfig
from aksar.render.shaping import ShapingGate


def _fit(img: np.ndarray, max_w: int) -> np.ndarray:
    h, w = img.shape
    if w <= max_w:
        return img
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((max_w, max(1, round(h * max_w / w))),
                                                  Image.Resampling.BILINEAR))


def _latin_font() -> FontInfo | None:
    from aksar.core.errors import AksarError
    from aksar.render.fonts import resolve_font

    for name in ("DejaVu Sans", "Noto Sans", "Liberation Sans", "Arial", "Helvetica"):
        try:
            return resolve_font(name)
        except AksarError:
            continue
    return None


def contact_sheet(samples: Sequence, columns: int = 4, *, label_font: FontInfo | None = None,
                  script: str | None = None, scale: float = 2.0, label_size: int = 22,
                  max_cell_width: int = 900, margin: int = 10) -> "PIL.Image.Image":
    """A grayscale sheet of ``samples`` (objects with .image, .text, .font) in ``columns`` columns.

    Each cell shows the image (scaled by ``scale``), its label rendered with ``label_font`` (default: the
    first discovered font of ``script``, detected from the labels when not given) and the font name.
    A label the label font cannot shape cleanly is replaced by its code points, never drawn wrongly.
    """
    from PIL import Image

    if not samples:
        raise ValueError("contact_sheet needs at least one sample")
    columns = max(1, min(columns, len(samples)))
    if label_font is None:
        from aksar.render.fonts import discover_fonts
        from aksar.text.scripts import detect_script

        script = script or detect_script(" ".join(s.text for s in samples))
        fonts = discover_fonts(script) if script else []
        if not fonts:
            raise ValueError("contact_sheet: no label font given and none found for the labels' script")
        label_font = fonts[0]
    renderer = LineRenderer(RenderConfig(font_size=label_size, padding=0.15, crop="line"), script)
    small = LineRenderer(RenderConfig(font_size=max(10, label_size * 2 // 3), padding=0.15, crop="line"),
                         None)
    gate = ShapingGate(script)
    caption_font = _latin_font() or label_font

    def draw_label(text: str, r: LineRenderer, font: FontInfo) -> np.ndarray:
        if gate.check(text, font) is not None:
            text = " ".join(f"U+{ord(c):04X}" for c in text[:24])
        return r.render(text, font)

    cells = []
    for s in samples:
        img = s.image
        if scale != 1:
            h, w = img.shape
            img = np.asarray(Image.fromarray(img).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                         Image.Resampling.BILINEAR))
        parts = [_fit(img, max_cell_width), _fit(draw_label(s.text, renderer, label_font), max_cell_width)]
        if getattr(s, "font", None):
            name = _fit(draw_label(str(s.font), small, caption_font), max_cell_width)
            parts.append(np.minimum(255, name.astype(np.int16) // 2 + 110).astype(np.uint8))  # grey caption
        width = max(p.shape[1] for p in parts)
        height = sum(p.shape[0] for p in parts) + 4 * (len(parts) - 1)
        cell = np.full((height, width), 255, np.uint8)
        y = 0
        for p in parts:
            cell[y:y + p.shape[0], :p.shape[1]] = p
            y += p.shape[0] + 4
        cells.append(cell)
    rows = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    col_w = [max(r[c].shape[1] for r in rows if c < len(r)) for c in range(columns)]
    row_h = [max(c.shape[0] for c in r) for r in rows]
    sheet = np.full((sum(row_h) + margin * (len(rows) + 1), sum(col_w) + margin * (columns + 1)), 235, np.uint8)
    y = margin
    for r, h in zip(rows, row_h):
        x = margin
        for c, cell in enumerate(r):
            sheet[y:y + cell.shape[0], x:x + cell.shape[1]] = cell
            x += col_w[c] + margin
        y += h + margin
    return Image.fromarray(sheet)




def draw_groups(image: np.ndarray, groups: Sequence[tuple[Sequence[np.ndarray], tuple[int, int, int], int]],
                max_side: int = 800) -> np.ndarray:
    """uint8 HxWx3: the page (downscaled to ``max_side``) with each group of polygons in its colour and
    line thickness, ``(polygons, (r, g, b), thickness)``, drawn in order."""
    import cv2

    scale = min(1.0, max_side / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    rgb = cv2.cvtColor(small, cv2.COLOR_GRAY2RGB)
    for polys, colour, thickness in groups:
        pts = [np.round(np.asarray(p, np.float64) * scale).astype(np.int32) for p in polys]
        cv2.polylines(rgb, pts, True, colour, thickness)
    return rgb


def draw_polygons(image: np.ndarray, gts: Sequence[np.ndarray], preds: Sequence[np.ndarray],
                  max_side: int = 800) -> np.ndarray:
    """uint8 HxWx3: the page (downscaled to ``max_side``) with ground truth in green, predictions in red."""
    return draw_groups(image, [(gts, (0, 170, 0), 1), (preds, (220, 0, 0), 1)], max_side)


__all__ = ["contact_sheet", "draw_groups", "draw_polygons"]
