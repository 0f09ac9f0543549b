"""The Python API of training: ``train(cfg, run_dir=..., resume=...) -> TrainResult``.

The work is done by parts: :mod:`aksar.train.loop` (the loop), :mod:`aksar.train.tasks` (what is
learnt: recognition, ...), :mod:`aksar.train.callbacks` and :mod:`aksar.train.budget` (checkpoints,
early stopping, target, time budget), :mod:`aksar.train.state` (save and restore a run) and
:mod:`aksar.train.validation`. ``Trainer`` is the loop under its older name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from aksar.models.weights import load_checkpoint
from aksar.models.weights import resolve_device as _resolve_device
from aksar.train.config import TrainConfig, config_from_dict
from aksar.train.loop import Loop, TrainResult
from aksar.train.tasks.recognition import evaluate_model

Trainer = Loop


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto``: CUDA (this rank's GPU) if available, else CPU (the shared check of ``run.device``)."""
    return _resolve_device(name, local_rank, key="run.device")


def train(cfg: TrainConfig, *, run_dir: str | Path | None = None, resume: str | Path | None = None,
          batch_callback: Callable[[int, Any], None] | None = None) -> TrainResult:
    """Train with ``cfg`` (its task, ``cfg.task.name``) until the run ends; see :class:`aksar.train.loop.Loop`."""
    return Loop(cfg, run_dir=run_dir, resume=resume, batch_callback=batch_callback).fit()


def config_from_checkpoint(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """The resolved config stored in a checkpoint, with ``-o`` overrides applied (``--resume`` without CONFIG)."""
    return config_from_dict(dict(load_checkpoint(path)["config"]), overrides)


__all__ = ["Trainer", "TrainResult", "train", "evaluate_model", "resolve_device", "config_from_checkpoint"]
