"""What the training console says before the first logged window: a start line (plan, data, device,
budget), a line after the first optimizer step, and an ETA that honours the time budget."""
from __future__ import annotations

import logging
import time

from aksar.train.logging_utils import batch_images, format_eta

log = logging.getLogger("aksar.train")


def eta_seconds(remaining_steps: int, step_seconds: float, budget_left_s: float | None) -> float:
    """Seconds to the end of the run: the remaining steps at the measured pace, or the time budget
    left when that ends the run first."""
    eta = max(0, remaining_steps) * max(0.0, step_seconds)
    if budget_left_s is not None:
        eta = min(eta, max(0.0, budget_left_s))
    return eta


def start_line(*, total_steps: int, epochs: int, steps_per_epoch: int, samples_per_epoch: int | None,
               batch_size: int, device: str, workers: int, budget_min: float | None, resumed_at: int) -> str:
    """One line saying what the run will do, printed before the first batch is fetched."""
    data = f"{samples_per_epoch} samples/epoch" if samples_per_epoch else "dataset on disk"
    parts = [f"planned {total_steps} optimizer steps ({epochs} epochs x {steps_per_epoch} steps)",
             f"{data}, batch {batch_size}", f"device {device}", f"{workers} data workers"]
    if budget_min:
        parts.append(f"time budget {budget_min:g} min")
    if resumed_at:
        parts.append(f"continuing at step {resumed_at}")
    return "starting: " + ", ".join(parts)


def first_step_line(step: int, seconds: float, loss: float, lr: float, remaining_steps: int,
                    budget_left_s: float | None) -> str:
    """The line after the first optimizer step of an invocation (start-up time included)."""
    eta = eta_seconds(remaining_steps, seconds, budget_left_s)
    return (f"step {step} done {seconds:.1f}s after start (data workers, first batch): loss {loss:.4f} "
            f"lr {lr:.1e}; {remaining_steps} steps to go, eta at most {format_eta(eta)}")


class ConsoleMixin:
    """Trainer methods: the first-step console line and training samples in TensorBoard."""

    def _after_first_step(self, loss: float) -> None:
        """A console line within seconds of the start, and the first batch's samples in TensorBoard."""
        if not self.is_main:
            return
        log.info(first_step_line(self.step, time.time() - self.t_start, loss, self.step_lr,
                                 self.total_steps - self.step, self._budget_left()))
        self._log_train_samples()

    def _log_train_samples(self) -> None:
        batch = getattr(self, "_sample_batch", None)
        if batch is None or not self.is_main:
            return
        pre, k = self.cfg.data.preprocess, self.cfg.logging.num_samples
        self.logger.train_samples(batch_images(batch["images"], batch["widths"], pre.mean, pre.std, k),
                                  list(batch["texts"][:k]), self.step)


__all__ = ["eta_seconds", "start_line", "first_step_line", "ConsoleMixin"]
