"""Numeric sanity of a training config, checked when it is built (``TrainConfig.__post_init__``).

Every bad value is an AksarError naming its key, e.g. ``optimizer.grad_clip: must be >= 0, got -1``,
instead of a torch traceback or a silently wrong run (a negative clip norm flips every gradient).
"""
from __future__ import annotations

import math
from typing import Any, Callable

from aksar.core.errors import AksarError

def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _ge(lo: float) -> tuple[Callable[[float], bool], str]:
    return (lambda v: v >= lo), f"be >= {lo:g}"


def _gt(lo: float) -> tuple[Callable[[float], bool], str]:
    return (lambda v: v > lo), f"be > {lo:g}"


def _within(lo: float, hi: float, hi_open: bool = False, lo_open: bool = False
            ) -> tuple[Callable[[float], bool], str]:
    if lo_open:
        return (lambda v: lo < v <= hi), f"be in ({lo:g}, {hi:g}]"
    if hi_open:
        return (lambda v: lo <= v < hi), f"be in [{lo:g}, {hi:g})"
    return (lambda v: lo <= v <= hi), f"be in [{lo:g}, {hi:g}]"


def _rules() -> list[tuple[str, tuple[Callable[[float], bool], str]]]:
    """(key, (test, what the value must be)); None passes wherever a setting may be None."""
    return [
        ("run.epochs", _ge(1)), ("run.max_steps", _ge(1)), ("run.max_minutes", _gt(0)),
        ("run.val_every_steps", _ge(0)), ("run.val_every_epochs", _ge(0)), ("run.threads", _ge(1)),
        ("run.replan_after_steps", _ge(0)),
        ("data.samples_per_epoch", _ge(1)), ("data.val_batch_size", _ge(1)), ("data.num_workers", _ge(0)),
        ("data.max_text_length", _ge(1)), ("data.val_samples", _ge(1)), ("data.val_max_samples", _ge(1)),
        ("loss.label_smoothing", _within(0, 1, hi_open=True)), ("loss.gamma", _ge(0)), ("loss.alpha", _gt(0)),
        ("optimizer.lr", _gt(0)), ("optimizer.weight_decay", _ge(0)), ("optimizer.momentum", _within(0, 1)),
        ("optimizer.grad_clip", _ge(0)), ("optimizer.accumulate_steps", _ge(1)),
        ("scheduler.warmup_steps", _ge(0)), ("scheduler.warmup_epochs", _ge(0)), ("scheduler.min_lr", _ge(0)),
        ("scheduler.step_size_epochs", _gt(0)), ("scheduler.gamma", _within(0, 1, lo_open=True)),
        ("scheduler.patience", _ge(0)), ("scheduler.max_lr", _gt(0)), ("scheduler.pct_start", _within(0, 1)),
        ("checkpoint.every_n_epochs", _ge(0)), ("checkpoint.keep_last", _ge(1)),
        ("checkpoint.save_every_steps", _ge(0)),
        ("early_stopping.patience", _ge(1)), ("early_stopping.min_delta", _ge(0)),
        ("early_stopping.target_cer", _ge(0)), ("early_stopping.target", _within(-1e30, 1e30)),
        ("logging.log_every_steps", _ge(1)), ("logging.num_samples", _ge(0)),
        ("logging.train_samples_every", _ge(0)),
        ("distill.weight", _within(0, 1)), ("distill.temperature", _gt(0)),
    ]


def _get(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def check_value(key: str, value: Any, test: Callable[[float], bool], what: str) -> None:
    """AksarError ``key: must <what>, got <value>`` unless ``value`` is a finite number passing ``test``."""
    if isinstance(value, float) and math.isinf(value):
        raise AksarError(f"{key}: must be a finite number, got {value}")
    if not _num(value) or not test(value):
        shown = f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
        raise AksarError(f"{key}: must {what}, got {shown}")


def validate_config(cfg: Any) -> None:
    """Raise AksarError naming the first invalid numeric setting of a ``TrainConfig``."""
    for key, (test, what) in _rules():
        value = _get(cfg, key)
        if value is not None:
            check_value(key, value, test, what)
    if isinstance(cfg.data.batch_size, int):
        check_value("data.batch_size", cfg.data.batch_size, *_ge(1))
    for i, beta in enumerate(cfg.optimizer.betas):
        check_value(f"optimizer.betas[{i}]", beta, *_within(0, 1, hi_open=True))
    opt, sch = cfg.optimizer, cfg.scheduler
    if sch.min_lr > opt.lr:
        raise AksarError(f"scheduler.min_lr: must be <= optimizer.lr ({opt.lr:g}), got {sch.min_lr:g}")
    if sch.name == "onecycle" and not 0 < sch.pct_start < 1:
        raise AksarError(f"scheduler.pct_start: must be in (0, 1) for onecycle, got {sch.pct_start}")
    if sch.name == "plateau" and sch.gamma >= 1:
        raise AksarError(f"scheduler.gamma: must be < 1 for plateau, got {sch.gamma}")


__all__ = ["validate_config", "check_value"]
