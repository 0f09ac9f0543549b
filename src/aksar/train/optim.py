"""Optimizers (Adam, AdamW, SGD) and learning-rate schedules (steplr, cosine with warm-up, plateau, onecycle).

Every schedule except ``plateau`` is stepped once per optimizer step; ``plateau`` is stepped with the
validation CER. Step-based schedules are ``LambdaLR``s of a plain function, so their state dicts hold
only numbers (checkpoints load with ``weights_only=True``).
"""
from __future__ import annotations

import math
from functools import partial

import logging

import torch

from aksar.core.errors import AksarError
from aksar.train.config import OptimizerConfig, SchedulerConfig

log = logging.getLogger("aksar.train")


def build_optimizer(params, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    raise AksarError(f"optimizer.name: unknown optimizer {cfg.name!r}")


def _cosine(step: int, warmup: int, total: int, floor: float) -> float:
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _steplr(step: int, step_size: int, gamma: float) -> float:
    return gamma ** (step // max(1, step_size))


def _constant(step: int) -> float:
    return 1.0


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: SchedulerConfig, base_lr: float, total_steps: int,
                    steps_per_epoch: int, planned_steps: int | None = None):
    """Scheduler for ``total_steps`` optimizer steps; ``steps_per_epoch`` converts epoch settings.

    ``planned_steps``: the configured length when ``total_steps`` is a shorter re-plan (a time budget);
    the cosine warm-up then shrinks in proportion, so the schedule keeps its shape instead of spending
    most of a short run warming up.
    """
    total_steps = max(1, total_steps)
    if cfg.name == "cosine":
        warmup = cfg.warmup_steps + int(round(cfg.warmup_epochs * steps_per_epoch))
        if planned_steps and total_steps < planned_steps:
            warmup = int(round(warmup * total_steps / planned_steps))
        if warmup >= total_steps:
            log.warning("scheduler: warm-up of %d steps is not shorter than the run (%d steps); using %d",
                        warmup, total_steps, total_steps - 1)
            warmup = total_steps - 1
        fn = partial(_cosine, warmup=warmup, total=total_steps, floor=cfg.min_lr / base_lr)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)
    if cfg.name == "steplr":
        size = max(1, int(round(cfg.step_size_epochs * steps_per_epoch)))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, partial(_steplr, step_size=size, gamma=cfg.gamma))
    if cfg.name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.max_lr or base_lr, total_steps=total_steps,
                                                   pct_start=cfg.pct_start)
    if cfg.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=cfg.gamma,
                                                          patience=cfg.patience, min_lr=cfg.min_lr)
    if cfg.name == "none":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, _constant)
    raise AksarError(f"scheduler.name: unknown scheduler {cfg.name!r}")


def depends_on_length(cfg: SchedulerConfig) -> bool:
    """Whether the schedule's shape depends on the planned number of steps (and can be re-planned)."""
    return cfg.name in ("cosine", "onecycle")


def replan_scheduler(scheduler, optimizer: torch.optim.Optimizer, cfg: SchedulerConfig, base_lr: float,
                     total_steps: int, steps_per_epoch: int, planned_steps: int | None = None):
    """A scheduler for ``total_steps`` positioned where ``scheduler`` is (same step count), the
    optimizer's learning rate set to the new schedule's value there (``planned_steps``: see
    ``build_scheduler``)."""
    done = scheduler.last_epoch
    new = build_scheduler(optimizer, cfg, base_lr, total_steps, steps_per_epoch, planned_steps)
    if done > 0:
        new.last_epoch = done - 1
        new.step()
    return new


def is_plateau(scheduler) -> bool:
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


__all__ = ["build_optimizer", "build_scheduler", "replan_scheduler", "depends_on_length", "is_plateau"]
