"""Training tasks: what is learnt, as opposed to how (:mod:`aksar.train.loop`).

A task is one file in ``aksar/train/tasks/`` holding a :class:`Task` subclass decorated with
``@register_task("name")``; a config selects it with ``task: name`` (or ``task.name``; default
``recognition``) and passes it settings in ``task.options``. The loop knows nothing about text,
images or metrics: it calls only the methods below, so a new task (detection: images -> polygons,
hmean, higher is better) needs no change to the loop, the state or the callbacks.

What a new task implements (the loop calls them in this order):

- class attributes ``metrics`` (names ``validate`` returns; ``early_stopping.metric`` picks one),
  ``main_metric`` (best checkpoint, ``early_stopping.target``, plateau schedule) and
  ``higher_is_better`` (the metrics where higher is better; the others are lower-is-better).
- ``prepare()``: rank 0 only, before any rank builds: create missing data (default: nothing).
- ``setup()``: every rank: read what the model and the data need (vocabulary, datasets).
- ``build_model() -> nn.Module``: called under a seeded RNG (same weights on every rank). The model
  computes its loss: whatever ``train_loss`` calls must return a scalar tensor. ``self.resuming``
  says the weights will come from a checkpoint (skip a fine-tuning init).
- ``attach(model)``: once the model is on ``self.device`` (a teacher, ...; default: nothing).
- ``train_loader(batch_size) -> DataLoader`` and ``set_epoch(loader, epoch, start_batch)``: a
  deterministic, resumable batch order (``start_batch``: batches already consumed in that epoch).
- ``batch_len(batch) -> int``: samples in a batch (0: the loop skips it).
- ``train_loss(net, batch) -> (loss, extras)``: inside autocast; ``net`` may be the DDP wrapper.
  ``extras`` are floats summed and logged as ``<name>_loss``.
- ``validate(model, autocast) -> dict``: rank 0; every name of ``metrics`` plus ``num_samples``;
  optional ``samples`` (logged in metrics.jsonl); keys starting with ``_`` are kept out of the logs.
- ``log_validation(logger, result, step) -> str``: TensorBoard samples; returns the console text.
- ``log_train_batch(logger, batch, step)``: TensorBoard view of a training batch (default: nothing).
- ``checkpoint_meta(model) -> dict``: what rebuilds the model (at least ``model_name``);
  ``check_resume(ck)``: refuse a checkpoint this config cannot continue (AksarError).
- ``counters``: named ints saved with the run state (e.g. ``unknown_chars``);
  ``samples_per_epoch``: for the start line (None: a dataset on disk).
- ``auto_batch_size(model, amp_dtype) -> int``: ``data.batch_size: auto`` (default: refused).
"""
from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import torch

from aksar.core.errors import AksarError

if TYPE_CHECKING:
    from aksar.train.config import TrainConfig
    from aksar.train.distributed import DistEnv
    from aksar.train.logging_utils import MetricsLogger


class Task:
    """Base class: defaults for the optional methods; see the module doc for the protocol."""

    name: ClassVar[str] = ""
    metrics: ClassVar[tuple[str, ...]] = ("loss",)
    main_metric: ClassVar[str] = "loss"
    higher_is_better: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, cfg: TrainConfig, env: DistEnv, device: torch.device) -> None:
        self.cfg, self.env, self.device = cfg, env, device
        self.counters: dict[str, int] = {}
        self.resuming = False  # set by the loop: the run continues from a checkpoint
        self.samples_per_epoch: int | None = None

    def prepare(self) -> None:
        pass

    def setup(self) -> None:
        pass

    def build_model(self) -> torch.nn.Module:
        raise NotImplementedError

    def attach(self, model: torch.nn.Module) -> None:
        pass

    def train_loader(self, batch_size: int) -> torch.utils.data.DataLoader:
        raise NotImplementedError

    def set_epoch(self, loader: torch.utils.data.DataLoader, epoch: int, start_batch: int) -> None:
        raise NotImplementedError

    def batch_len(self, batch: Any) -> int:
        raise NotImplementedError

    def train_loss(self, net: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def validate(self, model: torch.nn.Module, autocast: Callable[[], AbstractContextManager]) -> dict[str, Any]:
        raise NotImplementedError

    def log_validation(self, logger: MetricsLogger, result: dict[str, Any], step: int) -> str:
        return ", ".join(f"{k} {result[k]:.4f}" for k in self.metrics)

    def log_train_batch(self, logger: MetricsLogger, batch: Any, step: int) -> None:
        pass

    def checkpoint_meta(self, model: torch.nn.Module) -> dict[str, Any]:
        raise NotImplementedError

    def check_resume(self, ck: dict[str, Any]) -> None:
        pass

    def auto_batch_size(self, model: torch.nn.Module, amp_dtype: torch.dtype | None) -> int:
        raise AksarError(f"data.batch_size: auto is not supported by the {self.name} task; give a number")


TASKS: dict[str, type[Task]] = {}


def register_task(name: str) -> Callable[[type[Task]], type[Task]]:
    """Class decorator: make a :class:`Task` available as ``task: name``."""
    def wrap(cls: type[Task]) -> type[Task]:
        if name in TASKS and TASKS[name] is not cls:
            raise AksarError(f"task {name!r} is registered twice ({TASKS[name].__module__}, {cls.__module__})")
        cls.name = name
        TASKS[name] = cls
        return cls
    return wrap


def task_class(name: str) -> type[Task]:
    """The registered task ``name``; a task module ``aksar.train.tasks.<name>`` is imported on first use."""
    if name not in TASKS and name.isidentifier():
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    if name not in TASKS:
        importlib.import_module(f"{__name__}.recognition")  # the built-in task, for the list below
        raise AksarError(f"task.name: unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}")
    return TASKS[name]


def build_task(cfg: TrainConfig, env: DistEnv, device: torch.device) -> Task:
    return task_class(cfg.task.name)(cfg, env, device)


__all__ = ["Task", "TASKS", "register_task", "task_class", "build_task"]
