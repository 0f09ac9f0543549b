"""Each augmentation op (OpenCV + numpy) has the effect its name and parameters say: checked against
Pillow's reference operations (the former implementation) and by measuring the effect on real lines."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageFilter

from aksar.render import AugmentConfig, Augmenter, LineRenderer, RenderConfig
from aksar.render.augment import OP_ORDER
from aksar.render.degrade import DegradeConfig, Degrader
from aksar.render.degrade_ops import speckle
from aksar.render.fonts import resolve_font
from aksar.render.image_ops import gaussian_noise, jpeg_roundtrip
from aksar.render.synth import resize_to_height

TEXT = "ព្រះរាជាណាចក្រកម្ពុជា ជាតិ សាសនា"
BILINEAR = Image.Resampling.BILINEAR


@pytest.fixture(scope="module")
def line() -> np.ndarray:
    return LineRenderer(RenderConfig(), "khmer").render(TEXT, resolve_font("Khmer OS"))


def _aug(img: np.ndarray, op: str, seed: int = 0, **params) -> tuple[np.ndarray, dict]:
    cfg = AugmentConfig.only(op)
    for key, value in params.items():
        setattr(getattr(cfg, op), key, value)
    out, record = Augmenter(cfg)(img, np.random.default_rng(seed))
    assert [r["op"] for r in record] == [op]
    return out, record[0]


def _axis_degrees(img: np.ndarray) -> float:
    """The angle of the ink's principal axis (darkness-weighted), counter-clockwise as seen."""
    ys, xs = np.nonzero(img < 255)
    wt = 255.0 - img[ys, xs]
    x = xs - np.average(xs, weights=wt)
    y = -(ys - np.average(ys, weights=wt))          # up is positive
    cov = np.cov(np.stack([x, y]), aweights=wt)
    vals, vecs = np.linalg.eigh(cov)
    vx, vy = vecs[:, np.argmax(vals)]
    return float(np.degrees(np.arctan2(vy, vx) if vx >= 0 else np.arctan2(-vy, -vx)))


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a.astype(np.int16) - b).mean())


def _max_gradient(img: np.ndarray) -> int:
    return int(np.abs(np.diff(img.astype(np.int16), axis=1)).max())


def test_rotation_turns_the_ink_axis_and_matches_pillow(line):
    base = _axis_degrees(line)
    for deg in (-8.0, 5.0):
        out, rec = _aug(line, "rotation", degrees=(deg, deg))
        assert rec["degrees"] == deg
        assert abs(_axis_degrees(out) - base - deg) < 0.3, deg
        ref = np.asarray(Image.fromarray(line).rotate(deg, resample=BILINEAR, expand=True, fillcolor=255))
        assert _mad(out, ref) < 0.5  # same canvas (expand) and the same pixels, within interpolation


def test_skew_shears_rows_and_perspective_matches_pillow(line):
    h, w = line.shape
    for shear in (-0.2, 0.15):
        out, rec = _aug(line, "skew", shear=(shear, shear))
        extra = int(np.ceil(abs(shear) * h))
        ref = np.asarray(Image.fromarray(line).transform(
            (w + extra, h), Image.Transform.AFFINE, (1, shear, -(extra if shear > 0 else 0), 0, 1, 0),
            resample=BILINEAR, fillcolor=255))
        assert _mad(out, ref) < 0.5
        # shear > 0 leans the text right (the top rows' ink moves right of the bottom rows' ink)
        top, bottom = out[: h // 3], out[-h // 3:]
        lean = np.nonzero(top < 128)[1].mean() - np.nonzero(bottom < 128)[1].mean()
        base = np.nonzero(line[: h // 3] < 128)[1].mean() - np.nonzero(line[-h // 3:] < 128)[1].mean()
        assert (lean - base) * shear > 0
    out, rec = _aug(line, "perspective", magnitude=(0.08, 0.08))
    assert out.shape == line.shape and rec["magnitude"] == pytest.approx(0.08, abs=1e-3)
    assert _mad(out, line) > 2  # the corners moved


def test_geometry_ops_together_are_one_resampling_of_the_chain(line):
    cfg = AugmentConfig.only("rotation", "skew")
    cfg.rotation.degrees, cfg.skew.shear = (3.0, 3.0), (0.1, 0.1)
    out, record = Augmenter(cfg)(line, np.random.default_rng(0))
    assert [r["op"] for r in record] == ["rotation", "skew"]
    im = Image.fromarray(line).rotate(3.0, resample=BILINEAR, expand=True, fillcolor=255)
    w, h = im.size
    extra = int(np.ceil(0.1 * h))
    ref = np.asarray(im.transform((w + extra, h), Image.Transform.AFFINE, (1, 0.1, -extra, 0, 1, 0),
                                  resample=BILINEAR, fillcolor=255))
    assert _mad(out, ref) < 1.5  # Pillow resamples twice (softer); the ink lands in the same place


def test_morphology_is_pillows_min_max_filter(line):
    by_kind = {}
    for seed in range(12):
        out, rec = _aug(line, "morphology", seed=seed, size=(3, 5))
        by_kind.setdefault(rec["kind"], (out, rec["size"]))
    ink = np.count_nonzero(line < 128)
    for kind, flt, more_ink in (("dilate", ImageFilter.MinFilter, True), ("erode", ImageFilter.MaxFilter, False)):
        out, size = by_kind[kind]
        assert np.array_equal(out, np.asarray(Image.fromarray(line).filter(flt(size)))), kind
        assert (np.count_nonzero(out < 128) > ink) == more_ink, kind


def test_blur_and_rescale_soften_edges_like_pillow(line):
    out, rec = _aug(line, "blur", radius=(1.2, 1.2))
    ref = np.asarray(Image.fromarray(line).filter(ImageFilter.GaussianBlur(1.2)))
    assert _mad(out, ref) < 1.0 and _max_gradient(out) < _max_gradient(line)
    out, rec = _aug(line, "rescale", factor=(0.5, 0.5))
    h, w = line.shape
    small = Image.fromarray(line).resize((round(w * 0.5), round(h * 0.5)), BILINEAR)
    ref = np.asarray(small.resize((w, h), BILINEAR))
    assert out.shape == line.shape and _mad(out, ref) < 1.5 and _max_gradient(out) < _max_gradient(line)


def test_photometric_ops_set_levels(line):
    out, rec = _aug(line, "brightness", delta=(-30.0, -30.0))
    assert np.array_equal(out, np.clip(line.astype(np.int16) - 30, 0, 255).astype(np.uint8))
    out, rec = _aug(line, "contrast", factor=(0.5, 0.5))
    assert np.ptp(out) == pytest.approx(np.ptp(line) * 0.5, abs=1)
    out, rec = _aug(line, "background", kinds=["paper"], paper=(200.0, 200.0), ink=(50.0, 50.0), texture=(4.0, 4.0))
    assert abs(np.median(out[line == 255]) - 200) < 3 and abs(np.median(out[line == 0]) - 50) < 2
    out, rec = _aug(line, "background", kinds=["gradient"], texture=(14.0, 14.0))
    paper = out[line == 255].astype(float)
    assert paper.max() - paper.min() > 14  # a ramp across the line (2 x texture end to end, less the angle)


def test_noise_is_gaussian_of_sigma():
    flat = np.full((200, 400), 128, np.uint8)
    for sigma in (3.0, 12.0):
        n = gaussian_noise(flat, sigma, np.random.default_rng(1)).astype(float) - 128
        assert abs(n.mean()) < 0.2 and n.std() == pytest.approx(sigma, rel=0.06)
        within = math.floor(sigma + 0.5) + 0.5     # |rounded noise| <= sigma  <=>  |x| < this
        assert np.mean(np.abs(n) <= sigma + 0.5) == pytest.approx(math.erf(within / sigma / 2 ** 0.5), abs=0.01)
        assert np.corrcoef(n[:, 1:].ravel(), n[:, :-1].ravel())[0, 1] < 0.02  # independent pixels
    sat = gaussian_noise(np.full((50, 50), 250, np.uint8), 30.0, np.random.default_rng(2))
    assert sat.max() == 255 and sat.min() < 200  # saturated, not wrapped around


def test_jpeg_quality_sets_the_loss(line):
    noisy = gaussian_noise(line, 8.0, np.random.default_rng(0))
    lo, hi = jpeg_roundtrip(noisy, 20), jpeg_roundtrip(noisy, 90)
    assert lo.shape == noisy.shape and lo.dtype == np.uint8
    assert _mad(lo, noisy) > _mad(hi, noisy) > 0
    out, rec = _aug(noisy, "jpeg", quality=(30, 30))
    assert rec["quality"] == 30 and np.array_equal(out, jpeg_roundtrip(noisy, 30))


def test_all_ops_deterministic_per_rng_state(line):
    cfg = AugmentConfig.only(*OP_ORDER)
    a, ra = Augmenter(cfg)(line, np.random.default_rng(5))
    b, rb = Augmenter(cfg)(line, np.random.default_rng(5))
    assert ra == rb and [r["op"] for r in ra] == list(OP_ORDER) and a.tobytes() == b.tobytes()
    deg = Degrader(DegradeConfig.only("ink", "dropout", "illumination", "binarize", "speckle", "jpeg"))
    (c, rc), (d, rd) = (deg(line, np.random.default_rng(6)) for _ in range(2))
    assert rc == rd and c.tobytes() == d.tobytes()


def test_resize_to_height_matches_pillow_bilinear(line):
    for height in (32, 24, 120):
        out = resize_to_height(line, height)
        h, w = line.shape
        ref = np.asarray(Image.fromarray(line).resize((round(w * height / h), height), BILINEAR))
        assert _mad(out, ref) < 1.0, height
    assert resize_to_height(line, line.shape[0]) is line


def test_speckle_paints_each_speck_as_the_loop_did():
    img = np.full((40, 60), 230, np.uint8)
    img[10:30, 10:50] = 20
    cfg = DegradeConfig().speckle
    cfg.density, cfg.size = (0.02, 0.02), (1, 3)
    out, rec = speckle(img, np.random.default_rng(4), cfg)
    rng = np.random.default_rng(4)
    # uniform() draws nothing for a fixed range: the first draw is the speck count
    n = int(rng.poisson(0.02 * 40 * 60))
    ys, xs = rng.integers(0, 40, size=n), rng.integers(0, 60, size=n)
    sizes = rng.integers(1, 4, size=n)
    ref = img.copy()
    for y, x, s in zip(ys, xs, sizes):
        ref[y:y + s, x:x + s] = 20
    assert rec["specks"] == n and np.array_equal(out, ref)


def test_degrade_ops_keep_their_formulas(line):
    """The OpenCV forms of ink, binarize and illumination give what their float formulas gave."""
    import cv2
    from types import SimpleNamespace

    from aksar.render import degrade_ops as ops

    out, rec = ops.ink(line, np.random.default_rng(0), SimpleNamespace(sigma=(0.02, 0.02), spread_p=1.0,
                                                                      level=(0.1, 0.1)))
    blurred = cv2.GaussianBlur(line, (0, 0), rec["sigma"]).astype(np.float32)
    t = 0 + 255 * 0.6
    assert np.array_equal(out, np.clip((blurred - t) * 4.0 + 127.5, 0, 255).astype(np.uint8))
    cfg = SimpleNamespace(methods={"global": 1.0}, offset=(3.5, 3.5))
    out, rec = ops.binarize(line, np.random.default_rng(0), cfg)
    assert np.array_equal(out, np.where(line > rec["threshold"], 255, 0).astype(np.uint8))
    out, _ = ops.binarize(line, np.random.default_rng(1), SimpleNamespace(methods={"dither": 1.0}))
    rng = np.random.default_rng(1)
    rng.random()                                    # the method's draw
    oy, ox = (int(v) for v in rng.integers(0, 8, size=2))
    h, w = line.shape
    thr = np.tile(ops._BAYER8, (h // 8 + 2, w // 8 + 2))[oy:oy + h, ox:ox + w]
    assert np.array_equal(out, np.where(line.astype(np.float32) > thr, 255, 0).astype(np.uint8))
    out, rec = ops.illumination(line, np.random.default_rng(2), SimpleNamespace(kinds=["gradient"],
                                                                               strength=(0.3, 0.3)))
    rng = np.random.default_rng(2)
    rng.integers(1)
    a = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(a) * np.linspace(0, 1, w)[None, :] + np.sin(a) * np.linspace(0, 1, h)[:, None]
    ref = line * (1 - 0.3 * (ramp - ramp.min()) / np.ptp(ramp))
    assert np.abs(out - ref).max() <= 0.51 and rec == {"kind": "gradient", "strength": 0.3}
