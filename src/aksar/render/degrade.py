"""Document degradation at training time: lines that look as printed, copied, faxed and scanned lines do.

A ``Degrader`` draws one *plan* per line from a profile mix (``print``, ``scan``, ``photocopy``, ``fax``;
each profile gives every op its probability), then works in two places of the synthesizer's pipeline:

- at render time (``Synthesizer`` asks it): ``small_type`` renders at a real print size
  (``points * dpi / 72`` px); ``margins`` re-crops the line as a line detector would (each side tight or
  loose on its own); ``neighbours`` pastes a few rows of a real neighbouring line at the top or bottom;
  ``rules`` draws table-cell borders around it (above, below, at the sides; close enough to touch);
- after augmentation (``__call__``, image + rng -> image + record, like ``Augmenter``): the print side
  (ink spread or thinning, ink dropout), then the scan: ``small_type`` resamples the line so its x-height
  is 6-10 px, then uneven illumination/shadow -> 1-bit binarization (global, Sauvola, ordered dither) ->
  speckle -> JPEG. An op that leaves too little or too much ink is undone (legibility guard).

All randomness comes from the Generator passed in; the Degrader is picklable. OpenCV + numpy (augraphy
was measured and not adopted, see docs/render.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aksar.render.augment import check_p, check_range, uniform
from aksar.render.degrade_ops import IMAGE_OP_FUNCS
from aksar.core.rng import weighted_choice

Range = tuple[float, float]

RENDER_OPS = ("small_type", "margins", "neighbours", "rules")
IMAGE_OPS = ("ink", "dropout", "illumination", "binarize", "speckle", "jpeg")  # print side, then scan side
PRINT_OPS = ("ink", "dropout")
OPS = RENDER_OPS + IMAGE_OPS


@dataclass
class SmallTypeOp:
    points: Range = (8.0, 12.0)          # print size in points
    large_p: float = 0.2                 # share of lines set at large_points instead
    large_points: Range = (12.0, 16.0)
    dpi: Range = (150.0, 300.0)          # print raster: rendered at points * dpi / 72 px
    x_height: Range = (6.0, 10.0)        # px after resampling (before the resize to the model height)


@dataclass
class MarginsOp:
    vertical: Range = (0.0, 0.6)         # top and bottom margin (drawn apart), share of the x-height
    horizontal: Range = (0.0, 1.5)       # left and right margin (drawn apart), share of the x-height


@dataclass
class NeighboursOp:
    depth: Range = (0.15, 0.5)           # rows of the neighbour line's ink shown, share of the x-height
    both_p: float = 0.25                 # share of intrusions at both edges (else top or bottom, 50/50)


@dataclass
class RulesOp:
    thickness: Range = (0.08, 0.25)      # rule thickness, share of the x-height (at least 1 px)
    gap: Range = (0.0, 0.5)              # paper between the ink and a horizontal rule, share of the x-height
    both_p: float = 0.4                  # rules above and below (else one of them, 50/50)
    sides_p: float = 0.4                 # vertical rules at the left and right too (a grid cell)
    side_gap: Range = (0.1, 1.0)         # paper between the ink and a vertical rule, share of the x-height


@dataclass
class IlluminationOp:
    kinds: list[str] = field(default_factory=lambda: ["gradient", "shadow", "vignette"])
    strength: Range = (0.1, 0.45)        # largest darkening of the paper (share of its level)


@dataclass
class InkOp:
    sigma: Range = (0.01, 0.025)         # blur before the re-threshold, share of the image height
    spread_p: float = 0.6                # spread (bolder) vs thin (lighter) strokes
    level: Range = (0.05, 0.25)          # how far the threshold moves from mid-grey


@dataclass
class DropoutOp:
    blobs: Range = (0.02, 0.12)          # share of ink lost in blob-like breaks
    salt: Range = (0.0, 0.06)            # share of ink pixels turned to paper one by one


@dataclass
class BinarizeOp:
    methods: dict[str, float] = field(default_factory=lambda: {"global": 0.4, "sauvola": 0.35, "dither": 0.25})
    offset: Range = (-15.0, 15.0)        # global: added to Otsu's threshold
    window: Range = (0.8, 2.5)           # sauvola: window side, share of the image height
    k: Range = (0.1, 0.4)                # sauvola: k


@dataclass
class SpeckleOp:
    density: Range = (0.0005, 0.006)     # dark specks per pixel
    size: tuple[int, int] = (1, 2)       # speck side, px


@dataclass
class DegradeJpegOp:
    quality: tuple[int, int] = (15, 60)


def _default_profiles() -> dict[str, dict[str, float]]:
    return {
        "print": {"small_type": 0.3, "margins": 0.8, "neighbours": 0.2, "rules": 0.1, "illumination": 0.3, "ink": 0.3,
                  "dropout": 0.1, "speckle": 0.1, "jpeg": 0.3},
        "scan": {"small_type": 0.6, "margins": 0.9, "neighbours": 0.3, "rules": 0.15, "illumination": 0.6, "ink": 0.3,
                 "dropout": 0.2, "speckle": 0.2, "jpeg": 0.6},
        "photocopy": {"small_type": 0.5, "margins": 0.9, "neighbours": 0.3, "rules": 0.15, "illumination": 0.5, "ink": 0.7,
                      "dropout": 0.5, "binarize": 1.0, "speckle": 0.6, "jpeg": 0.3},
        "fax": {"small_type": 1.0, "margins": 0.9, "neighbours": 0.3, "rules": 0.15, "ink": 0.5, "dropout": 0.4,
                "binarize": 1.0, "speckle": 0.5, "jpeg": 0.2},
    }


@dataclass
class DegradeConfig:
    """Which lines are degraded (``p``), how (``profile_mix`` over ``profiles``: op -> probability)."""

    enabled: bool = False
    p: float = 0.7                       # share of lines given a profile; the others stay clean
    # legibility guard: an image op whose result keeps less than min_ink or more than max_ink times the
    # ink pixels it was given is undone (counted in the record as {"op": ..., "undone": true})
    min_ink: float = 0.4
    max_ink: float = 2.5
    profile_mix: dict[str, float] = field(
        default_factory=lambda: {"print": 0.3, "scan": 0.35, "photocopy": 0.2, "fax": 0.15})
    profiles: dict[str, dict[str, float]] = field(default_factory=_default_profiles)
    small_type: SmallTypeOp = field(default_factory=SmallTypeOp)
    margins: MarginsOp = field(default_factory=MarginsOp)
    neighbours: NeighboursOp = field(default_factory=NeighboursOp)
    rules: RulesOp = field(default_factory=RulesOp)
    illumination: IlluminationOp = field(default_factory=IlluminationOp)
    ink: InkOp = field(default_factory=InkOp)
    dropout: DropoutOp = field(default_factory=DropoutOp)
    binarize: BinarizeOp = field(default_factory=BinarizeOp)
    speckle: SpeckleOp = field(default_factory=SpeckleOp)
    jpeg: DegradeJpegOp = field(default_factory=DegradeJpegOp)

    def __post_init__(self) -> None:
        check_p("p", self.p)
        if not 0 <= self.min_ink <= 1 <= self.max_ink:
            raise ValueError(f"min_ink/max_ink: expected min_ink <= 1 <= max_ink, got {self.min_ink}, {self.max_ink}")
        if not self.profile_mix or any(w < 0 for w in self.profile_mix.values()) \
                or sum(self.profile_mix.values()) <= 0:
            raise ValueError(f"profile_mix: expected non-negative weights with a positive sum, got {self.profile_mix}")
        for name in self.profile_mix:
            if name not in self.profiles:
                raise ValueError(f"profile_mix: unknown profile {name!r}; profiles: {', '.join(self.profiles)}")
        for name, ops in self.profiles.items():
            for op, p in ops.items():
                if op not in OPS:
                    raise ValueError(f"profiles.{name}: unknown op {op!r}; ops: {', '.join(OPS)}")
                check_p(f"profiles.{name}.{op}", p)
        st = self.small_type
        check_p("small_type.large_p", st.large_p)
        check_p("neighbours.both_p", self.neighbours.both_p)
        check_p("rules.both_p", self.rules.both_p)
        check_p("rules.sides_p", self.rules.sides_p)
        check_p("ink.spread_p", self.ink.spread_p)
        for key, r, lo, hi in (("small_type.points", st.points, 3, 72), ("small_type.large_points", st.large_points, 3, 72),
                               ("small_type.dpi", st.dpi, 50, 1200), ("small_type.x_height", st.x_height, 2, 64),
                               ("margins.vertical", self.margins.vertical, 0, 5),
                               ("margins.horizontal", self.margins.horizontal, 0, 10),
                               ("neighbours.depth", self.neighbours.depth, 0, 2),
                               ("rules.thickness", self.rules.thickness, 0, 1), ("rules.gap", self.rules.gap, 0, 5),
                               ("rules.side_gap", self.rules.side_gap, 0, 10),
                               ("illumination.strength", self.illumination.strength, 0, 1),
                               ("ink.sigma", self.ink.sigma, 0.001, 0.2), ("ink.level", self.ink.level, 0, 0.5),
                               ("dropout.blobs", self.dropout.blobs, 0, 1), ("dropout.salt", self.dropout.salt, 0, 1),
                               ("binarize.offset", self.binarize.offset, -128, 128),
                               ("binarize.window", self.binarize.window, 0.1, 10), ("binarize.k", self.binarize.k, 0, 1),
                               ("speckle.density", self.speckle.density, 0, 0.1), ("speckle.size", self.speckle.size, 1, 8),
                               ("jpeg.quality", self.jpeg.quality, 1, 100)):
            check_range(key, r, lo, hi)
        kinds = set(self.illumination.kinds)
        if not kinds or kinds - {"gradient", "shadow", "vignette"}:
            raise ValueError(f"illumination.kinds: expected gradient, shadow, vignette; got {self.illumination.kinds}")
        methods = self.binarize.methods
        if not methods or set(methods) - {"global", "sauvola", "dither"} or sum(methods.values()) <= 0:
            raise ValueError(f"binarize.methods: expected weights of global, sauvola, dither; got {methods}")

    @classmethod
    def only(cls, *ops: str) -> "DegradeConfig":
        """Every line degraded, by one profile ``only`` that applies exactly ``ops``."""
        return cls(enabled=True, p=1.0, profile_mix={"only": 1.0}, profiles={"only": {op: 1.0 for op in ops}})


@dataclass
class Plan:
    """What one line gets: its profile and the ops drawn on."""

    profile: str
    ops: dict[str, bool]

    def on(self, op: str) -> bool:
        return self.ops.get(op, False)


class Degrader:
    """Applies ``DegradeConfig``; ``plan(rng)`` per line, ``__call__(img, rng, plan)`` after augmentation."""

    def __init__(self, cfg: DegradeConfig | None = None):
        self.cfg = cfg or DegradeConfig()

    # -- plan and render-time ops ---------------------------------------------------------------
    def plan(self, rng: np.random.Generator) -> Plan | None:
        """The profile and ops of one line, or None (not degraded; nothing drawn when disabled)."""
        cfg = self.cfg
        if not cfg.enabled or not rng.random() < cfg.p:
            return None
        profile = weighted_choice(cfg.profile_mix, rng)
        probs = cfg.profiles[profile]
        draws = rng.random(len(OPS))
        return Plan(profile, {op: bool(u < probs.get(op, 0.0)) for op, u in zip(OPS, draws)})

    def small_type(self, rng: np.random.Generator) -> dict[str, float]:
        """Print size (points, dpi, px to render at) and the x-height to resample to."""
        st = self.cfg.small_type
        points = uniform(rng, st.large_points if rng.random() < st.large_p else st.points)
        dpi = uniform(rng, st.dpi)
        px = points * dpi / 72
        step = 2 if px < 40 else 4  # a few sizes per font: each size is a FreeType face kept per process
        return {"points": round(points, 2), "dpi": round(dpi, 1), "px": max(6, int(round(px / step)) * step),
                "x_height": round(uniform(rng, st.x_height), 3)}

    @staticmethod
    def resample(img: np.ndarray, factor: float, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """Scale by ``factor`` with a drawn interpolation (area when shrinking; else linear/cubic/nearest)."""
        import cv2

        h, w = img.shape
        size = (max(1, int(round(w * factor))), max(1, int(round(h * factor))))
        if factor < 1:
            names = ("area", "linear")
        else:
            names = ("linear", "cubic", "nearest")
        name = names[int(rng.integers(len(names)))]
        flag = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                "nearest": cv2.INTER_NEAREST}[name]
        return cv2.resize(img, size, interpolation=flag), name

    def recrop(self, img: np.ndarray, x_height: float, rng: np.random.Generator, plan: Plan,
               neighbour: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Crop to the ink, then margins per side, neighbour ink and table rules at the edges (as ``plan`` says)."""
        rows = np.flatnonzero(img.min(axis=1) < 255)
        cols = np.flatnonzero(img.min(axis=0) < 255)
        if rows.size == 0:
            return img, {}
        line = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        rec: dict[str, Any] = {}
        if plan.on("margins"):
            m = self.cfg.margins
            t, b = (int(round(uniform(rng, m.vertical) * x_height)) for _ in range(2))
            lft, r = (int(round(uniform(rng, m.horizontal) * x_height)) for _ in range(2))
        else:  # the renderer's padding, kept
            t = b = int(rows[0])
            lft, r = int(cols[0]), img.shape[1] - 1 - int(cols[-1])
        rec["margins"] = [t, b, lft, r]
        h, w = line.shape
        out = np.full((h + t + b, w + lft + r), 255, np.uint8)
        out[t:t + h, lft:lft + w] = line
        if plan.on("rules"):  # the cell's borders first; a neighbour's ink shows beyond them
            out, rec["rules"] = self._rules(out, (t, t + h, lft, lft + w), int(line.min()), x_height, rng)
        if plan.on("neighbours") and neighbour is not None:
            out, rec["neighbours"] = self._neighbours(out, neighbour, x_height, rng)
        return out, rec

    def _rules(self, out: np.ndarray, box: tuple[int, int, int, int], ink: int, x_height: float,
               rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        """Table-cell borders around the line's ink ``box`` (top, bottom, left, right in ``out``): rules
        above and/or below across the whole width, and vertical ones at the sides; the image grows where a
        rule falls outside it."""
        cfg = self.cfg.rules
        top, bottom, left, right = box
        th = max(1, int(round(uniform(rng, cfg.thickness) * x_height)))
        edges = ["top", "bottom"] if rng.random() < cfg.both_p else [("top", "bottom")[int(rng.random() < 0.5)]]
        gaps = {e: int(round(uniform(rng, cfg.gap) * x_height)) for e in edges}
        sides = rng.random() < cfg.sides_p
        side_gaps = [int(round(uniform(rng, cfg.side_gap) * x_height)) for _ in range(2)] if sides else []
        # the frame the rules draw, in ``out``'s coordinates (a side without a rule: the image's edge)
        height, width = out.shape
        y0 = top - gaps["top"] - th if "top" in gaps else 0
        y1 = bottom + gaps["bottom"] + th if "bottom" in gaps else height
        x0, x1 = (left - side_gaps[0] - th, right + side_gaps[1] + th) if sides else (0, width)
        pad_t, pad_l = max(0, -y0), max(0, -x0)  # the image grows where the frame falls outside it
        out = np.pad(out, ((pad_t, max(0, y1 - height)), (pad_l, max(0, x1 - width))), constant_values=255)
        y0, y1, x0, x1 = y0 + pad_t, y1 + pad_t, x0 + pad_l, x1 + pad_l
        if "top" in gaps:
            out[y0:y0 + th] = ink
        if "bottom" in gaps:
            out[y1 - th:y1] = ink
        if sides:
            out[y0:y1, x0:x0 + th] = ink
            out[y0:y1, x1 - th:x1] = ink
        return out, {"edges": edges, "thickness": th, "sides": sides}

    def _neighbours(self, out: np.ndarray, nb: np.ndarray, x_height: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        cfg = self.cfg.neighbours
        rows = np.flatnonzero(nb.min(axis=1) < 255)
        if rows.size == 0:
            return out, {}
        nb = nb[rows[0]:rows[-1] + 1]
        u = rng.random()
        edges = ["top", "bottom"] if u < cfg.both_p else (["top"] if rng.random() < 0.5 else ["bottom"])
        rec = {}
        for edge in edges:
            d = max(1, min(nb.shape[0], int(round(uniform(rng, cfg.depth) * x_height))))
            strip = nb[-d:] if edge == "top" else nb[:d]   # the neighbour above shows its bottom rows
            band = np.full((d, out.shape[1]), 255, np.uint8)
            shift = int(rng.integers(-strip.shape[1] // 4, max(1, out.shape[1] // 4)))
            src0, dst0 = max(0, -shift), max(0, shift)
            n = min(strip.shape[1] - src0, out.shape[1] - dst0)
            if n > 0:
                band[:, dst0:dst0 + n] = strip[:, src0:src0 + n]
            out = np.vstack([band, out] if edge == "top" else [out, band])
            rec[edge] = d
        return out, rec

    # -- image ops (after augmentation) -----------------------------------------------------------
    def __call__(self, img: np.ndarray, rng: np.random.Generator, plan: Plan | None = None,
                 scale: float = 1.0) -> tuple[np.ndarray, list[dict]]:
        """The image ops of ``plan`` (drawn here when not given) in a fixed order, and their record;
        ``scale`` (small type): the scan resampling, applied between the print and the scan ops."""
        if img.dtype != np.uint8 or img.ndim != 2:
            raise ValueError(f"expected a uint8 HxW grayscale image, got {img.dtype} {img.shape}")
        if plan is None:
            plan = self.plan(rng)
        record: list[dict[str, Any]] = []
        if plan is None:
            return img, record
        for op in IMAGE_OPS:
            if op == "illumination" and scale != 1.0:
                img, how = self.resample(img, scale, rng)
                record.append({"op": "resample", "factor": round(scale, 4), "interpolation": how})
            if plan.on(op):
                out, params = IMAGE_OP_FUNCS[op](img, rng, getattr(self.cfg, op))
                if self._legible(img, out):
                    img = out
                else:
                    params["undone"] = True
                record.append({"op": op, **params})
        return np.ascontiguousarray(img), record

    def _legible(self, before: np.ndarray, after: np.ndarray) -> bool:
        """Whether ``after`` keeps a plausible amount of ink (the guard against erased or blotted text)."""
        mid = (int(before.min()) + int(before.max())) / 2
        ink0 = np.count_nonzero(before < mid)
        ink1 = np.count_nonzero(after < mid)
        return ink0 == 0 or self.cfg.min_ink <= ink1 / ink0 <= self.cfg.max_ink


__all__ = ["DegradeConfig", "Degrader", "Plan", "OPS", "RENDER_OPS", "IMAGE_OPS", "PRINT_OPS", "SmallTypeOp", "MarginsOp",
           "NeighboursOp", "RulesOp", "IlluminationOp", "InkOp", "DropoutOp", "BinarizeOp", "SpeckleOp", "DegradeJpegOp"]
