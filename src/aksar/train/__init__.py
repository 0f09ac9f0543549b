"""aksar.train: configuration, training loop, checkpoints.

Python API::

    from aksar.train import load_config, train
    cfg = load_config("configs/khmer_ctc_dev.yaml", ["optimizer.lr=5e-4"])
    result = train(cfg, run_dir="runs/try1")          # or resume="runs/try1"

Parts: ``loop`` (the task-agnostic loop), ``tasks`` (what is learnt; ``recognition``), ``callbacks``,
``budget``, ``state``, ``validation``. ``load_for_inference(path, device)`` lives in ``aksar.models.weights``.
Heavy modules (torch) are imported when these names are first used.
"""
from __future__ import annotations

from typing import Any

_EXPORTS = {
    "TrainConfig": "aksar.train.config", "load_config": "aksar.train.config",
    "config_from_dict": "aksar.train.config",
    "Trainer": "aksar.train.trainer", "TrainResult": "aksar.train.loop", "train": "aksar.train.trainer",
    "Loop": "aksar.train.loop", "Task": "aksar.train.tasks", "register_task": "aksar.train.tasks",
    "load_for_inference": "aksar.models.weights", "LoadedModel": "aksar.models.weights",
    "load_checkpoint": "aksar.models.weights",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'aksar.train' has no attribute {name!r}")


__all__ = list(_EXPORTS)
