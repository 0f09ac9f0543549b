"""Seeded image augmentation for rendered lines (uint8 grayscale, dark ink on light paper).

Every op has a probability ``p`` and parameter ranges in ``AugmentConfig``; all randomness comes from the
``np.random.Generator`` passed in, so (image, rng state) -> output is deterministic. Ops run in a fixed
order: geometry (rotation, skew, perspective) -> morphology -> background/ink -> blur -> rescale ->
contrast/brightness -> noise -> JPEG. ``Augmenter.__call__`` returns the image and a record of the ops
applied with their drawn parameters.

OpenCV + numpy (``aksar.render.image_ops``): the geometric ops drawn for a line are chained into one matrix
and resampled once; photometric ops are 256-entry lookup tables; noise comes from one random byte per pixel
(cost per op: ``benchmarks/augment_ops.py``, docs/notes/augment-speed.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aksar.render.image_ops import Warp, apply_lut, gaussian_noise, jpeg_roundtrip, resize_bilinear

Range = tuple[float, float]


def check_p(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}.p must be within 0..1, got {p}")


def check_range(name: str, r: tuple, lo: float | None = None, hi: float | None = None) -> None:
    if r[0] > r[1]:
        raise ValueError(f"{name}: range start {r[0]} is above its end {r[1]}")
    if lo is not None and r[0] < lo:
        raise ValueError(f"{name}: values must be >= {lo}, got {r[0]}")
    if hi is not None and r[1] > hi:
        raise ValueError(f"{name}: values must be <= {hi}, got {r[1]}")


@dataclass
class BlurAug:
    p: float = 0.35
    radius: Range = (0.3, 1.3)          # Gaussian radius in pixels at font resolution



@dataclass
class MorphologyAug:
    p: float = 0.15
    size: tuple[int, int] = (3, 3)      # odd kernel sizes; erode (thinner ink) or dilate (bolder), 50/50



@dataclass
class NoiseAug:
    p: float = 0.4
    sigma: Range = (2.0, 14.0)          # Gaussian noise, grey levels



@dataclass
class RotationAug:
    p: float = 0.2
    degrees: Range = (-1.5, 1.5)



@dataclass
class SkewAug:
    p: float = 0.15
    shear: Range = (-0.2, 0.2)          # horizontal shear (x += shear * y), like slanted print



@dataclass
class PerspectiveAug:
    p: float = 0.1
    magnitude: Range = (0.0, 0.08)      # corner displacement as a share of the image height



@dataclass
class BackgroundAug:
    p: float = 0.4
    kinds: list[str] = field(default_factory=lambda: ["paper", "gradient"])
    paper: Range = (185.0, 255.0)       # paper grey level
    ink: Range = (0.0, 70.0)            # ink grey level
    texture: Range = (2.0, 14.0)        # amplitude of the paper's low-frequency texture / gradient span



@dataclass
class ContrastAug:
    p: float = 0.3
    factor: Range = (0.6, 1.3)



@dataclass
class BrightnessAug:
    p: float = 0.3
    delta: Range = (-35.0, 25.0)        # grey levels added



@dataclass
class JpegAug:
    p: float = 0.15
    quality: tuple[int, int] = (30, 90)



@dataclass
class RescaleAug:
    p: float = 0.2
    factor: Range = (0.45, 0.9)         # down-scale by this factor, then back up to the original size



@dataclass
class AugmentConfig:
    """Probability and parameter range of each op (``enabled: false`` turns all off)."""

    enabled: bool = True
    rotation: RotationAug = field(default_factory=RotationAug)
    skew: SkewAug = field(default_factory=SkewAug)
    perspective: PerspectiveAug = field(default_factory=PerspectiveAug)
    morphology: MorphologyAug = field(default_factory=MorphologyAug)
    background: BackgroundAug = field(default_factory=BackgroundAug)
    blur: BlurAug = field(default_factory=BlurAug)
    rescale: RescaleAug = field(default_factory=RescaleAug)
    contrast: ContrastAug = field(default_factory=ContrastAug)
    brightness: BrightnessAug = field(default_factory=BrightnessAug)
    noise: NoiseAug = field(default_factory=NoiseAug)
    jpeg: JpegAug = field(default_factory=JpegAug)

    def __post_init__(self) -> None:
        for name in OP_ORDER:
            op = getattr(self, name)
            check_p(name, op.p)
            for key, (lo, hi) in _LIMITS[name].items():
                check_range(f"{name}.{key}", getattr(op, key), lo, hi)
        if any(s % 2 == 0 for s in self.morphology.size):
            raise ValueError(f"morphology.size: kernel sizes must be odd, got {list(self.morphology.size)}")
        bg = self.background
        if not bg.kinds or set(bg.kinds) - {"paper", "gradient"}:
            raise ValueError(f"background.kinds: expected a non-empty list of paper, gradient; got {bg.kinds}")
        if bg.ink[1] >= bg.paper[0]:
            raise ValueError("background: ink range must lie below the paper range")

    @classmethod
    def only(cls, *ops: str, **probabilities: float) -> "AugmentConfig":
        """A config with every op off except ``ops`` (p=1, or the given probabilities)."""
        cfg = cls()
        for name in OP_ORDER:
            getattr(cfg, name).p = 0.0
        for name in ops:
            getattr(cfg, name).p = 1.0
        for name, p in probabilities.items():
            getattr(cfg, name).p = p
        return cfg


# Allowed bounds of each op's ranges.
_LIMITS: dict[str, dict[str, tuple[float, float]]] = {
    "blur": {"radius": (0, 20)}, "morphology": {"size": (3, 15)}, "noise": {"sigma": (0, 128)},
    "rotation": {"degrees": (-45, 45)}, "skew": {"shear": (-1, 1)}, "perspective": {"magnitude": (0, 0.5)},
    "background": {"paper": (0, 255), "ink": (0, 255), "texture": (0, 128)}, "contrast": {"factor": (0, 5)},
    "brightness": {"delta": (-255, 255)}, "jpeg": {"quality": (1, 100)}, "rescale": {"factor": (0.05, 1)},
}

OP_ORDER = ("rotation", "skew", "perspective", "morphology", "background", "blur", "rescale",
            "contrast", "brightness", "noise", "jpeg")


def uniform(rng: np.random.Generator, r: tuple) -> float:
    return float(r[0]) if r[0] == r[1] else float(rng.uniform(r[0], r[1]))


class Augmenter:
    """Applies ``AugmentConfig`` to uint8 grayscale images with a caller-supplied Generator."""

    def __init__(self, cfg: AugmentConfig | None = None):
        self.cfg = cfg or AugmentConfig()

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
        import cv2

        if img.dtype != np.uint8 or img.ndim != 2:
            raise ValueError(f"expected a uint8 HxW grayscale image, got {img.dtype} {img.shape}")
        record: list[dict[str, Any]] = []
        if not self.cfg.enabled:
            return img, record
        cfg = self.cfg
        draws = rng.random(len(OP_ORDER))
        on = {name: bool(u < getattr(cfg, name).p) for name, u in zip(OP_ORDER, draws)}
        arr = self._geometry(img, rng, on, record)
        if on["morphology"]:
            size = int(rng.integers(cfg.morphology.size[0] // 2, cfg.morphology.size[1] // 2 + 1)) * 2 + 1
            dilate = bool(rng.random() < 0.5)
            # ink is dark: a min filter (erosion of the grey levels) grows it, a max filter thins it
            kernel = np.ones((size, size), np.uint8)
            arr = cv2.erode(arr, kernel) if dilate else cv2.dilate(arr, kernel)
            record.append({"op": "morphology", "kind": "dilate" if dilate else "erode", "size": size})
        if on["background"]:
            arr = self._background(arr, rng, record)
        if on["blur"]:
            radius = uniform(rng, cfg.blur.radius)   # the Gaussian's standard deviation, as in PIL
            arr = cv2.GaussianBlur(arr, (0, 0), radius, borderType=cv2.BORDER_REPLICATE)
            record.append({"op": "blur", "radius": round(radius, 4)})
        if on["rescale"]:
            factor = uniform(rng, cfg.rescale.factor)
            h, w = arr.shape
            small = resize_bilinear(arr, (max(1, round(w * factor)), max(1, round(h * factor))))
            arr = resize_bilinear(small, (w, h))
            record.append({"op": "rescale", "factor": round(factor, 4)})
        if on["contrast"] or on["brightness"]:
            lut = np.arange(256, dtype=np.float32)
            if on["contrast"]:
                factor = uniform(rng, cfg.contrast.factor)
                mean = float(cv2.mean(arr)[0])
                lut = (lut - mean) * factor + mean
                record.append({"op": "contrast", "factor": round(factor, 4)})
            if on["brightness"]:
                delta = uniform(rng, cfg.brightness.delta)
                lut = lut + delta
                record.append({"op": "brightness", "delta": round(delta, 3)})
            arr = apply_lut(arr, lut)
        if on["noise"]:
            sigma = uniform(rng, cfg.noise.sigma)
            arr = gaussian_noise(arr, sigma, rng)
            record.append({"op": "noise", "sigma": round(sigma, 4)})
        if on["jpeg"]:
            quality = int(rng.integers(cfg.jpeg.quality[0], cfg.jpeg.quality[1] + 1))
            arr = jpeg_roundtrip(arr, quality)
            record.append({"op": "jpeg", "quality": quality})
        if not arr.flags.writeable:
            arr = arr.copy()
        return arr, record

    def _geometry(self, img: np.ndarray, rng: np.random.Generator, on: dict[str, bool],
                  record: list) -> np.ndarray:
        """Rotation, skew and perspective, drawn in that order and resampled once (one ``Warp``)."""
        cfg = self.cfg
        if not (on["rotation"] or on["skew"] or on["perspective"]):
            return img
        warp = Warp(img.shape[1], img.shape[0])
        if on["rotation"]:
            deg = uniform(rng, cfg.rotation.degrees)
            warp.rotate(deg)
            record.append({"op": "rotation", "degrees": round(deg, 4)})
        if on["skew"]:
            shear = uniform(rng, cfg.skew.shear)
            warp.shear(shear)     # shear > 0 leans the text right (as italics)
            record.append({"op": "skew", "shear": round(shear, 4)})
        if on["perspective"]:
            h = warp.h
            mag = uniform(rng, cfg.perspective.magnitude) * h
            warp.perspective(rng.uniform(-mag, mag, size=(4, 2)))
            record.append({"op": "perspective", "magnitude": round(mag / max(h, 1), 4)})
        return warp.apply(img)

    def _background(self, a: np.ndarray, rng: np.random.Generator, record: list) -> np.ndarray:
        import cv2

        cfg = self.cfg.background
        h, w = a.shape
        kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
        paper = uniform(rng, cfg.paper)
        ink = uniform(rng, cfg.ink)
        amp = uniform(rng, cfg.texture)
        if kind == "paper":   # low-frequency texture: a coarse random grid, upsampled
            gh, gw = max(2, h // 16), max(2, w // 16)
            grid = rng.standard_normal((gh, gw), dtype=np.float32)
            grid *= amp
            grid += paper - ink
            span = cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)   # paper - ink
        else:                 # a linear ramp at a random angle
            angle = rng.uniform(0, 2 * np.pi)
            ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None] * np.float32(2 * amp * np.sin(angle))
            xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :] * np.float32(2 * amp * np.cos(angle))
            span = ys + (xs + np.float32(paper - ink))
        # out = ink + (paper - ink) * alpha, alpha = a / 255 (1 = paper, 0 = ink)
        span = cv2.multiply(span, a, scale=1 / 255, dtype=cv2.CV_32F)
        record.append({"op": "background", "kind": kind, "paper": round(paper, 2), "ink": round(ink, 2),
                       "texture": round(amp, 3)})
        return cv2.convertScaleAbs(span, alpha=1.0, beta=ink)


__all__ = ["AugmentConfig", "Augmenter", "OP_ORDER", "BlurAug", "MorphologyAug", "NoiseAug", "RotationAug",
           "SkewAug", "PerspectiveAug", "BackgroundAug", "ContrastAug", "BrightnessAug", "JpegAug",
           "RescaleAug"]
