"""Streaming training data from WebDataset tar shards (``aksar generate --format webdataset``).

``data.train_dataset`` names the shards: a split folder (its ``index.json``, else every ``*.tar`` in
it), a brace pattern (``path/train_{000000..000009}.tar``) or one ``.tar`` file. ``ShardStream`` is an
``IterableDataset``; ``ShardLoader`` (what ``make_train_loader`` returns for it) runs it in DataLoader
workers.

Partition: each epoch the shards are permuted with ``rng_for(seed, "wds-shards", epoch)`` and dealt to
the ``world_size * workers`` slots (rank-major), so ranks and workers read disjoint whole shards. Every
slot yields the same number of batches ``K`` (what the smallest possible share of shards fills), so
the ranks stay in step and the DataLoader's round-robin over workers is exact; samples past ``K``
batches in a slot are not used that epoch (logged once). With equal shards whose count is a multiple
of the slots, and a shard size that is a multiple of the batch size, every sample is read exactly once
per epoch. Fewer shards than slots is an error.

Order: each slot reads its shards in turn through a shuffle buffer (``rng_for(seed, "wds-buffer",
epoch, slot)``) holding undecoded bytes; images are decoded after it. Resume at batch ``b`` of an
epoch: each worker takes the slot whose next batch is ``b`` and passes over the samples already used
without decoding them, so a resumed epoch yields exactly the batches the uninterrupted one would have.

Problems: a missing, truncated or non-tar shard raises an AksarError naming the file; a sample whose
image cannot be decoded, or without an image or label, is logged with ``shard:key``, counted in
``errors`` and yields ``None`` (``Collate`` drops and counts it).
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from aksar.core.errors import AksarError
from aksar.core.rng import rng_for
from aksar.data.files import MAX_PIXELS, BadImage, decode_image
from aksar.data.onthefly import journal_sample
from aksar.data.shards import IMAGE_EXTS, Sample, iter_samples, resolve_shards

log = logging.getLogger(__name__)

DEFAULT_BUFFER = 1000  # samples (undecoded) in each slot's shuffle buffer


class ShardStream(torch.utils.data.IterableDataset):
    """Samples ``{"image", "text", "meta"}`` (or None) from tar shards, partitioned over ranks and workers."""

    def __init__(self, spec: str | Path, max_pixels: int = MAX_PIXELS, buffer: int = DEFAULT_BUFFER) -> None:
        self.spec = str(spec)
        self.paths, self.counts = resolve_shards(spec)
        self.max_pixels, self.buffer = max_pixels, max(1, buffer)
        self.seed, self.epoch, self.start_batch = 0, 0, 0
        self.rank, self.world_size, self.workers, self.batch_size = 0, 1, 1, 1
        self.batches: int | None = None  # per slot and epoch; None: every sample of the slot's shards
        self.errors: Counter = Counter()
        self.problems: list[str] = []

    @property
    def num_samples(self) -> int:
        return sum(self.counts)

    def configure(self, rank: int, world_size: int, workers: int, batch_size: int, seed: int) -> None:
        """Fix the partition: ``workers`` DataLoader workers (0 counts as 1) per rank, ``batch_size`` per batch."""
        self.rank, self.world_size, self.workers = rank, world_size, max(1, workers)
        self.batch_size, self.seed = batch_size, seed
        slots = world_size * self.workers
        if len(self.paths) < slots:
            raise AksarError(f"{self.spec}: {len(self.paths)} shards cannot feed {world_size} rank(s) x {self.workers} "
                             f"worker(s): each reads whole shards; write smaller shards (--shard-size) or use "
                             "fewer data.num_workers")
        smallest = sorted(self.counts)[:len(self.paths) // slots]
        self.batches = sum(smallest) // batch_size
        if self.batches < 1:
            raise AksarError(f"{self.spec}: {sum(smallest)} samples in the smallest share of shards per rank x worker "
                             f"give no full batch of {batch_size}")
        unused = sum(self.counts) - self.batches * batch_size * slots
        if unused and rank == 0:
            log.info("webdataset %s: %d shards over %d rank(s) x %d worker(s), %d batches of %d per slot; %d of %d "
                     "samples unused each epoch (uneven shares)", self.spec, len(self.paths), world_size,
                     self.workers, self.batches, batch_size, unused, sum(self.counts))

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def slot_shards(self, epoch: int, slot: int, slots: int) -> list[int]:
        """Indices (into ``paths``) of the shards slot ``slot`` of ``slots`` reads in ``epoch``, in order."""
        order = rng_for(self.seed, "wds-shards", epoch).permutation(len(self.paths))
        return [int(k) for k in order[slot::slots]]

    def _shuffled(self, shards: list[int], slot: int) -> Iterator[tuple[Path, Sample]]:
        rng = rng_for(self.seed, "wds-buffer", self.epoch, slot)
        buf: list[tuple[Path, Sample]] = []
        for k in shards:
            for sample in iter_samples(self.paths[k]):
                if len(buf) < self.buffer:
                    buf.append((self.paths[k], sample))
                    continue
                j = int(rng.integers(len(buf)))
                yield buf[j]
                buf[j] = (self.paths[k], sample)
        for j in rng.permutation(len(buf)):
            yield buf[int(j)]

    def __iter__(self) -> Iterator[dict[str, Any] | None]:
        info = torch.utils.data.get_worker_info()
        return self.worker_samples(*((info.id, info.num_workers) if info is not None else (0, 1)))

    def worker_samples(self, worker: int, num_workers: int) -> Iterator[dict[str, Any] | None]:
        """What DataLoader worker ``worker`` of ``num_workers`` on this rank yields this epoch (from ``start_batch``)."""
        if self.batches is not None and num_workers != self.workers:
            raise AksarError(f"ShardStream configured for {self.workers} workers, run by {num_workers}")
        role = (worker + self.start_batch) % num_workers  # worker 0 delivers batch start_batch: it takes its slot
        slot, slots = self.rank * num_workers + role, self.world_size * num_workers
        skip = max(0, -(-(self.start_batch - role) // num_workers)) * self.batch_size if self.batches else 0
        want = self.batches * self.batch_size if self.batches is not None else None
        for n, (path, (key, parts)) in enumerate(self._shuffled(self.slot_shards(self.epoch, slot, slots), slot)):
            if want is not None and n >= want:
                return
            if n >= skip:
                journal_sample(epoch=self.epoch, shard=path.name, key=key)
                yield self._decode(path, key, parts)

    def raw_in_order(self) -> Iterator[tuple[str, bytes, str] | None]:
        """Every sample of every shard in shard order, undecoded: ``(where, image bytes, text)``, or None for a
        sample without an image or a usable label (counted in ``errors``, as in training)."""
        for path in self.paths:
            for key, parts in iter_samples(path):
                where = f"{path}:{key}"
                checked = self._parts(where, parts)
                yield None if checked is None else (f"{where}.{checked[0]}", parts[checked[0]], checked[1])

    def in_order(self) -> Iterator[dict[str, Any] | None]:
        """Every sample decoded, in shard order (no partition, no shuffle): what ``aksar dataset`` reads."""
        for path in self.paths:
            for key, parts in iter_samples(path):
                yield self._decode(path, key, parts)

    def _problem(self, reason: str, where: str, detail: str = "") -> None:
        self.errors[reason] += 1
        if len(self.problems) < 1000:
            self.problems.append(f"{where}: {reason}" + (f" ({detail})" if detail else ""))
        log.warning("skipped %s: %s%s", where, reason, f" ({detail})" if detail else "")

    def _parts(self, where: str, parts: dict[str, bytes]) -> tuple[str, str] | None:
        """(image extension, label) of a sample, or None (counted) when it lacks either or the label is unusable."""
        ext = next((e for e in IMAGE_EXTS if e in parts), None)
        if ext is None or "txt" not in parts:
            self._problem("incomplete_sample", where, f"members {', '.join(sorted(parts))}; need an image and .txt")
            return None
        try:
            text = parts["txt"].decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            self._problem("label_not_utf8", f"{where}.txt")
            return None
        if not text:
            self._problem("empty_label", f"{where}.txt")
            return None
        return ext, text

    def _decode(self, path: Path, key: str, parts: dict[str, bytes]) -> dict[str, Any] | None:
        where = f"{path}:{key}"
        checked = self._parts(where, parts)
        if checked is None:
            return None
        ext, text = checked
        try:
            img = decode_image(parts[ext], self.max_pixels)
        except BadImage as exc:
            self._problem(exc.reason, f"{where}.{ext}", str(exc))
            return None
        return {"image": img, "text": text, "meta": {"shard": path.name, "key": key, "epoch": self.epoch}}


class ShardLoader:
    """A training loader over a ``ShardStream``: ``len(loader.batch_sampler)`` batches per epoch and rank,
    ``set_loader_epoch`` moves it (``batch_sampler.set_epoch``); each epoch runs a fresh DataLoader (the
    workers get the epoch with the dataset)."""

    def __init__(self, stream: ShardStream, batch_size: int, collate_fn: Any, *, num_workers: int, rank: int,
                 world_size: int, seed: int, pin_memory: bool, worker_init_fn: Any = None,
                 prefetch_factor: int | None = None) -> None:
        stream.configure(rank, world_size, num_workers, batch_size, seed)
        self.dataset, self.batch_size, self.collate_fn = stream, batch_size, collate_fn
        self.num_workers, self.pin_memory, self.prefetch_factor = num_workers, pin_memory, prefetch_factor
        self.worker_init_fn = worker_init_fn
        self.batch_sampler = self

    def __len__(self) -> int:
        return self.dataset.batches * self.dataset.workers

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.dataset.set_epoch(epoch, start_batch)

    def __iter__(self) -> Iterator[Any]:
        from torch.utils.data import DataLoader

        kwargs: dict[str, Any] = {}
        if self.num_workers > 0:
            kwargs.update(worker_init_fn=self.worker_init_fn, prefetch_factor=self.prefetch_factor)
        return iter(DataLoader(self.dataset, batch_size=self.batch_size, drop_last=True, collate_fn=self.collate_fn,
                               num_workers=self.num_workers, pin_memory=self.pin_memory, **kwargs))


__all__ = ["ShardStream", "ShardLoader"]
