"""Preprocessing, collate and width-bucketed batching."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aksar.core.errors import AksarError
from aksar.data.collate import Collate, WidthBucketBatchSampler, padding_ratio
from aksar.data.preprocess import (PreprocessConfig, fit_line, hist_median, ink_box, resize_to_height,
                                   to_array_batch, to_tensor_batch)


def test_resize_keeps_aspect_and_squeezes_long_lines(rendered_lines):
    cfg = PreprocessConfig(height=32, max_width=64)
    img = rendered_lines[0]["image"]
    h, w = img.shape
    out, squeezed = resize_to_height(np.repeat(img, 2, axis=0), cfg)  # twice as tall -> half the width
    assert out.shape[0] == 32 and out.dtype == np.uint8
    if round(w * 32 / (2 * h)) <= 64:
        assert out.shape[1] == max(1, round(w * 32 / (2 * h))) and not squeezed
    wide = np.full((32, 500), 255, np.uint8)
    out, squeezed = resize_to_height(wide, cfg)
    assert out.shape == (32, 64) and squeezed


def test_rgb_and_pil_inputs_match_grayscale(rendered_lines):
    from PIL import Image

    cfg = PreprocessConfig()
    gray = rendered_lines[1]["image"]
    rgb = np.stack([gray] * 3, axis=2)
    a, _ = to_array_batch([gray], cfg)
    b, _ = to_array_batch([rgb], cfg)
    c, _ = to_array_batch([Image.fromarray(gray)], cfg)
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_batch_normalisation_padding_and_widths(rendered_lines):
    cfg = PreprocessConfig(height=32, max_width=800, width_multiple=8)
    images = [it["image"] for it in rendered_lines[:4]]
    arr, widths = to_array_batch(images, cfg)
    assert arr.dtype == np.float32 and arr.shape[:3] == (4, 1, 32)
    assert arr.shape[3] % 8 == 0 and arr.shape[3] >= widths.max() and arr.shape[3] - widths.max() < 8
    assert arr.min() >= -1.0 and arr.max() <= 1.0
    for i, img in enumerate(images):
        r, _ = resize_to_height(img, cfg)
        assert widths[i] == r.shape[1]
        np.testing.assert_allclose(arr[i, 0, :, : widths[i]], (r / 255.0 - 0.5) / 0.5, atol=1e-6)
        pad = arr[i, 0, :, widths[i]:]
        if pad.size:  # padded with the line's own background (light), not black
            assert np.all(pad == pad[0, 0]) and pad[0, 0] > 0.5
    t, tw = to_tensor_batch(images, cfg)
    assert t.dtype == torch.float32 and tw.dtype == torch.long
    assert np.array_equal(t.numpy(), arr) and np.array_equal(tw.numpy(), widths)


def test_empty_batch_and_bad_config_are_errors():
    with pytest.raises(AksarError):
        to_array_batch([], PreprocessConfig())
    with pytest.raises(AksarError, match="preprocess.std"):
        PreprocessConfig(std=0)
    with pytest.raises(AksarError, match="preprocess.trim_margin"):
        PreprocessConfig(trim_margin=-0.1)
    for bad in ({"trim_margin": 0.1, "trim_to": 0.2}, {"trim_to": 0.05}):
        with pytest.raises(AksarError, match="preprocess.trim_to"):
            PreprocessConfig(**bad)


def _loose(img: np.ndarray, top: int, bottom: int, left: int, right: int, paper: int = 235,
           seed: int = 0) -> np.ndarray:
    """``img`` on a larger, noisy sheet of paper: a loose crop, as a detector or a scan gives one."""
    rng = np.random.default_rng(seed)
    h, w = img.shape
    sheet = np.clip(rng.normal(paper, 6, (h + top + bottom, w + left + right)), 0, 255).astype(np.uint8)
    sheet[top:top + h, left:left + w] = np.minimum(sheet[top:top + h, left:left + w], img)
    return sheet


def test_trim_cuts_loose_margins_and_keeps_every_ink_pixel(rendered_lines):
    cfg = PreprocessConfig(trim_margin=0.15)
    for k, it in enumerate(rendered_lines[:4]):
        line = it["image"]
        loose = _loose(line, 40 + k, 25, 70, 15 + 9 * k, seed=k)
        loose[2, 2] = 0  # one speck in a corner: not text
        y0, y1, x0, x1, _ = ink_box(loose)
        out = fit_line(loose, cfg)
        m = round(0.15 * (y1 - y0))
        assert out.shape == (y1 - y0 + 2 * m, x1 - x0 + 2 * m)  # every side cut to 0.15 of the ink height
        assert (out < 128).sum() == (loose < 128).sum() - 1    # all the ink but the speck
        assert fit_line(loose, PreprocessConfig()).shape == loose.shape  # trim_margin None: as given
        to = round(0.08 * (y1 - y0))
        cut = fit_line(loose, PreprocessConfig(trim_margin=0.15, trim_to=0.08))  # wide sides cut further
        assert cut.shape == (y1 - y0 + 2 * to, x1 - x0 + 2 * to) and (cut < 128).sum() == (out < 128).sum()


def test_trim_keeps_tight_lines_and_images_without_ink(rendered_lines):
    cfg = PreprocessConfig(trim_margin=0.15)
    cut_further = PreprocessConfig(trim_margin=0.15, trim_to=0.05)
    for it in rendered_lines[:4]:  # the renderer's margins are narrower than 0.15 of the ink height
        assert np.array_equal(fit_line(it["image"], cfg), it["image"])
        assert np.array_equal(fit_line(it["image"], cut_further), it["image"])
    blank = np.full((40, 300), 240, np.uint8)
    noise = np.clip(np.random.default_rng(1).normal(220, 8, (40, 300)), 0, 255).astype(np.uint8)
    assert ink_box(blank) is None and ink_box(noise) is None
    assert np.array_equal(fit_line(noise, cfg), noise)


def test_ink_box_ignores_exactly_the_one_pixel_components(rendered_lines):
    """The box equals the bounding box of the 8-connected components of two or more pixels of the
    blurred Otsu mask (cv2 labelling as the reference), on real lines with marks of random darkness in
    their margins: single pixels, and pairs touching by a side or a corner."""
    import cv2

    def reference(gray, min_area):
        blurred = cv2.GaussianBlur(gray, (3, 3), 0)
        _, mask = cv2.threshold(blurred, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
        _, _, st, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        kept = st[1:][st[1:, cv2.CC_STAT_AREA] >= min_area]
        return (int(kept[:, 1].min()), int((kept[:, 1] + kept[:, 3]).max()),
                int(kept[:, 0].min()), int((kept[:, 0] + kept[:, 2]).max()))

    rng = np.random.default_rng(5)
    specks_mattered = 0
    for k in range(300):
        img = np.pad(rendered_lines[k % 4]["image"], int(rng.integers(4, 30)), constant_values=255)
        h, w = img.shape
        for _ in range(int(rng.integers(1, 5))):
            y, x = int(rng.choice([rng.integers(0, 3), rng.integers(h - 3, h)])), int(rng.integers(0, w))
            img[y, x] = int(rng.integers(0, 120))
            if rng.random() < 0.3:
                img[min(h - 1, y + int(rng.integers(0, 2))), min(w - 1, x + 1)] = int(rng.integers(0, 120))
        want = reference(img, 2)
        assert ink_box(img)[:4] == want
        specks_mattered += want != reference(img, 1)
    assert specks_mattered > 20


def test_hist_median_is_numpy_median():
    rng = np.random.default_rng(3)
    for _ in range(300):  # odd and even counts, repeated levels, one pixel, the extremes 0 and 255
        size = int(rng.integers(1, 40))
        pixels = rng.choice(rng.integers(0, 256, 3), size) if rng.random() < 0.5 else rng.integers(0, 256, size)
        pixels = np.append(pixels, rng.choice([0, 255], int(rng.integers(0, 2)))).astype(np.uint8)
        assert hist_median(np.bincount(pixels, minlength=256)) == np.median(pixels)


def test_a_loose_crop_batches_as_the_tight_line(rendered_lines):
    cfg = PreprocessConfig(height=32, trim_margin=0.15)
    line = rendered_lines[0]["image"]
    y0, y1, x0, x1, _ = ink_box(line)
    m = round(0.15 * (y1 - y0))
    tight = np.pad(line[y0:y1, x0:x1], m, constant_values=255)  # margins of exactly 0.15: kept
    loose = np.pad(tight, ((60, 50), (90, 70)), constant_values=255)
    a, wa = to_array_batch([tight], cfg)
    b, wb = to_array_batch([loose], cfg)
    assert np.array_equal(wa, wb) and np.array_equal(a, b)
    # squeezing is counted on the cut line: 2 px of ink in a tall crop is wide once cut
    narrow = PreprocessConfig(height=32, max_width=64, trim_margin=0.15)
    wide = np.full((200, 400), 255, np.uint8)
    wide[99:101, 10:390] = 0
    assert Collate(narrow)([{"image": wide, "text": "-"}])["squeezed"] == 1
    assert Collate(PreprocessConfig(height=32, max_width=64))([{"image": wide, "text": "-"}])["squeezed"] == 0


def test_collate_drops_none_and_counts(rendered_lines):
    cfg = PreprocessConfig(max_width=96)
    collate = Collate(cfg)
    batch = collate([rendered_lines[0], None, rendered_lines[2], None])
    assert batch["images"].shape[0] == 2 and batch["dropped"] == 2
    assert batch["texts"] == [rendered_lines[0]["text"], rendered_lines[2]["text"]]
    assert len(batch["meta"]) == 2 and batch["widths"].tolist() == [min(96, w) for w in batch["widths"].tolist()]
    expected_squeezed = sum(resize_to_height(rendered_lines[i]["image"], cfg)[1] for i in (0, 2))
    assert batch["squeezed"] == expected_squeezed
    empty = collate([None, None])
    assert empty["images"].shape[0] == 0 and empty["dropped"] == 2


def test_width_buckets_reduce_padding_and_cover_every_index():
    rng = np.random.default_rng(0)
    widths = rng.integers(20, 800, size=1000)
    sampler = WidthBucketBatchSampler(widths, 32, shuffle=True, seed=3, pool_batches=10)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    naive = [list(range(i, min(i + 32, 1000))) for i in range(0, 1000, 32)]
    assert padding_ratio(widths, batches) < padding_ratio(widths, naive) / 3
    # deterministic per epoch, different across epochs, resumable by batch
    assert list(sampler) == batches
    sampler.set_epoch(1)
    other = list(sampler)
    assert other != batches
    sampler.set_epoch(1, start_batch=5)
    assert list(sampler) == other[5:] and len(sampler) == len(other) - 5


def test_width_buckets_split_across_ranks():
    widths = list(range(100, 200))
    parts = [list(WidthBucketBatchSampler(widths, 8, seed=1, rank=r, world_size=3)) for r in range(3)]
    assert len({len(p) for p in parts}) == 1
    seen = [i for p in parts for b in p for i in b]
    assert len(seen) == len(set(seen))
    val = list(WidthBucketBatchSampler(widths, 10, shuffle=False))
    assert val[0] == list(range(10))  # sorted by width, deterministic
