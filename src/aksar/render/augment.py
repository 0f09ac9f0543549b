"""Seeded image augmentation for rendered lines (uint8 grayscale, dark ink on light paper).

Every op has a probability ``p`` and parameter ranges in ``AugmentConfig``; all randomness comes from the
``np.random.Generator`` passed in, so (image, rng state) -> output is deterministic. Ops run in a fixed
order: geometry (rotation, skew, perspective) -> morphology -> background/ink -> blur -> rescale ->
contrast/brightness -> noise -> JPEG. ``Augmenter.__call__`` returns the image and a record of the ops
applied with their drawn parameters.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


def _perspective_coeffs(dst: np.ndarray, src: np.ndarray) -> list[float]:
    """Coefficients for PIL's PERSPECTIVE transform mapping output points ``dst`` to input points ``src``."""
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for i, ((x, y), (u, v)) in enumerate(zip(dst, src)):
        a[2 * i] = [x, y, 1, 0, 0, 0, -u * x, -u * y]
        a[2 * i + 1] = [0, 0, 0, x, y, 1, -v * x, -v * y]
        b[2 * i], b[2 * i + 1] = u, v
    return np.linalg.solve(a, b).tolist()


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """The grayscale image after a JPEG encode/decode at ``quality`` (Pillow, fixed settings)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.array(decoded.convert("L"))


class Augmenter:
    """Applies ``AugmentConfig`` to uint8 grayscale images with a caller-supplied Generator."""

    def __init__(self, cfg: AugmentConfig | None = None):
        self.cfg = cfg or AugmentConfig()

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
        from PIL import Image

        if img.dtype != np.uint8 or img.ndim != 2:
            raise ValueError(f"expected a uint8 HxW grayscale image, got {img.dtype} {img.shape}")
        record: list[dict[str, Any]] = []
        if not self.cfg.enabled:
            return img, record
        cfg = self.cfg
        on = {name: rng.random() < getattr(cfg, name).p for name in OP_ORDER}
        pil = None
        arr = img

        def as_pil():
            nonlocal pil, arr
            if pil is None:
                pil = Image.fromarray(arr)
                arr = None
            return pil

        def as_arr():
            nonlocal pil, arr
            if arr is None:
                arr = np.asarray(pil)
                pil = None
            return arr

        if on["rotation"]:
            deg = uniform(rng, cfg.rotation.degrees)
            pil = as_pil().rotate(deg, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
            record.append({"op": "rotation", "degrees": round(deg, 4)})
        if on["skew"]:
            shear = uniform(rng, cfg.skew.shear)
            im = as_pil()
            w, h = im.size
            extra = int(np.ceil(abs(shear) * h))
            # output (x, y) samples input (x + shear*y - offset, y): the text leans right for shear < 0
            offset = extra if shear > 0 else 0
            pil = im.transform((w + extra, h), Image.Transform.AFFINE, (1, shear, -offset, 0, 1, 0),
                               resample=Image.Resampling.BILINEAR, fillcolor=255)
            record.append({"op": "skew", "shear": round(shear, 4)})
        if on["perspective"]:
            im = as_pil()
            w, h = im.size
            mag = uniform(rng, cfg.perspective.magnitude) * h
            jitter = rng.uniform(-mag, mag, size=(4, 2))
            dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
            src = dst + jitter
            pil = im.transform((w, h), Image.Transform.PERSPECTIVE, _perspective_coeffs(dst, src),
                               resample=Image.Resampling.BILINEAR, fillcolor=255)
            record.append({"op": "perspective", "magnitude": round(mag / max(h, 1), 4)})
        if on["morphology"]:
            from PIL import ImageFilter

            size = int(rng.integers(cfg.morphology.size[0] // 2, cfg.morphology.size[1] // 2 + 1)) * 2 + 1
            dilate = bool(rng.random() < 0.5)
            # ink is dark: a min filter grows it (dilate), a max filter thins it (erode)
            flt = ImageFilter.MinFilter(size) if dilate else ImageFilter.MaxFilter(size)
            pil = as_pil().filter(flt)
            record.append({"op": "morphology", "kind": "dilate" if dilate else "erode", "size": size})
        if on["background"]:
            arr = self._background(as_arr(), rng, record)
        if on["blur"]:
            from PIL import ImageFilter

            radius = uniform(rng, cfg.blur.radius)
            pil = as_pil().filter(ImageFilter.GaussianBlur(radius))
            record.append({"op": "blur", "radius": round(radius, 4)})
        if on["rescale"]:
            factor = uniform(rng, cfg.rescale.factor)
            im = as_pil()
            w, h = im.size
            small = im.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.BILINEAR)
            pil = small.resize((w, h), Image.Resampling.BILINEAR)
            record.append({"op": "rescale", "factor": round(factor, 4)})
        if on["contrast"] or on["brightness"]:
            a = as_arr()
            lut = np.arange(256, dtype=np.float32)
            if on["contrast"]:
                factor = uniform(rng, cfg.contrast.factor)
                mean = float(a.mean())
                lut = (lut - mean) * factor + mean
                record.append({"op": "contrast", "factor": round(factor, 4)})
            if on["brightness"]:
                delta = uniform(rng, cfg.brightness.delta)
                lut = lut + delta
                record.append({"op": "brightness", "delta": round(delta, 3)})
            arr = np.clip(np.rint(lut), 0, 255).astype(np.uint8)[a]
        if on["noise"]:
            sigma = uniform(rng, cfg.noise.sigma)
            a = as_arr()
            noise = rng.standard_normal(a.shape, dtype=np.float32)
            noise *= sigma
            noise += a
            arr = np.clip(noise, 0, 255, out=noise).astype(np.uint8)
            record.append({"op": "noise", "sigma": round(sigma, 4)})
        if on["jpeg"]:
            quality = int(rng.integers(cfg.jpeg.quality[0], cfg.jpeg.quality[1] + 1))
            arr = jpeg_roundtrip(as_arr(), quality)
            record.append({"op": "jpeg", "quality": quality})
        out = as_arr()
        if not out.flags.writeable:
            out = out.copy()
        return out, record

    def _background(self, a: np.ndarray, rng: np.random.Generator, record: list) -> np.ndarray:
        cfg = self.cfg.background
        h, w = a.shape
        kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
        paper = uniform(rng, cfg.paper)
        ink = uniform(rng, cfg.ink)
        amp = uniform(rng, cfg.texture)
        if kind == "paper":
            from PIL import Image

            gh, gw = max(2, h // 16), max(2, w // 16)
            grid = rng.standard_normal((gh, gw), dtype=np.float32)
            low = np.asarray(Image.fromarray(grid, mode="F").resize((w, h), Image.Resampling.BILINEAR))
            bg = paper + amp * low
        else:
            angle = rng.uniform(0, 2 * np.pi)
            ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None] * np.sin(angle)
            xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :] * np.cos(angle)
            bg = paper + 2 * amp * (ys + xs)
        alpha = a.astype(np.float32) * (1 / 255)  # 1 = paper, 0 = ink
        out = ink + (bg - ink) * alpha
        record.append({"op": "background", "kind": kind, "paper": round(paper, 2), "ink": round(ink, 2),
                       "texture": round(amp, 3)})
        return np.clip(out, 0, 255).astype(np.uint8)


__all__ = ["AugmentConfig", "Augmenter", "OP_ORDER", "jpeg_roundtrip", "BlurAug", "MorphologyAug", "NoiseAug", "RotationAug",
           "SkewAug", "PerspectiveAug", "BackgroundAug", "ContrastAug", "BrightnessAug", "JpegAug",
           "RescaleAug"]
