"""Fitting the learning-rate schedule to a wall-clock budget (``run.max_minutes``).

A cosine or one-cycle schedule planned for ``epochs x steps_per_epoch`` steps is cut off at a high
learning rate when the budget ends the run first. ``BudgetPlanner`` measures the wall time per optimizer
step (validations and checkpoints included, amortised) over the first ``run.replan_after_steps`` steps,
then after every validation, and gives the number of steps the remaining budget allows; the trainer
re-plans the scheduler to that total (never beyond the configured plan) and saves it with the state.
A cosine warm-up shrinks with the plan (``build_scheduler(planned_steps=...)``): a warm-up of half an
epoch of a 30-epoch plan would otherwise fill most of a one-hour run.
"""
from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from aksar.train.callbacks import Callback
from aksar.train.distributed import broadcast_object
from aksar.train.optim import depends_on_length, replan_scheduler

if TYPE_CHECKING:
    from aksar.train.loop import Loop

log = logging.getLogger("aksar.train")


class BudgetPlanner:
    """After each optimizer step: ``start`` (once), then if ``due``, ``propose`` a new total of steps.

    ``margin`` keeps a share of the remaining budget free (the final validation and checkpoint, noise).
    """

    def __init__(self, budget_s: float, t_start: float, planned_total: int, measure_steps: int,
                 margin: float = 0.08, min_change: float = 0.02) -> None:
        self.budget_s = budget_s
        self.t_start = t_start
        self.planned_total = planned_total  # the configured plan: an upper bound
        self.measure_steps = max(1, measure_steps)
        self.margin = margin
        self.min_change = min_change
        self.first: tuple[int, float] | None = None  # (step, time) when measuring began
        self.measured = False

    def step_seconds(self, step: int, now: float) -> float | None:
        """Mean wall seconds per optimizer step since measuring began (None before two points)."""
        if self.first is None or step <= self.first[0]:
            return None
        return (now - self.first[1]) / (step - self.first[0])

    def fit(self, step: int, now: float) -> int | None:
        """Steps in total the budget allows from ``step`` at the measured pace (capped by the plan)."""
        per_step = self.step_seconds(step, now)
        if per_step is None:
            return None
        left = self.budget_s * (1 - self.margin) - (now - self.t_start)
        extra = max(0, math.floor(left / max(per_step, 1e-9)))
        return max(step + 2, min(self.planned_total, step + extra))

    def due(self, step: int, current_total: int, validated: bool = False) -> bool:
        """Whether to re-plan after optimizer ``step`` (``validated``: a validation ran since the last
        call). Depends only on step counts, so every rank of a distributed run agrees."""
        if step >= current_total:  # the schedule has ended: re-planning would raise the rate again
            return False
        if self.first is None:
            return False
        if not self.measured:
            self.measured = step - self.first[0] >= self.measure_steps
            return self.measured
        return validated

    def start(self, step: int, now: float) -> None:
        """Begin measuring after the first step (it carries start-up costs: workers, caches)."""
        if self.first is None:
            self.first = (step, now)

    def propose(self, step: int, now: float, current_total: int) -> int | None:
        """The new total, or None when it differs from ``current_total`` by less than ``min_change``."""
        total = self.fit(step, now)
        if total is None or abs(total - current_total) <= self.min_change * current_total:
            return None
        return total


class TimeBudget(Callback):
    """``run.max_minutes``: how much of the budget is left, whether it is spent, and re-planning the
    learning-rate schedule to the steps it allows (rank 0 decides for all ranks)."""

    def __init__(self) -> None:
        self.planner: BudgetPlanner | None = None
        self.minutes: float | None = None
        self.t_start = time.time()
        self._vals_seen = 0

    def on_start(self, loop: Loop) -> None:
        run, sched = loop.cfg.run, loop.cfg.scheduler
        self.minutes, self.t_start, self._vals_seen = run.max_minutes, loop.t_start, 0
        if not run.max_minutes or not run.replan_after_steps:
            return
        if not depends_on_length(sched):
            if loop.is_main:
                log.info("time budget: the %s schedule does not depend on the run length; not re-planned",
                         sched.name)
            return
        self.planner = BudgetPlanner(run.max_minutes * 60, loop.t_start, loop.total_steps, run.replan_after_steps)

    def left(self) -> float | None:
        """Seconds of the budget left (None: no budget)."""
        return self.minutes * 60 - (time.time() - self.t_start) if self.minutes else None

    def spent(self) -> bool:
        left = self.left()
        return left is not None and left < 0

    def on_step(self, loop: Loop) -> None:
        if self.planner is None:
            return
        step = loop.progress.step
        self.planner.start(step, time.time())
        validated, self._vals_seen = len(loop.progress.history) != self._vals_seen, len(loop.progress.history)
        if not self.planner.due(step, loop.total_steps, validated):
            return
        total = self.planner.propose(step, time.time(), loop.total_steps) if loop.is_main else None
        total = broadcast_object(total, loop.env)
        if total is None:
            return
        per_step = self.planner.step_seconds(step, time.time()) or 0.0
        if loop.is_main:
            log.info("time budget: %.1f min left at %.3fs/step: re-planned the %s schedule from %d to %d steps "
                     "(the learning rate reaches its end value within the budget)", (self.left() or 0) / 60,
                     per_step, loop.cfg.scheduler.name, loop.total_steps, total)
            loop.logger.write({"type": "replan", "step": step, "total_steps": total,
                               "previous_total_steps": loop.total_steps})
        loop.total_steps = total
        loop.scheduler = replan_scheduler(loop.scheduler, loop.optimizer, loop.cfg.scheduler, loop.cfg.optimizer.lr,
                                          total, loop.steps_per_epoch, loop.planned_steps)


__all__ = ["BudgetPlanner", "TimeBudget"]
