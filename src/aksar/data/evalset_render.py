"""Renderers of the evaluation sets that training never uses: Tesseract's ``text2image`` (Pango/Cairo),
a scan degradation written for evaluation only, and low-resolution rendering at a measured x-height.

Evaluation must not share code paths with what the model trains on: nothing here imports
``aksar.render.augment`` or the training degradation. ``text2image`` renders a page of lines per call
(one font, one size); lines are cut out using its box file, whose text is checked against the label.
"""
from __future__ import annotations

import bisect
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aksar.core.errors import AksarError
from aksar.render.fonts import FontInfo
from aksar.render.renderer import LineRenderer, RenderConfig
from aksar.text.scripts import get_script

TEXT2IMAGE = "text2image"
def x_height_char(script: str) -> str:
    """A base letter of ``script`` whose ink height is the font's x-height (``Script.eval_x_height_char``)."""
    info = get_script(script)
    return info.eval_x_height_char or info.x_height_char


def text2image_path() -> str:
    """Path of ``text2image`` (AksarError saying which Debian package has it)."""
    path = shutil.which(TEXT2IMAGE)
    if not path:
        raise AksarError("text2image not found: install Tesseract's training tools "
                         "(`apt-get install tesseract-ocr`, Debian ships text2image with it)")
    return path


def _env() -> dict:
    return dict(os.environ, OMP_THREAD_LIMIT="1")


@dataclass(frozen=True)
class PageSpec:
    """One ``text2image`` call: a page of lines in one font at one size and resolution."""

    font: str            # Pango font name (see text2image_fonts)
    ptsize: int
    resolution: int
    degrade: bool = False
    exposure: int = 0


@dataclass
class PageLine:
    """A line cut from a page: the image (None if rejected), why it was rejected, and box clusters
    that text2image reported blank though they are not spaces (Pango clusters with no ink box)."""

    image: np.ndarray | None
    reason: str | None
    blank_clusters: int = 0


def read_boxes(box_text: str, page_height: int) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Box file -> (cluster text, (x0, top, x1, bottom)) in logical order, y from the top of the page.

    The tab boxes text2image inserts where it guesses a line ends are left out: its guess is wrong for
    fonts that place subscripts far below the base (lines are found from the labels instead)."""
    out = []
    for raw in box_text.splitlines():
        parts = raw.rsplit(" ", 5)
        if len(parts) != 6 or parts[0] == "\t":
            continue
        text, x0, y0, x1, y1, _page = parts
        out.append((text, (int(x0), page_height - int(y1), int(x1), page_height - int(y0))))
    return out


def split_lines(boxes: list, texts: list[str]) -> list[tuple[list, int]] | None:
    """The boxes of each text, and how many of its clusters text2image wrote blank; None unless the box
    clusters spell exactly the texts, in order.

    text2image writes a cluster whose ink box Pango reports empty as a space (e.g. a COENG RO of the
    SIL Khmer fonts), merged with a following space if there is one: a blank cluster stands for a space
    or for one run of non-space characters within a line, and that run's trailing space. Each cluster is
    one regex group, so where it matched in the texts gives its line.
    """
    if not boxes:
        return None
    groups = [r"( |\S+? ?)" if c.strip() == "" else f"({re.escape(c)})" for c, _ in boxes]
    m = re.fullmatch("\n?".join(groups), "\n".join(texts))
    if m is None:
        return None
    starts = [0]
    for t in texts[:-1]:
        starts.append(starts[-1] + len(t) + 1)
    out: list[tuple[list, int]] = [([], 0) for _ in texts]
    for g, box in enumerate(boxes, 1):
        line = bisect.bisect_right(starts, m.start(g)) - 1
        blank = int(box[0].strip() == "" and m.group(g) != " ")
        out[line] = (out[line][0] + [box], out[line][1] + blank)
    return out if all(bs for bs, _ in out) else None


def _crop_line(page: np.ndarray, boxes: list[tuple[int, int, int, int]], band: tuple[int, int], em: int,
               tight: bool) -> np.ndarray | None:
    """The line's region: its boxes widened by half an em, limited to ``band`` rows; ``tight`` crops to
    the ink inside it (clean pages) and pads by a tenth of an em."""
    h, w = page.shape
    pad = max(2, em // 2)
    x0 = max(0, min(b[0] for b in boxes) - pad)
    x1 = min(w, max(b[2] for b in boxes) + pad)
    y0 = max(band[0], min(b[1] for b in boxes) - pad)
    y1 = min(band[1], max(b[3] for b in boxes) + pad)
    region = page[y0:y1, x0:x1]
    if not tight:
        return region.copy()
    ink = region < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    margin = max(1, em // 10)
    out = np.full((rows[-1] - rows[0] + 1 + 2 * margin, cols[-1] - cols[0] + 1 + 2 * margin), 255, np.uint8)
    out[margin:-margin, margin:-margin] = region[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return out


class Text2Image:
    """text2image restricted to the given font files (a private fonts folder and fontconfig cache), so
    Pango can neither fall back to another font nor be slowed down by every installed one."""

    def __init__(self, fonts: list[FontInfo]) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="aksar-t2i-"))
        (self.tmp / "fonts").mkdir()
        (self.tmp / "fc").mkdir()
        for i, path in enumerate(sorted({f.path for f in fonts})):
            os.symlink(os.path.realpath(path), self.tmp / "fonts" / f"{i:03d}_{Path(path).name}")
        self._names: tuple[str, ...] | None = None

    def __enter__(self) -> "Text2Image":
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _args(self) -> list[str]:
        return [text2image_path(), f"--fonts_dir={self.tmp / 'fonts'}", f"--fontconfig_tmpdir={self.tmp / 'fc'}"]

    def fonts(self) -> tuple[str, ...]:
        """Pango names of the faces in the folder (``--list_available_fonts``)."""
        if self._names is None:
            out = subprocess.run([*self._args(), "--list_available_fonts"], capture_output=True, text=True,
                                 env=_env(), cwd=self.tmp)  # text2image writes fonts.conf into its cwd
            self._names = tuple(m.group(1).strip() for line in (out.stdout + out.stderr).splitlines()
                                if (m := re.match(r"\s*\d+: (.+)$", line)))
        return self._names

    def render_page(self, texts: list[str], spec: PageSpec) -> list[PageLine]:
        return render_page(texts, spec, self._args())


def render_page(texts: list[str], spec: PageSpec, base_args: list[str]) -> list[PageLine]:
    """Render ``texts`` (one per line) with text2image and cut them out; each checked against its box text."""
    from PIL import Image

    em = max(4, round(spec.ptsize * spec.resolution / 72))
    longest = max(len(t) for t in texts)
    margin = 2 * em
    leading = em  # a blank em between lines: neighbours never share rows
    width = 2 * margin + int(longest * em * 1.3) + em
    height = 2 * margin + len(texts) * 5 * em  # Khmer fonts' lines are tall (stacked subscripts)
    with tempfile.TemporaryDirectory(prefix="aksar-t2i-") as tmp:
        src = Path(tmp) / "page.txt"
        src.write_text("\n".join(texts) + "\n", encoding="utf-8")
        base = Path(tmp) / "page"
        cmd = [*base_args, f"--text={src}", f"--outputbase={base}", f"--font={spec.font}",
               f"--ptsize={spec.ptsize}", f"--resolution={spec.resolution}",
               f"--xsize={width}", f"--ysize={height}", f"--margin={margin}", f"--leading={leading}",
               "--strip_unrenderable_words=false", "--rotate_image=false", "--max_pages=1",
               f"--degrade_image={'true' if spec.degrade else 'false'}", f"--exposure={spec.exposure}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=tmp)
        tif, box = base.with_suffix(".tif"), base.with_suffix(".box")
        if proc.returncode != 0 or not tif.is_file() or not box.is_file():
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise AksarError(f"text2image failed for font {spec.font!r}: {detail[0]}")
        with Image.open(tif) as im:
            page = np.asarray(im.convert("L"))
        lines = split_lines(read_boxes(box.read_text(encoding="utf-8"), page.shape[0]), texts)
    if lines is None:  # a line wrapped, fell off the page or differs: render lines one by one
        if len(texts) > 1:
            return [r for t in texts for r in render_page([t], spec, base_args)]
        return [PageLine(None, "box_text_mismatch")]
    ink = [[b for c, b in line if c.strip()] for line, _ in lines]
    if not all(ink):
        return [PageLine(None, "no_ink") for _ in texts]
    centers = [(min(b[1] for b in bs) + max(b[3] for b in bs)) / 2 for bs in ink]
    out = []
    for i, (_, blank) in enumerate(lines):
        top = int((centers[i - 1] + centers[i]) / 2) if i else 0
        bottom = int((centers[i] + centers[i + 1]) / 2) if i + 1 < len(texts) else page.shape[0]
        img = _crop_line(page, ink[i], (top, bottom), em, tight=not spec.degrade)
        out.append(PageLine(img, None if img is not None else "no_ink", blank))
    return out


# -- scan degradation (evaluation only) ------------------------------------------------------------

def scan_degrade(img: np.ndarray, rng: np.random.Generator) -> tuple[bytes, dict]:
    """What a scanner and its software do to a printed line: slight rotation, optics blur, sensor noise,
    sometimes binarization, then JPEG. Returns the JPEG bytes and the parameters drawn."""
    import cv2

    params: dict = {"rotate_deg": round(float(rng.uniform(-1.5, 1.5)), 3)}
    h, w = img.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), params["rotate_deg"], 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(w * cos + h * sin + 0.5), int(w * sin + h * cos + 0.5)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    out = cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=255).astype(np.float32)
    params["blur_sigma"] = round(float(rng.uniform(0.3, 1.0)), 3)
    out = cv2.GaussianBlur(out, (0, 0), params["blur_sigma"])
    paper, ink = float(rng.uniform(200, 250)), float(rng.uniform(10, 70))  # paper tint, ink density
    out = ink + out * (paper - ink) / 255.0
    params.update(paper=round(paper, 1), ink=round(ink, 1), noise_sigma=round(float(rng.uniform(2, 12)), 2))
    out = out + rng.normal(0.0, params["noise_sigma"], out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    params["binarize"] = bool(rng.random() < 0.3)
    if params["binarize"]:
        _, out = cv2.threshold(out, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    params["jpeg_quality"] = int(rng.integers(35, 86))
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, params["jpeg_quality"]])
    if not ok:
        raise AksarError("OpenCV could not encode a JPEG")
    return buf.tobytes(), params


# -- low resolution --------------------------------------------------------------------------------

LOWRES_OVERSAMPLE = 4  # render this many times larger, then area-average down, as a scanner's sensor does


def x_height(renderer: LineRenderer, font: FontInfo, size: int, script: str) -> float:
    """Ink height in pixels of the script's base letter at font ``size``."""
    mask, _ = renderer.ink(x_height_char(script), font, size)
    rows = np.flatnonzero(mask.max(axis=1) > 127) if mask.size else np.empty(0)
    return float(rows[-1] - rows[0] + 1) if rows.size else 0.0


def render_lowres(text: str, font: FontInfo, target_x_height: float, script: str) -> tuple[np.ndarray, dict]:
    """``text`` at a font size giving ``target_x_height`` pixels of x-height (measured, not assumed)."""
    import cv2

    k = LOWRES_OVERSAMPLE
    probe = LineRenderer(RenderConfig(font_size=100), script)
    ratio = x_height(probe, font, 100, script) / 100
    if ratio <= 0:
        raise AksarError(f"{font.name}: no ink for {x_height_char(script)!r}, cannot measure its x-height")
    guess = max(6, round(target_x_height / ratio))
    # the size (near the guess) whose measured x-height is closest to the target
    size, measured = min(((s, x_height(probe, font, s * k, script) / k) for s in (guess - 1, guess, guess + 1)),
                         key=lambda sm: abs(sm[1] - target_x_height))
    renderer = LineRenderer(RenderConfig(font_size=size * k, padding=0.25), script)
    big = renderer.render(text, font)
    h, w = big.shape
    small = cv2.resize(big, (max(1, round(w / k)), max(1, round(h / k))), interpolation=cv2.INTER_AREA)
    return small, {"font_px": size, "x_height_px": round(measured, 2)}


__all__ = ["Text2Image", "PageSpec", "PageLine", "render_page", "read_boxes", "split_lines",
           "text2image_path", "scan_degrade", "render_lowres", "x_height", "x_height_char"]
