"""Data of the detection task: its options, the datasets it reads, training crops with DB targets,
validation pages resized as at inference, and pictures of polygons for the logs.

- :class:`DetectionOptions` (YAML ``task.options``): datasets, page generation, crop and scale.
- Datasets on disk and page loading/resizing: :mod:`aksar.data.det_dataset` (shared with inference).
- :class:`DetTrainSet`: ``dataset[(epoch, index)]`` -> one square crop of a page at a random scale with
  its DB targets (``data.det_targets.make_targets``), fully determined by ``(seed, epoch, index)``, so
  ``onthefly.EpochSampler`` gives a resumable, DDP-sharded order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from aksar.core.errors import AksarError
from aksar.core.rng import rng_for
from aksar.data.det_dataset import STRIDE, load_page
from aksar.data.det_formats import DetSample
from aksar.models.det_db import TARGET_KEYS
from aksar.render.page import PageConfig



@dataclass
class PageGenOptions:
    """``task.options.generate``: synthetic pages made by ``prepare()`` when a dataset is missing."""

    train_pages: int = 200
    val_pages: int = 20
    seed: int = 42
    workers: int | None = None         # None: one per core; 0: in the training process
    heldout_fonts: bool = True         # train pages leave out the script's held-out families; val pages
    val_fonts: list[str] | None = None  # use only them (or these fonts)
    page: PageConfig = field(default_factory=PageConfig)


@dataclass
class DetectionOptions:
    """``task.options`` of ``task: detection``."""

    train: str | None = None           # det_labels.txt, a folder holding one, a PAGE-XML folder, or ICDAR gt
    val: str | None = None
    train_images: str | None = None    # ICDAR: the folder of the train images (default: next to the gt files)
    val_images: str | None = None
    generate: PageGenOptions | None = None  # make missing train/val pages ({root}/{train|val}[/det_labels.txt])
    samples_per_epoch: int | None = None  # training crops per epoch (None: one per training page)
    crop_size: int = 640               # training crops are crop_size x crop_size (a multiple of 32)
    scale: tuple[float, float] = (0.6, 1.5)  # random zoom, relative to the inference scale (limit_side)
    text_centred_p: float = 0.8        # share of crops centred on a random line (the others anywhere)
    photometric_p: float = 0.7         # share of crops with contrast/brightness/blur/noise jitter
    limit_side: int = 960              # validation (and inference): long side at most this, multiples of 32
    val_max_pages: int | None = None   # validate on the first N pages only
    shrink_ratio: float = 0.4          # DB targets (Vatti offset)
    thresh_min: float = 0.3
    thresh_max: float = 0.7
    postprocess: dict[str, float] = field(default_factory=dict)  # thresh, box_thresh, unclip_ratio, ...

    def __post_init__(self) -> None:
        key = "task.options"
        if self.crop_size < STRIDE or self.crop_size % STRIDE:
            raise AksarError(f"{key}.crop_size: must be a positive multiple of {STRIDE}, got {self.crop_size}")
        if self.limit_side < STRIDE:
            raise AksarError(f"{key}.limit_side: must be >= {STRIDE}, got {self.limit_side}")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise AksarError(f"{key}.scale: expected [low, high] with 0 < low <= high, got {list(self.scale)}")
        for name in ("text_centred_p", "photometric_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise AksarError(f"{key}.{name}: must be in [0, 1], got {getattr(self, name)}")
        for name in ("samples_per_epoch", "val_max_pages"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise AksarError(f"{key}.{name}: must be >= 1, got {getattr(self, name)}")


def parse_options(options: dict[str, Any]) -> DetectionOptions:
    """``task.options`` -> :class:`DetectionOptions`; an unknown or bad key is an AksarError naming it."""
    from aksar.core.config import from_dict

    options = dict(options or {})
    generate = options.pop("generate", None)
    opts = from_dict(DetectionOptions, options, prefix="task.options")
    if generate is not None:
        if not isinstance(generate, dict):
            raise AksarError(f"task.options.generate: expected a mapping, got {generate!r}")
        opts.generate = from_dict(PageGenOptions, generate, prefix="task.options.generate")
    return opts


# ---------------------------------------------------------------- datasets on disk

def generation_target(spec: str, split: str, key: str) -> Path:
    """The output folder of ``generate_pages`` that makes dataset ``spec`` (``{root}/{split}``)."""
    path = Path(spec)
    split_dir = path.parent if path.name == "det_labels.txt" else path
    if split_dir.name != split:
        raise AksarError(f"{key}: to generate pages there, name {{folder}}/{split} or {{folder}}/{split}/"
                         f"det_labels.txt, got {spec}")
    return split_dir.parent


# ---------------------------------------------------------------- training crops

def _clip(poly: np.ndarray, size: int) -> tuple[np.ndarray | None, bool]:
    """(``poly`` clipped to the crop square or None when outside, ignore?): a line cut across its height,
    or left shorter than it is high, is don't care."""
    from shapely.geometry import Polygon, box

    lo, hi = poly.min(axis=0), poly.max(axis=0)
    if hi[0] <= 0 or hi[1] <= 0 or lo[0] >= size or lo[1] >= size:
        return None, False
    if lo.min() >= 0 and hi.max() <= size:
        return poly, False
    shape = Polygon(poly).buffer(0).intersection(box(0, 0, size, size))
    if shape.is_empty or shape.geom_type != "Polygon" or shape.area <= 0:
        return None, False
    clipped = np.asarray(shape.exterior.coords[:-1], np.float64)
    vlo, vhi = clipped.min(axis=0), clipped.max(axis=0)
    full_h, vis_w, vis_h = hi[1] - lo[1], vhi[0] - vlo[0], vhi[1] - vlo[1]
    return clipped, bool(vis_h < 0.8 * full_h or vis_w < vis_h)


def photometric(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light jitter of a uint8 page crop: contrast, brightness, gamma, sometimes blur and noise."""
    import cv2

    x = img.astype(np.float32)
    mean = float(x.mean())
    x = (x - mean) * rng.uniform(0.7, 1.2) + mean + rng.uniform(-25, 25)
    x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** rng.uniform(0.8, 1.25)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.0))
    if rng.random() < 0.3:
        x = x + rng.normal(0.0, rng.uniform(2, 8), x.shape).astype(np.float32)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


class DetTrainSet:
    """Training crops: ``dataset[(epoch, index)] -> {"image", "shrink_map", ..., "meta"}``.

    Crop ``(epoch, index)`` takes page ``pos % n`` of a seeded permutation per pass over the pages
    (``pos = epoch * samples_per_epoch + index``; every page used equally often), zooms it by the
    inference scale (``limit_side``) times a random factor (``options.scale``), cuts a
    ``crop_size``-square (centred on a random line, or anywhere), pads with the page's paper, and
    clips the polygons (lines cut across their height are don't care). ``len`` = crops per epoch.
    """

    def __init__(self, samples: Sequence[DetSample], opts: DetectionOptions, seed: int,
                 samples_per_epoch: int | None = None) -> None:
        self.samples, self.opts, self.seed = list(samples), opts, int(seed)
        self.samples_per_epoch = int(samples_per_epoch or opts.samples_per_epoch or len(self.samples))

    def __len__(self) -> int:
        return self.samples_per_epoch

    def page_for(self, epoch: int, index: int) -> int:
        n = len(self.samples)
        pos = epoch * self.samples_per_epoch + index
        return int(rng_for(self.seed, "det-pages", pos // n).permutation(n)[pos % n])

    def crop(self, image: np.ndarray, polys: list[np.ndarray], rng: np.random.Generator
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        """(uint8 ``crop_size`` square, ``polys`` moved into its pixels)."""
        import cv2

        o, size = self.opts, self.opts.crop_size
        h, w = image.shape
        scale = min(1.0, o.limit_side / max(h, w)) * rng.uniform(*o.scale)
        win = size / scale  # the crop's side in page pixels
        if polys and rng.random() < o.text_centred_p:
            centre = polys[int(rng.integers(len(polys)))].mean(axis=0) + rng.uniform(-0.25, 0.25, 2) * win
        else:
            centre = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        x0 = float(np.clip(centre[0] - win / 2, min(0.0, w - win), max(0.0, w - win)))
        y0 = float(np.clip(centre[1] - win / 2, min(0.0, h - win), max(0.0, h - win)))
        sx0, sy0 = max(0, int(x0)), max(0, int(y0))
        part = image[sy0:min(h, int(np.ceil(y0 + win)) + 1), sx0:min(w, int(np.ceil(x0 + win)) + 1)]
        zoom = scale
        if scale < 1:  # area-average first (thin strokes survive), then only move
            part = cv2.resize(part, (max(1, round(part.shape[1] * scale)), max(1, round(part.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
            zoom = 1.0
        m = np.array([[zoom, 0, (sx0 - x0) * scale], [0, zoom, (sy0 - y0) * scale]], np.float64)
        paper = int(np.percentile(image[::4, ::4], 90))
        out = cv2.warpAffine(part, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=paper)
        return out, [(p - [x0, y0]) * scale for p in polys]

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        from aksar.data.det_targets import make_targets

        epoch, index = (int(k) for k in key)
        o = self.opts
        page = self.page_for(epoch, index)
        sample = self.samples[page]
        rng = rng_for(self.seed, "det-crop", epoch, index)
        image = load_page(sample.image)
        polys = [np.asarray(r.polygon, np.float64) for r in sample.regions]
        crop, moved = self.crop(image, polys, rng)
        kept, ignore = [], []
        for poly, region in zip(moved, sample.regions):
            clipped, cut = _clip(poly, o.crop_size)
            if clipped is not None:
                kept.append(clipped)
                ignore.append(region.ignore or cut)
        if rng.random() < o.photometric_p:
            crop = photometric(crop, rng)
        t = make_targets(kept, ignore, o.crop_size, o.crop_size, shrink_ratio=o.shrink_ratio,
                         thresh_min=o.thresh_min, thresh_max=o.thresh_max)
        return {"image": crop, "shrink_map": t.shrink_map, "shrink_mask": t.shrink_mask,
                "thresh_map": t.threshold_map, "thresh_mask": t.threshold_mask,
                "meta": {"epoch": epoch, "index": index, "page": page, "lines": len(kept)}}



def collate_crops(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Training batch: ``images`` float [B,1,S,S] in [0, 1], ``targets`` dict of float [B,S,S], ``meta``."""
    import torch

    images = torch.from_numpy(np.stack([it["image"] for it in items])).float().div_(255.0)[:, None]
    targets = {k: torch.from_numpy(np.stack([it[k] for it in items])) for k in TARGET_KEYS}
    return {"images": images, "targets": targets, "meta": [it["meta"] for it in items]}


__all__ = ["DetectionOptions", "PageGenOptions", "parse_options", "DetTrainSet", "generation_target", "collate_crops",
           "photometric"]
