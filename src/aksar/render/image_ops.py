"""Fast primitives on uint8 grayscale lines (OpenCV + numpy), shared by augmentation and degradation.

- ``Warp`` chains geometric ops (rotation with expand, horizontal shear, perspective) as one
  output->input matrix and resamples once (bilinear, white border) instead of once per op;
- ``gaussian_noise`` adds N(0, sigma) grey levels from one random byte per pixel through a 256-entry
  quantile table (``rng.bytes`` + ``cv2.LUT``: ~10x cheaper than ``standard_normal``);
- ``resize_bilinear`` matches Pillow's antialiased BILINEAR resize with a Gaussian + bilinear sampling;
- ``jpeg_roundtrip`` encodes and decodes with OpenCV's libjpeg.

Coordinates are continuous (a pixel covers [i, i+1)), as in PIL's transforms; ``Warp.apply`` converts to
OpenCV's pixel-centre convention.
"""
from __future__ import annotations

import math

import numpy as np


def _cv2():
    import cv2

    return cv2


def one_thread_per_worker() -> None:
    """OpenCV on the calling thread only: on line-sized images its thread pool costs more CPU than it saves
    (measured: 1.3-1.4x the lines per CPU second without it), and render workers already use every core.

    Call it in the parent before forking workers, and in each worker (a no-op there after a fork): changing
    the thread count in a forked child whose parent had used OpenCV's pool deadlocks."""
    cv2 = _cv2()
    if cv2.getNumThreads() != 1:
        cv2.setNumThreads(1)


class Warp:
    """A chain of geometric ops on a ``w x h`` image: ``inv`` maps output to input coordinates."""

    def __init__(self, w: int, h: int):
        self.w, self.h = w, h
        self.inv = np.eye(3)

    def _then(self, m: np.ndarray, w: int, h: int) -> None:
        """Append an op whose output->input map is ``m`` and whose output size is ``w x h``."""
        self.inv = self.inv @ m
        self.w, self.h = w, h

    def rotate(self, degrees: float) -> None:
        """Counter-clockwise about the centre, the canvas grown to hold every corner (PIL's expand=True)."""
        w, h = self.w, self.h
        a = -math.radians(degrees)
        c, s = math.cos(a), math.sin(a)
        rot = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        centre = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1.0]])
        m = centre @ rot @ np.linalg.inv(centre)          # output -> input, same canvas
        corners = np.array([[0, w, w, 0], [0, 0, h, h], [1, 1, 1, 1.0]])
        fwd = np.linalg.inv(m) @ corners                  # where the input corners land
        nw = math.ceil(fwd[0].max() - 1e-9) - math.floor(fwd[0].min() + 1e-9)
        nh = math.ceil(fwd[1].max() - 1e-9) - math.floor(fwd[1].min() + 1e-9)
        shift = np.array([[1, 0, -(nw - w) / 2], [0, 1, -(nh - h) / 2], [0, 0, 1.0]])
        self._then(m @ shift, nw, nh)

    def shear(self, shear: float) -> None:
        """Output (x, y) samples input (x + shear*y - offset, y), the canvas widened by ceil(|shear|*h);
        shear > 0 leans the text right."""
        w, h = self.w, self.h
        extra = int(math.ceil(abs(shear) * h))
        offset = extra if shear > 0 else 0
        self._then(np.array([[1, shear, -offset], [0, 1, 0], [0, 0, 1.0]]), w + extra, h)

    def perspective(self, jitter: np.ndarray) -> None:
        """Output corners (0,0) (w,0) (w,h) (0,h) sample the input at those corners + ``jitter`` (4x2)."""
        w, h = self.w, self.h
        dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
        m = _cv2().getPerspectiveTransform(dst.astype(np.float32), (dst + jitter).astype(np.float32))
        self._then(m, w, h)

    def apply(self, img: np.ndarray) -> np.ndarray:
        """The image resampled once through the whole chain (bilinear, white outside the input)."""
        cv2 = _cv2()
        half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
        m = np.linalg.inv(half) @ self.inv @ half           # pixel-centre coordinates
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        size = (self.w, self.h)
        if abs(m[2, 0]) < 1e-12 and abs(m[2, 1]) < 1e-12:
            return cv2.warpAffine(img, m[:2] / m[2, 2], size, flags=flags, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=255)
        return cv2.warpPerspective(img, m, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=255)


def resize_bilinear(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` resized to ``size`` (w, h) as Pillow's BILINEAR does (antialiased when shrinking), at a
    half to a third of its cost: Pillow's triangle of half-width s (the scale) has variance s^2/6 px^2,
    given here by an exact k x k box average (k = s // 2, OpenCV's fast integer path), a Gaussian of
    the variance left, then bilinear sampling (1/6); within ~0.6 grey levels of Pillow on average
    from s = 2 up (~1.5 at s = 1.2-2)."""
    cv2 = _cv2()
    h, w = img.shape
    sx, sy = w / size[0], h / size[1]
    if sx <= 1 and sy <= 1:
        return cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    kx, ky = max(1, int(sx / 2)), max(1, int(sy / 2))
    if kx > 1 or ky > 1:
        ph, pw = -h % ky, -w % kx
        if ph or pw:
            img = cv2.copyMakeBorder(img, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        img = cv2.resize(img, ((w + pw) // kx, (h + ph) // ky), interpolation=cv2.INTER_AREA)
    rx, ry = sx / kx, sy / ky                  # the scale left, in reduced pixels
    vx = (rx * rx - 1) / 6 - (kx * kx - 1) / (12 * kx * kx)
    vy = (ry * ry - 1) / 6 - (ky * ky - 1) / (12 * ky * ky)
    if vx > 0.01 or vy > 0.01:                 # (a Gaussian of sigma ~0 is a 1-tap kernel)
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=math.sqrt(max(vx, 1e-6)), sigmaY=math.sqrt(max(vy, 1e-6)),
                               borderType=cv2.BORDER_REPLICATE)
    if kx == 1 and ky == 1:  # the same centre mapping as below; resize's sampling is exact and faster
        return cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    m = np.array([[rx, 0, (rx - 1) / 2], [0, ry, (ry - 1) / 2]])     # output pixel centre -> input
    return cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _normal_quantiles() -> np.ndarray:
    """256 equally likely values of N(0, 1): the quantiles at (k + 0.5) / 256, rescaled to unit variance."""
    from statistics import NormalDist

    q = np.array([NormalDist().inv_cdf((k + 0.5) / 256) for k in range(256)])
    return q / q.std()


_NORMAL_Q = _normal_quantiles()


def gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``img`` + N(0, sigma) noise per pixel (256 quantiles, tails cut at 2.9 sigma), saturated to 0..255."""
    cv2 = _cv2()
    draws = np.frombuffer(rng.bytes(img.size), np.uint8).reshape(img.shape)
    noise = cv2.LUT(draws, np.rint(_NORMAL_Q * sigma).astype(np.int16))
    return cv2.add(img, noise, dtype=cv2.CV_8U)


def apply_lut(img: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``lut[img]`` for a 256-entry float table (rounded, saturated to 0..255)."""
    return _cv2().LUT(img, np.clip(np.rint(lut), 0, 255).astype(np.uint8))


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """The grayscale image after a JPEG encode/decode at ``quality`` (OpenCV's libjpeg, baseline)."""
    cv2 = _cv2()
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {img.shape}")
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


__all__ = ["Warp", "one_thread_per_worker", "resize_bilinear", "gaussian_noise", "apply_lut", "jpeg_roundtrip"]
