"""Running a validation during training: the task measures, this module times and logs it
(``metrics.jsonl`` record, TensorBoard scalars of every task metric, the task's samples, one console
line) and, every ``logging.train_samples_every`` validations, shows a training batch again."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from aksar.train.loop import Loop

log = logging.getLogger("aksar.train")


@torch.no_grad()
def run_validation(loop: Loop) -> dict[str, Any]:
    """The task's validation of the current weights (rank 0), logged; returns the record."""
    p, task = loop.progress, loop.task
    t0 = time.time()
    measured = task.validate(loop.model, loop.autocast)
    loop.model.train()
    result = {"type": "val", "epoch": p.epoch + (1 if p.batch_in_epoch else 0), "step": p.step,
              **{k: v for k, v in measured.items() if not k.startswith("_")}, "val_seconds": round(time.time() - t0, 3)}
    loop.logger.write(result)
    loop.logger.scalars("val", {k: result[k] for k in task.metrics}, p.step)
    text = task.log_validation(loop.logger, measured, p.step)
    every = loop.cfg.logging.train_samples_every
    batch = getattr(loop, "_sample_batch", None)
    if every and (len(p.history) + 1) % every == 0 and batch is not None:
        task.log_train_batch(loop.logger, batch, p.step)
    head, _, tail = text.partition("\n")
    log.info("validation at step %d: %s (%d samples, %.1fs)%s", p.step, head, result["num_samples"],
             result["val_seconds"], "\n" + tail if tail else "")
    return result


__all__ = ["run_validation"]
