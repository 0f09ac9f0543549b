"""The image ops of document degradation (``Degrader`` runs them): each is
``op(img, rng, cfg) -> (img, params)`` on a uint8 grayscale line, ``cfg`` its section of ``DegradeConfig``."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from aksar.core.rng import weighted_choice
from aksar.render.augment import uniform
from aksar.render.image_ops import jpeg_roundtrip

# 8x8 Bayer matrix, thresholds in 0..255 (ordered dither)
_B2 = np.array([[0, 2], [3, 1]])
_B4 = np.block([[4 * _B2, 4 * _B2 + 2], [4 * _B2 + 3, 4 * _B2 + 1]])
_BAYER8 = ((np.block([[4 * _B4, 4 * _B4 + 2], [4 * _B4 + 3, 4 * _B4 + 1]]) + 0.5) * 4).astype(np.float32)
_BAYER8_U8 = _BAYER8.astype(np.uint8)   # 4k + 2: whole numbers, so img > threshold is the same test on uint8



def illumination(img: np.ndarray, rng: np.random.Generator, cfg: Any) -> tuple[np.ndarray, dict]:
    """Uneven light: a gradient, a soft shadow band or a vignette darkens the paper (and ink) by up to ``s``."""
    import cv2

    kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
    s = uniform(rng, cfg.strength)
    h, w = img.shape
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xs = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    if kind == "gradient":
        a = float(rng.uniform(0, 2 * np.pi))
        ramp = math.cos(a) * xs + math.sin(a) * ys
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        dark = s * ramp
    elif kind == "shadow":  # a soft band (fold, binding, finger) across the line
        centre, width = float(rng.uniform(0, 1)), float(rng.uniform(0.05, 0.3))
        slope = float(rng.uniform(-0.3, 0.3)) * h / max(w, 1)
        dist = np.abs(xs + slope * ys - centre) / width
        dark = s * np.exp(-dist * dist)
    else:
        cx, cy = float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.0, 1.0))
        r2 = ((xs - cx) * w / max(h, 1)) ** 2 / 40 + (ys - cy) ** 2
        dark = s * np.clip(r2, 0, 1)
    dark = 1 - np.broadcast_to(dark, img.shape)        # the share of each pixel's light kept
    out = cv2.multiply(img, dark, dtype=cv2.CV_8U)
    return out, {"kind": kind, "strength": round(s, 3)}


def ink(img: np.ndarray, rng: np.random.Generator, cfg: Any) -> tuple[np.ndarray, dict]:
    """Ink spread (toner bleeds: bolder) or thinning (faint print): blur, then re-threshold softly."""
    import cv2

    sigma = max(0.3, uniform(rng, cfg.sigma) * img.shape[0])
    spread = bool(rng.random() < cfg.spread_p)
    level = uniform(rng, cfg.level)
    blurred = cv2.GaussianBlur(img, (0, 0), sigma)
    lo, hi = (float(v) for v in cv2.minMaxLoc(img)[:2])
    t = lo + (hi - lo) * (0.5 + level if spread else 0.5 - level)  # above mid-grey: more is ink
    lut = np.clip((np.arange(256, dtype=np.float32) - t) * 4.0 + (lo + hi) / 2, lo, hi).astype(np.uint8)
    return cv2.LUT(blurred, lut), {"kind": "spread" if spread else "thin",
                                                   "sigma": round(sigma, 3), "level": round(level, 3)}

def dropout(img: np.ndarray, rng: np.random.Generator, cfg: Any) -> tuple[np.ndarray, dict]:
    """Broken strokes (blob-shaped gaps in the ink) and salt noise on the ink."""
    import cv2

    h, w = img.shape
    blobs = uniform(rng, cfg.blobs)
    salt = uniform(rng, cfg.salt)
    gh, gw = max(2, h // 3), max(2, w // 3)
    field_ = cv2.resize(rng.random((gh, gw), dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    gap = field_ < blobs * 1.6          # the interpolated field is smoother than uniform: rescale
    if salt > 0:                        # each pixel with probability salt (in steps of 1/65536)
        gap |= rng.integers(0, 65536, (h, w), dtype=np.uint16) < round(salt * 65536)
    lo, hi = (int(v) for v in cv2.minMaxLoc(img)[:2])
    gap &= img < (lo + hi) // 2         # on the ink only
    out = img.copy()
    np.copyto(out, np.uint8(hi), where=gap)
    return out, {"blobs": round(blobs, 4), "salt": round(salt, 4)}

def binarize(img: np.ndarray, rng: np.random.Generator, cfg: Any) -> tuple[np.ndarray, dict]:
    """1-bit: ink 0, paper 255."""
    import cv2

    method = weighted_choice(cfg.methods, rng)
    if method == "global":
        otsu, _ = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        t = float(np.clip(otsu + uniform(rng, cfg.offset), 1, 254))
        _, out = cv2.threshold(img, t, 255, cv2.THRESH_BINARY)   # img > t: paper
        return out, {"method": method, "threshold": round(t, 1)}
    if method == "sauvola":
        h = img.shape[0]
        win = max(3, int(round(uniform(rng, cfg.window) * h)) | 1)
        k = uniform(rng, cfg.k)
        f = img.astype(np.float32)
        mean = cv2.boxFilter(f, -1, (win, win), borderType=cv2.BORDER_REPLICATE)
        sq = cv2.boxFilter(f * f, -1, (win, win), borderType=cv2.BORDER_REPLICATE)
        std = np.sqrt(np.maximum(sq - mean * mean, 0))
        t = mean * (1 + k * (std / 128.0 - 1))
        return cv2.compare(f, t, cv2.CMP_GT), {"method": method, "window": win, "k": round(k, 3)}
    h, w = img.shape
    oy, ox = (int(v) for v in rng.integers(0, 8, size=2))
    reps = ((h + oy) // 8 + 1, (w + ox) // 8 + 1)
    thr = np.tile(_BAYER8_U8, reps)[oy:oy + h, ox:ox + w]
    return cv2.compare(img, thr, cv2.CMP_GT), {"method": method}

def speckle(img: np.ndarray, rng: np.random.Generator, cfg: Any) -> tuple[np.ndarray, dict]:
    """Dark specks of dust and toner on the paper."""
    h, w = img.shape
    density = uniform(rng, cfg.density)
    n = int(rng.poisson(density * h * w))
    out = img.copy()
    if n:
        ys = rng.integers(0, h, size=n)
        xs = rng.integers(0, w, size=n)
        sizes = rng.integers(cfg.size[0], cfg.size[1] + 1, size=n)
        level = np.uint8(img.min())
        for dy in range(int(sizes.max())):      # a speck covers [y, y+s) x [x, x+s), cut at the border
            for dx in range(int(sizes.max())):
                keep = (sizes > max(dy, dx)) & (ys + dy < h) & (xs + dx < w)
                out[ys[keep] + dy, xs[keep] + dx] = level
    return out, {"density": round(density, 5), "specks": n}

def jpeg(img: np.ndarray, rng: np.random.Generator, cfg: Any) -> tuple[np.ndarray, dict]:
    q = cfg.quality
    quality = int(rng.integers(q[0], q[1] + 1))
    return jpeg_roundtrip(img, quality), {"quality": quality}


IMAGE_OP_FUNCS = {"illumination": illumination, "ink": ink, "dropout": dropout, "binarize": binarize,
                  "speckle": speckle, "jpeg": jpeg}
