"""Scan and phone-photo degradation of a whole page together with its line polygons.

Order: bleed-through and uneven light (on the paper), then one homography (rotation, skew, perspective;
the canvas grows to keep the whole page), blur, low resolution, noise, specks, 1-bit binarization, JPEG.
Geometric steps move the polygons with the same matrix (``cv2.perspectiveTransform``) or scale, so a
polygon keeps enclosing its line's ink. The photometric ops of line degradation (``degrade_ops``) run on
the page unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from aksar.render import degrade_ops
from aksar.render.augment import check_p, check_range, uniform
from aksar.render.image_ops import gaussian_noise

Polygon = np.ndarray  # float64 Nx2 (x, y)


@dataclass
class PageDegradeConfig:
    """Probabilities and ranges of the page degradations (a ``clean_p`` share of pages is left clean)."""

    enabled: bool = True
    clean_p: float = 0.15
    bleed_p: float = 0.2
    bleed_strength: tuple[float, float] = (0.04, 0.15)
    light_p: float = 0.4
    light_kinds: list[str] = field(default_factory=lambda: ["gradient", "shadow", "vignette"])
    light_strength: tuple[float, float] = (0.1, 0.45)
    rotate_p: float = 0.6
    degrees: tuple[float, float] = (-3.0, 3.0)
    skew_p: float = 0.3
    shear: tuple[float, float] = (-0.04, 0.04)
    perspective_p: float = 0.3
    perspective: tuple[float, float] = (0.0, 0.04)    # corner shift, share of the shorter side
    blur_p: float = 0.35
    blur_sigma: tuple[float, float] = (0.3, 1.4)      # px
    lowres_p: float = 0.3
    lowres_dpi: tuple[int, int] = (72, 150)           # only ever lowers the page's dpi
    noise_p: float = 0.35
    noise_sigma: tuple[float, float] = (2.0, 12.0)
    speckle_p: float = 0.2
    speckle_density: tuple[float, float] = (1e-5, 1e-4)  # specks per px
    binarize_p: float = 0.12
    binarize_methods: dict[str, float] = field(default_factory=lambda: {"global": 1.0, "sauvola": 1.0,
                                                                         "dither": 0.3})
    jpeg_p: float = 0.35
    jpeg_quality: tuple[int, int] = (30, 90)

    def __post_init__(self) -> None:
        for name in ("clean_p", "bleed_p", "light_p", "rotate_p", "skew_p", "perspective_p", "blur_p",
                     "lowres_p", "noise_p", "speckle_p", "binarize_p", "jpeg_p"):
            check_p(f"degrade.{name}", getattr(self, name))
        check_range("degrade.degrees", self.degrees, -20, 20)
        check_range("degrade.perspective", self.perspective, 0, 0.2)
        check_range("degrade.lowres_dpi", self.lowres_dpi, 36, 1200)
        check_range("degrade.jpeg_quality", self.jpeg_quality, 1, 100)


def _paper_level(img: np.ndarray) -> int:
    return int(np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])))


def transform_points(polys: list[Polygon], m: np.ndarray) -> list[Polygon]:
    """Every polygon through the 3x3 matrix ``m``."""
    import cv2

    return [cv2.perspectiveTransform(np.asarray(p, np.float64).reshape(-1, 1, 2), m).reshape(-1, 2)
            for p in polys]


def homography(w: int, h: int, rng: np.random.Generator, cfg: PageDegradeConfig) -> tuple[np.ndarray, dict]:
    """Rotation about the centre, shear and a corner-jitter perspective, as one 3x3 matrix (or identity)."""
    import cv2

    rec: dict = {}
    m = np.eye(3)
    centre = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]])
    back = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    if rng.random() < cfg.rotate_p:
        a = np.deg2rad(uniform(rng, cfg.degrees))
        m = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]) @ m
        rec["degrees"] = round(float(np.rad2deg(a)), 3)
    if rng.random() < cfg.skew_p:
        s = uniform(rng, cfg.shear)
        m = np.array([[1, s, 0], [0, 1, 0], [0, 0, 1]]) @ m
        rec["shear"] = round(s, 4)
    m = centre @ m @ back
    if rng.random() < cfg.perspective_p:
        mag = uniform(rng, cfg.perspective) * min(w, h)
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
        moved = transform_points([src], m)[0]
        jitter = moved + rng.uniform(-mag, mag, size=(4, 2))
        m = cv2.getPerspectiveTransform(moved.astype(np.float32), jitter.astype(np.float32)) @ m
        rec["perspective_px"] = round(mag, 2)
    return m, rec


def warp(img: np.ndarray, polys: list[Polygon], m: np.ndarray) -> tuple[np.ndarray, list[Polygon]]:
    """``img`` through ``m`` on a canvas grown to hold the whole page (outside: the paper's level)."""
    import cv2

    h, w = img.shape
    corners = transform_points([np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)], m)[0]
    lo = np.floor(corners.min(axis=0))
    hi = np.ceil(corners.max(axis=0))
    shift = np.array([[1, 0, -lo[0]], [0, 1, -lo[1]], [0, 0, 1]])
    full = shift @ m
    size = (int(hi[0] - lo[0]), int(hi[1] - lo[1]))
    out = cv2.warpPerspective(img, full, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=_paper_level(img))
    return out, transform_points(polys, full)


def bleed_through(img: np.ndarray, back: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Faint mirrored ink of the other side: ``back`` (ink coverage 0..1, any size; ``render.page`` passes
    the page's own, which the shift turns into other text) mirrored, shifted, blurred."""
    import cv2

    h, w = img.shape
    ink = cv2.resize(np.ascontiguousarray(back[:, ::-1], np.float32), (w, h), interpolation=cv2.INTER_AREA)
    # shifted by up to a third of the page: other lines than this side's, as another page's would be
    ink = np.roll(ink, (int(rng.integers(-h // 3, h // 3 + 1)), int(rng.integers(-w // 3, w // 3 + 1))), axis=(0, 1))
    ink = cv2.GaussianBlur(ink, (0, 0), max(0.8, 0.002 * w))
    out = img.astype(np.float32) * (1 - strength * ink)
    return np.clip(out, 0, 255).astype(np.uint8)


def degrade_page(img: np.ndarray, polys: list[Polygon], dpi: int, rng: np.random.Generator,
                 cfg: PageDegradeConfig, back: np.ndarray | None = None,
                 ) -> tuple[np.ndarray, list[Polygon], int, list[dict]]:
    """(image, polygons, dpi, record) after the drawn degradations; ``back`` enables bleed-through."""
    import cv2

    record: list[dict] = []
    if not cfg.enabled or rng.random() < cfg.clean_p:
        return img, polys, dpi, record
    if back is not None and rng.random() < cfg.bleed_p:
        s = uniform(rng, cfg.bleed_strength)
        img = bleed_through(img, back, rng, s)
        record.append({"op": "bleed_through", "strength": round(s, 3)})
    if rng.random() < cfg.light_p:
        img, rec = degrade_ops.illumination(img, rng, SimpleNamespace(kinds=cfg.light_kinds,
                                                                      strength=cfg.light_strength))
        record.append({"op": "illumination", **rec})
    h, w = img.shape
    m, rec = homography(w, h, rng, cfg)
    if rec:
        img, polys = warp(img, polys, m)
        record.append({"op": "homography", **rec})
    if rng.random() < cfg.blur_p:
        sigma = uniform(rng, cfg.blur_sigma)
        img = cv2.GaussianBlur(img, (0, 0), sigma)
        record.append({"op": "blur", "sigma": round(sigma, 3)})
    if rng.random() < cfg.lowres_p:
        target = int(rng.integers(cfg.lowres_dpi[0], cfg.lowres_dpi[1] + 1))
        if target < dpi:
            h, w = img.shape
            nw, nh = max(1, round(w * target / dpi)), max(1, round(h * target / dpi))
            img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
            polys = [p * np.array([nw / w, nh / h]) for p in polys]
            record.append({"op": "lowres", "dpi": target, "from_dpi": dpi})
            dpi = target
    if rng.random() < cfg.noise_p:
        sigma = uniform(rng, cfg.noise_sigma)
        img = gaussian_noise(img, sigma, rng)
        record.append({"op": "noise", "sigma": round(sigma, 3)})
    if rng.random() < cfg.speckle_p:
        img, rec = degrade_ops.speckle(img, rng, SimpleNamespace(density=cfg.speckle_density, size=(1, 3)))
        record.append({"op": "speckle", **rec})
    if rng.random() < cfg.binarize_p:
        img, rec = degrade_ops.binarize(img, rng, SimpleNamespace(
            methods=cfg.binarize_methods, offset=(-15.0, 15.0), window=(0.01, 0.04), k=(0.1, 0.4)))
        record.append({"op": "binarize", **rec})
    if rng.random() < cfg.jpeg_p:
        img, rec = degrade_ops.jpeg(img, rng, SimpleNamespace(quality=cfg.jpeg_quality))
        record.append({"op": "jpeg", **rec})
    return np.ascontiguousarray(img), polys, dpi, record


__all__ = ["PageDegradeConfig", "degrade_page", "homography", "warp", "transform_points", "bleed_through"]
