"""Callbacks of the training loop: the best checkpoint, rotating epoch checkpoints, early stopping
and a target on the task's main metric (the time budget is :class:`aksar.train.budget.TimeBudget`).

A callback sees the loop at fixed points and keeps its own state in the checkpoint (``trainer``
section): ``on_start``, ``on_step`` (after each optimizer step), ``on_validation`` (may return a stop
reason), ``on_checkpoint`` (``latest.pt`` was just written with ``state``), ``on_end``. Metric names and
their direction come from the task (``task.metrics``, ``task.main_metric``, ``task.higher_is_better``).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aksar.core.errors import AksarError
from aksar.models.weights import load_checkpoint

if TYPE_CHECKING:
    from aksar.train.loop import Loop

log = logging.getLogger("aksar.train")


def is_better(value: float, best: float | None, higher: bool, min_delta: float = 0.0) -> bool:
    """``value`` beats ``best`` (None: anything does) by more than ``min_delta``."""
    if best is None:
        return True
    return value > best + min_delta if higher else value < best - min_delta


class Callback:
    """No-op hooks; subclasses override what they need."""

    def on_start(self, loop: Loop) -> None:
        pass

    def on_step(self, loop: Loop) -> None:
        pass

    def on_validation(self, loop: Loop, result: dict[str, Any]) -> str | None:
        return None

    def on_checkpoint(self, loop: Loop, state: dict[str, Any], epoch_end: bool) -> None:
        pass

    def on_end(self, loop: Loop, reason: str) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, saved: dict[str, Any], loop: Loop) -> None:
        pass


class BestCheckpoint(Callback):
    """``checkpoints/best.pt`` whenever the main metric improves; the best weights kept in memory so
    early stopping can end with them (``early_stopping.restore_best``)."""

    def __init__(self, metric: str, higher: bool) -> None:
        self.metric, self.higher = metric, higher
        self.best: float | None = None
        self.best_state: dict[str, Any] | None = None
        self._pending = False

    def on_validation(self, loop: Loop, result: dict[str, Any]) -> None:
        value = float(result[self.metric])
        if is_better(value, self.best, self.higher):
            self.best, self._pending = value, True
            self.best_state = {k: v.detach().cpu().clone() for k, v in loop.model.state_dict().items()}
        return None

    def on_checkpoint(self, loop: Loop, state: dict[str, Any], epoch_end: bool) -> None:
        if self._pending:
            loop.save("best.pt", state)
            self._pending = False

    def on_end(self, loop: Loop, reason: str) -> None:
        if reason == "early_stopping" and loop.cfg.early_stopping.restore_best and self.best_state is not None:
            loop.model.load_state_dict(self.best_state)
            log.info("early stopping: restored the best weights (%s %.4f)", self.metric, self.best)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_metric": self.metric}

    def load_state_dict(self, saved: dict[str, Any], loop: Loop) -> None:
        self.best = saved.get("best", saved.get("best_cer"))  # best_cer: checkpoints before tasks
        best = loop.run_dir / "checkpoints" / "best.pt"
        if best.is_file():
            self.best_state = load_checkpoint(best)["model_state"]


class EpochCheckpoints(Callback):
    """``checkpoints/epoch_NNNN.pt`` every ``checkpoint.every_n_epochs`` epochs, the last ``keep_last`` kept."""

    def on_checkpoint(self, loop: Loop, state: dict[str, Any], epoch_end: bool) -> None:
        c, epoch = loop.cfg.checkpoint, loop.progress.epoch
        if not epoch_end or not c.every_n_epochs or epoch % c.every_n_epochs or not loop.is_main:
            return
        loop.save(f"epoch_{epoch:04d}.pt", state)
        kept = sorted((loop.run_dir / "checkpoints").glob("epoch_*.pt"))
        for old in kept[:max(0, len(kept) - max(1, c.keep_last))]:
            old.unlink()


class EarlyStopping(Callback):
    """Stop when a validation metric has not improved for ``patience`` validations, or as soon as the
    main metric reaches ``early_stopping.target`` (``target_cer``: the same on CER)."""

    def __init__(self, loop: Loop) -> None:
        es, task = loop.cfg.early_stopping, loop.task
        self.cfg = es
        self.metric = es.metric or task.main_metric
        if self.metric not in task.metrics:
            raise AksarError(f"early_stopping.metric: {self.metric!r} is not a metric of the {task.name} task "
                             f"(choose {', '.join(task.metrics)})")
        mode = es.mode if es.mode != "auto" else ("max" if self.metric in task.higher_is_better else "min")
        self.higher = mode == "max"
        self.target: tuple[str, float] | None = None
        if es.target is not None:
            self.target = (task.main_metric, es.target)
        elif es.target_cer is not None:
            if "cer" not in task.metrics:
                raise AksarError(f"early_stopping.target_cer: the {task.name} task has no CER; use "
                                 f"early_stopping.target (on {task.main_metric})")
            self.target = ("cer", es.target_cer)
        self.best: float | None = None
        self.bad = 0

    def on_validation(self, loop: Loop, result: dict[str, Any]) -> str | None:
        if self.target is not None:
            name, goal = self.target
            value = float(result[name])
            if (value >= goal) if name in loop.task.higher_is_better else (value <= goal):
                log.info("target %s %.4f reached (%.4f)", name, goal, value)
                return f"target_{name}"
        if self.cfg.patience is None:
            return None
        value = float(result[self.metric])
        if is_better(value, self.best, self.higher, self.cfg.min_delta):
            self.best, self.bad = value, 0
            return None
        self.bad += 1
        if self.bad >= self.cfg.patience:
            log.info("early stopping: validation %s did not improve for %d validations", self.metric, self.bad)
            return "early_stopping"
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"es_best": self.best, "es_bad": self.bad}

    def load_state_dict(self, saved: dict[str, Any], loop: Loop) -> None:
        self.best, self.bad = saved.get("es_best"), int(saved.get("es_bad", 0))


def default_callbacks(loop: Loop) -> list[Callback]:
    """The callbacks every run has, in the order they are called."""
    from aksar.train.budget import TimeBudget

    task = loop.task
    return [BestCheckpoint(task.main_metric, task.main_metric in task.higher_is_better), EarlyStopping(loop),
            EpochCheckpoints(), TimeBudget()]


__all__ = ["Callback", "BestCheckpoint", "EpochCheckpoints", "EarlyStopping", "default_callbacks", "is_better"]
