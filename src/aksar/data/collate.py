"""Batching: ``Collate`` turns dataset items into padded tensors; ``WidthBucketBatchSampler`` groups
items of similar width so that little of a batch is padding.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterator, Sequence

import numpy as np

from aksar.core.rng import rng_for
from aksar.data.preprocess import PreprocessConfig, pad_batch, resize_lines


class Collate:
    """``collate_fn`` for DataLoaders: items ``{"image", "text", "meta"}`` (or None) -> batch dict.

    The batch is ``{"images": FloatTensor [B,1,H,W], "widths": LongTensor [B], "texts": list[str],
    "meta": list[dict], "dropped": int, "squeezed": int}``. ``None`` items (images a reader could not
    load) are dropped and counted in ``"dropped"``; lines wider than ``max_width`` are squeezed and
    counted in ``"squeezed"``. A batch whose items were all dropped has ``B == 0`` (skip it).
    """

    def __init__(self, preprocess_cfg: PreprocessConfig | None = None, margin: int = 0) -> None:
        self.cfg = preprocess_cfg or PreprocessConfig()
        self.margin = margin  # background columns after the widest line (a model's pad_margin)
        self.counters: Counter = Counter()  # in this process only (DataLoader workers keep their own)

    def __call__(self, items: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
        import torch

        good = [it for it in items if it is not None]
        dropped = len(items) - len(good)
        resized, squeezed = resize_lines([it["image"] for it in good], self.cfg)
        self.counters["dropped"] += dropped
        self.counters["squeezed"] += squeezed
        self.counters["items"] += len(good)
        if good:
            arr, wid = pad_batch(resized, self.cfg, self.margin)
            images, widths = torch.from_numpy(arr), torch.from_numpy(wid)
        else:
            images = torch.zeros((0, 1, self.cfg.height, self.cfg.width_multiple), dtype=torch.float32)
            widths = torch.zeros((0,), dtype=torch.long)
        return {
            "images": images,
            "widths": widths,
            "texts": [it["text"] for it in good],
            "meta": [it.get("meta", {}) for it in good],
            "dropped": dropped,
            "squeezed": squeezed,
        }


class WidthBucketBatchSampler:
    """Batches of dataset indices with similar widths (less padding, faster steps).

    ``widths``: each item's width after the height resize (e.g. ``dataset.widths(cfg)``).
    With ``shuffle`` the indices are shuffled per epoch (``rng_for(seed, "buckets", epoch)``), cut into
    pools of ``batch_size * pool_batches`` items, each pool sorted by width and cut into batches, and
    the batch order shuffled; without it the whole set is sorted by width (validation: deterministic).
    Batches are split round-robin across ``world_size`` ranks (each rank gets the same count).
    ``set_epoch(epoch, start_batch=0)`` selects the epoch and skips batches already done (resume).
    """

    def __init__(self, widths: Sequence[int], batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, pool_batches: int = 50, rank: int = 0, world_size: int = 1,
                 epoch: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.widths = np.asarray(widths, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.pool_batches = max(1, pool_batches)
        self.rank = rank
        self.world_size = world_size
        self.epoch = epoch
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def _all_batches(self) -> list[list[int]]:
        n = len(self.widths)
        bs = self.batch_size
        if self.shuffle:
            rng = rng_for(self.seed, "buckets", self.epoch)
            order = rng.permutation(n)
            pool = bs * self.pool_batches
            batches = []
            for start in range(0, n, pool):
                chunk = order[start:start + pool]
                chunk = chunk[np.argsort(self.widths[chunk], kind="stable")]
                batches.extend(chunk[i:i + bs].tolist() for i in range(0, len(chunk), bs))
            if self.drop_last:
                batches = [b for b in batches if len(b) == bs]
            perm = rng.permutation(len(batches))
            batches = [batches[i] for i in perm]
        else:
            order = np.argsort(self.widths, kind="stable")
            batches = [order[i:i + bs].tolist() for i in range(0, n, bs)]
            if self.drop_last:
                batches = [b for b in batches if len(b) == bs]
        if self.world_size > 1:
            per_rank = len(batches) // self.world_size
            batches = batches[self.rank::self.world_size][:per_rank]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._all_batches()[self.start_batch:]

    def __len__(self) -> int:
        return max(0, len(self._all_batches()) - self.start_batch)


def padding_ratio(widths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of batch pixels that are padding (for benchmarks and tests)."""
    w = np.asarray(widths)
    total = sum(len(b) * int(w[list(b)].max()) for b in batches if len(b))
    used = sum(int(w[list(b)].sum()) for b in batches if len(b))
    return 1.0 - used / total if total else 0.0


__all__ = ["Collate", "WidthBucketBatchSampler", "padding_ratio"]
