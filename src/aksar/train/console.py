"""What the training console says before the first logged window: a start line (plan, data, device,
budget), a line after the first optimizer step, and an ETA that honours the time budget."""
from __future__ import annotations

from aksar.train.logging_utils import format_eta


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


__all__ = ["eta_seconds", "start_line", "first_step_line"]
