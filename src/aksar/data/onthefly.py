"""On-the-fly training data: images rendered from the corpus train split while training runs.

Design: the dataset is map-style and its item key is ``(epoch, index)``; the sample is fully
determined by ``(seed, epoch, index)``. The main process's ``EpochSampler`` yields the keys, so
DataLoader workers (persistent or not) need no epoch update and automatically get disjoint keys,
ranks get disjoint index sets, and a resumed run (``start``) sees exactly the samples it would have
seen. Which corpus line an index gets: the train lines are walked in a seeded permutation per pass
over the corpus (position ``epoch * samples_per_epoch + index``), so every line is used equally often
and consecutive epochs see different lines.
"""
from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from aksar.core.errors import AksarError
from aksar.core.rng import rng_for, weighted_choice

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # texts tried per key when the synthesizer cannot render one (counted)
SAMPLE_JOURNAL_ENV = "AKSAR_SAMPLE_JOURNAL"
_journal_files: dict[int, Any] = {}


def journal_sample(**fields: Any) -> None:
    """With ``AKSAR_SAMPLE_JOURNAL=DIR`` set, append one JSON line per training sample drawn to
    ``DIR/rank{RANK}-pid{PID}.jsonl``: node (torchrun's ``GROUP_RANK``), rank, DataLoader worker and
    ``fields`` (the key). Which rank and worker drew what, across nodes: a debugging aid, and the
    multi-node test's evidence. Unset: nothing is written."""
    folder = os.environ.get(SAMPLE_JOURNAL_ENV)
    if not folder:
        return
    import torch.utils.data

    pid = os.getpid()
    f = _journal_files.get(pid)
    if f is None:
        f = _journal_files[pid] = open(Path(folder) / f"rank{os.environ.get('RANK', '0')}-pid{pid}.jsonl", "a",
                                       buffering=1, encoding="utf-8")
    info = torch.utils.data.get_worker_info()
    f.write(json.dumps({"node": int(os.environ.get("GROUP_RANK", 0)), "rank": int(os.environ.get("RANK", 0)),
                        "worker": info.id if info is not None else None, **fields}) + "\n")


class OnTheFlyDataset:
    """Renders training samples on demand; ``dataset[(epoch, index)] -> {"image", "text", "meta"}``.

    ``len(dataset) == samples_per_epoch``. ``augment`` applies the synthesizer's augmentation and
    fonts are chosen at random (per key). Lines longer than ``max_text_length`` characters are left out
    (counted in ``.counters["skipped_too_long"]``).
    """

    def __init__(self, corpus_dir: str | Path, synth_cfg: Any, samples_per_epoch: int, seed: int,
                 max_text_length: int | None = None, *, split: str = "train", augment: bool = True,
                 script: str | None = None, text_mix: dict[str, float] | None = None,
                 charset: Any = None) -> None:
        from aksar.render.synth import Synthesizer
        from aksar.text.corpus import corpus_script, read_split

        if samples_per_epoch < 1:
            raise AksarError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}")
        self.corpus_dir = Path(corpus_dir)
        self.samples_per_epoch = int(samples_per_epoch)
        self.seed = int(seed)
        self.split = split
        self.augment = augment
        self.counters: Counter = Counter()
        lines = read_split(self.corpus_dir, split)
        if max_text_length is not None:
            kept = [t for t in lines if len(t) <= max_text_length]
            self.counters["skipped_too_long"] = len(lines) - len(kept)
            if self.counters["skipped_too_long"]:
                log.info("on-the-fly: %d of %d %s lines longer than %d characters left out",
                         self.counters["skipped_too_long"], len(lines), split, max_text_length)
            lines = kept
        if not lines:
            raise AksarError(f"{self.corpus_dir / (split + '.txt')}: no usable lines for on-the-fly training")
        self.lines: list[str] = lines
        self.script = script or corpus_script(self.corpus_dir)
        self.synth = Synthesizer(self.script, synth_cfg)
        self.synth.neighbour_texts = lines  # degrade.neighbours: real corpus lines above/below
        from aksar.text.domains import check_text_mix

        self.text_mix = check_text_mix(text_mix)
        self.domains = None
        if set(self.text_mix) != {"corpus"}:
            from aksar.text.domains import DomainText

            self.domains = DomainText(self.script, lines, _allowed_chars(self.corpus_dir, charset),
                                      max_length=max_text_length)
        self._perm_cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.samples_per_epoch

    def _permutation(self, cycle: int) -> np.ndarray:
        perm = self._perm_cache.get(cycle)
        if perm is None:
            if len(self._perm_cache) >= 2:
                self._perm_cache.pop(min(self._perm_cache))
            perm = rng_for(self.seed, "onthefly", "lines", cycle).permutation(len(self.lines))
            self._perm_cache[cycle] = perm
        return perm

    def domain_for(self, epoch: int, index: int) -> str:
        """The text domain of key ``(epoch, index)`` (``text_mix``; ``corpus`` when there is no mix)."""
        if self.domains is None:
            return "corpus"
        return weighted_choice(self.text_mix, rng_for(self.seed, "onthefly", "domain", epoch, index))

    def text_for(self, epoch: int, index: int, attempt: int = 0) -> str:
        """The line that key ``(epoch, index)`` renders (attempt > 0: fallback lines): a corpus line, or
        one generated for its text domain."""
        kind = self.domain_for(epoch, index)
        if kind != "corpus":
            return self.domains.generate(kind, rng_for(self.seed, "onthefly", "text", epoch, index, attempt))
        n = len(self.lines)
        pos = epoch * self.samples_per_epoch + index + attempt * 7919  # fallback: a far-away line
        return self.lines[int(self._permutation(pos // n)[pos % n])]

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        try:
            epoch, index = key
        except (TypeError, ValueError):
            raise TypeError(f"OnTheFlyDataset keys are (epoch, index) tuples, got {key!r}") from None
        epoch, index = int(epoch), int(index)
        rng = rng_for(self.seed, "onthefly", epoch, index)
        for attempt in range(MAX_ATTEMPTS):
            text = self.text_for(epoch, index, attempt)
            sample = self.synth.synthesize(text, rng, font_policy="random", augment=self.augment)
            if sample is not None:
                if attempt:
                    self.counters["fallback_text"] += 1
                self.counters[f"domain:{self.domain_for(epoch, index)}"] += 1
                journal_sample(epoch=epoch, index=index)
                return {
                    "image": sample.image,
                    "text": sample.text,
                    "meta": {"epoch": epoch, "index": index, "font": sample.font,
                             "domain": self.domain_for(epoch, index),
                             "augment": sample.augment, "attempts": attempt + 1},
                }
            self.counters["unrenderable_text"] += 1
        raise AksarError(f"on-the-fly sample (epoch {epoch}, index {index}): {MAX_ATTEMPTS} corpus lines in a "
                         f"row could not be rendered with the configured fonts ({dict(self.synth.counters)})")


def _allowed_chars(corpus_dir: Path, charset: Any) -> set[str] | None:
    """Characters a generated line may use: the charset's (given, else corpus_dir/charset.txt)."""
    from aksar.text.charset import Charset

    if charset is None and (corpus_dir / "charset.txt").is_file():
        charset = Charset.load(corpus_dir / "charset.txt")
    if charset is None:
        return None
    tokens = charset.tokens if hasattr(charset, "tokens") else charset
    return {c for t in tokens for c in t}


class EpochSampler:
    """Yields the ``(epoch, index)`` keys of one epoch for this rank.

    Rank ``r`` of ``world_size`` gets indices ``r, r + world_size, ...`` (disjoint across ranks;
    ``ceil(dataset_len / world_size)`` each, wrapping around so every rank has the same count).
    ``shuffle`` permutes this rank's order with ``rng_for(seed, "epoch-order", epoch)`` (the samples
    themselves are already random, so it is off by default). ``start`` skips keys already consumed
    (resume mid-epoch). ``set_epoch(epoch, start=0)`` moves to another epoch without a new loader.
    """

    def __init__(self, dataset_len: int, epoch: int = 0, rank: int = 0, world_size: int = 1, start: int = 0,
                 shuffle: bool = False, seed: int = 0) -> None:
        if dataset_len < 1:
            raise ValueError(f"dataset_len must be >= 1, got {dataset_len}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.dataset_len = dataset_len
        self.epoch = epoch
        self.rank = rank
        self.world_size = world_size
        self.start = start
        self.shuffle = shuffle
        self.seed = seed

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch = epoch
        self.start = start

    def per_rank(self) -> int:
        return -(-self.dataset_len // self.world_size)

    def _indices(self) -> np.ndarray:
        idx = (np.arange(self.per_rank()) * self.world_size + self.rank) % self.dataset_len
        if self.shuffle:
            idx = idx[rng_for(self.seed, "epoch-order", self.epoch).permutation(len(idx))]
        return idx

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        for i in self._indices()[self.start:]:
            yield (epoch, int(i))

    def __len__(self) -> int:
        return max(0, self.per_rank() - self.start)


def _worker_init(_worker_id: int) -> None:
    import torch

    from aksar.render.image_ops import one_thread_per_worker

    torch.set_num_threads(1)  # rendering is numpy/OpenCV work; avoid oversubscribing the cores
    one_thread_per_worker()


def make_train_loader(dataset: Any, batch_size: int, *, preprocess_cfg: Any = None, num_workers: int = 2,
                      seed: int = 0, epoch: int = 0, start_batch: int = 0, rank: int = 0, world_size: int = 1,
                      drop_last: bool = True, shuffle: bool = True, pin_memory: bool | None = None,
                      persistent_workers: bool | None = None, prefetch_factor: int | None = None):
    """A training DataLoader for an ``OnTheFlyDataset`` or any reader dataset.

    On-the-fly: ``EpochSampler`` keys batched by ``torch.utils.data.BatchSampler``. Tar shards
    (``ShardStream``): a ``ShardLoader`` (whole shards per rank and worker, see ``aksar.data.webdataset``). Reader datasets
    (pre-generated, labels.tsv, LMDB): ``WidthBucketBatchSampler`` over ``dataset.widths(cfg)``.
    Workers: ``num_workers`` processes, ``persistent_workers`` (default: when workers > 0; safe because
    the epoch travels in the keys), ``pin_memory`` (default: when CUDA is available).
    Move to the next epoch with ``set_loader_epoch(loader, epoch, start_batch)``.
    """
    import torch
    from torch.utils.data import BatchSampler, DataLoader

    from aksar.data.collate import Collate, WidthBucketBatchSampler
    from aksar.data.preprocess import PreprocessConfig
    from aksar.data.webdataset import ShardLoader, ShardStream

    cfg = preprocess_cfg or PreprocessConfig()
    if num_workers > 0:
        from aksar.render.image_ops import one_thread_per_worker

        one_thread_per_worker()  # before the fork (see there); the workers render
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    if isinstance(dataset, ShardStream):
        return ShardLoader(dataset, batch_size, Collate(cfg), num_workers=num_workers, rank=rank,
                           world_size=world_size, seed=seed, pin_memory=pin_memory,
                           worker_init_fn=_worker_init if num_workers > 0 else None, prefetch_factor=prefetch_factor)
    if isinstance(dataset, OnTheFlyDataset):
        sampler = EpochSampler(len(dataset), epoch=epoch, rank=rank, world_size=world_size,
                               start=start_batch * batch_size, shuffle=False, seed=seed)
        batch_sampler: Any = BatchSampler(sampler, batch_size, drop_last)
    else:
        batch_sampler = WidthBucketBatchSampler(dataset.widths(cfg), batch_size, shuffle=shuffle, seed=seed,
                                                drop_last=drop_last, rank=rank, world_size=world_size,
                                                epoch=epoch)
        batch_sampler.set_epoch(epoch, start_batch)
    if persistent_workers is None:
        persistent_workers = num_workers > 0
    kwargs: dict[str, Any] = {}
    if num_workers > 0:
        kwargs["worker_init_fn"] = _worker_init
        kwargs["persistent_workers"] = persistent_workers
        if prefetch_factor is not None:
            kwargs["prefetch_factor"] = prefetch_factor
    return DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=Collate(cfg), num_workers=num_workers,
                      pin_memory=pin_memory, **kwargs)


def set_loader_epoch(loader: Any, epoch: int, start_batch: int = 0) -> None:
    """Point a loader from ``make_train_loader`` at ``epoch``, skipping ``start_batch`` batches (resume)."""
    bs = loader.batch_sampler
    if hasattr(bs, "sampler") and isinstance(bs.sampler, EpochSampler):
        bs.sampler.set_epoch(epoch, start=start_batch * bs.batch_size)
    elif hasattr(bs, "set_epoch"):
        bs.set_epoch(epoch, start_batch)
    else:
        raise TypeError("loader was not built by make_train_loader")


def worker_count(requested: int | None) -> int:
    """``requested`` or, if None, one worker per available core (at least 1)."""
    if requested is not None:
        return max(0, requested)
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


__all__ = ["OnTheFlyDataset", "EpochSampler", "make_train_loader", "set_loader_epoch", "worker_count"]
