"""The run state a checkpoint carries besides the weights: position in the data, counters, the
optimizer, scheduler and AMP scaler, the RNG states, and the callbacks' own state.

``capture(loop)`` builds the checkpoint dict, ``restore(loop, ck)`` puts a run back where it stopped, so
a resumed run logs exactly what an uninterrupted one would. Keys (``aksar.models.weights`` documents
the model part): ``optimizer``, ``scheduler``, ``scaler``, ``epoch``, ``batch_in_epoch``, ``step``,
``batch_size``, ``world_size``, ``rng``, ``trainer`` (counters, loss window, callbacks), ``metrics``
(the last validation), ``task`` and ``config``; the task adds its own (``model_name``, ``charset``...).
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aksar.core.config import to_dict
from aksar.core.errors import AksarError

if TYPE_CHECKING:
    from aksar.train.loop import Loop

log = logging.getLogger("aksar.train")


@dataclass
class Progress:
    """Where the run is. Changes only at optimizer-step boundaries (together with the weights)."""

    epoch: int = 0  # current (0-based) epoch
    batch_in_epoch: int = 0  # batches of this epoch already consumed
    step: int = 0  # optimizer steps done
    samples_seen: int = 0
    last_val_step: int = -1
    last_val: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # validation records of this invocation
    window: dict[str, float] = field(default_factory=lambda: {"loss": 0.0, "n": 0, "samples": 0})
    counters: dict[str, int] = field(default_factory=lambda: {"empty_batches": 0})


# ---- RNG states as tensors (weights_only safe) ----------------------------------------------------

def capture_rng_state() -> dict[str, Any]:
    """Python, numpy (legacy global) and torch RNG states as tensors/ints."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": torch.tensor(py_state, dtype=torch.int64),
        "python_version": int(py_version),
        "python_gauss": py_gauss,
        "numpy_keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
        "numpy_pos": int(np_pos),
        "numpy_has_gauss": int(np_has_gauss),
        "numpy_gauss": float(np_gauss),
        "numpy_name": str(np_name),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    if not state:
        return
    random.setstate((state["python_version"], tuple(int(x) for x in state["python"].tolist()),
                     state["python_gauss"]))
    np.random.set_state((state["numpy_name"], state["numpy_keys"].numpy().astype(np.uint32),
                         state["numpy_pos"], state["numpy_has_gauss"], state["numpy_gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


# ---- checkpoint dict ----------------------------------------------------------------------------------

def capture(loop: Loop) -> dict[str, Any]:
    """The whole checkpoint of ``loop`` at its last completed optimizer step."""
    p = loop.progress
    trainer: dict[str, Any] = {"samples_seen": p.samples_seen, "last_val_step": p.last_val_step,
                               "window": dict(p.window), "counters": {**loop.task.counters, **p.counters},
                               "total_steps": loop.total_steps, "planned_steps": loop.planned_steps}
    for cb in loop.callbacks:
        trainer.update(cb.state_dict())
    return {
        **loop.task.checkpoint_meta(loop.model),
        "task": loop.task.name,
        "model_state": {k: v.detach().cpu() for k, v in loop.model.state_dict().items()},
        "config": to_dict(loop.cfg),
        "optimizer": loop.optimizer.state_dict(),
        "scheduler": loop.scheduler.state_dict(),
        "scaler": loop.scaler.state_dict() if loop.scaler.is_enabled() else {},
        "epoch": p.epoch,
        "batch_in_epoch": p.batch_in_epoch,
        "step": p.step,
        "batch_size": loop.batch_size,
        "world_size": loop.env.world_size,
        "rng": capture_rng_state(),
        "trainer": trainer,
        "metrics": dict(p.last_val or {}),
    }


def restore(loop: Loop, ck: dict[str, Any]) -> None:
    """Put ``loop`` (built from the same config) where the checkpoint ``ck`` left its run."""
    task = loop.task
    if ck.get("task", "recognition") != task.name:
        raise AksarError(f"--resume: the checkpoint is of a {ck.get('task')!r} task, the config trains "
                         f"{task.name!r}")
    task.check_resume(ck)
    if ck.get("batch_size") != loop.batch_size or ck.get("world_size") != loop.env.world_size:
        log.warning("resuming with batch size %s x %d ranks (checkpoint: %s x %s): the data order changes",
                    loop.batch_size, loop.env.world_size, ck.get("batch_size"), ck.get("world_size"))
    loop.model.load_state_dict(ck["model_state"])
    t = ck.get("trainer") or {}
    saved_total = t.get("total_steps")
    if saved_total and saved_total != loop.total_steps:  # re-planned to a time budget: keep that plan
        loop.total_steps = int(saved_total)
        loop.planned_steps = int(t.get("planned_steps") or loop.planned_steps)
        loop.rebuild_scheduler()
    loop.optimizer.load_state_dict(ck["optimizer"])
    loop.scheduler.load_state_dict(ck["scheduler"])
    if ck.get("scaler") and loop.scaler.is_enabled():
        loop.scaler.load_state_dict(ck["scaler"])
    p = loop.progress
    p.epoch, p.batch_in_epoch, p.step = int(ck["epoch"]), int(ck["batch_in_epoch"]), int(ck["step"])
    p.samples_seen = int(t.get("samples_seen", 0))
    p.last_val_step = int(t.get("last_val_step", -1))
    p.window = dict(t.get("window") or p.window)
    counters = dict(t.get("counters") or {})
    for own in (p.counters, task.counters):
        own.update({k: int(v) for k, v in counters.items() if k in own})
    p.last_val = dict(ck.get("metrics") or {}) or None
    for cb in loop.callbacks:
        cb.load_state_dict(t, loop)
    restore_rng_state(ck.get("rng") or {})
    log.info("resumed from %s: epoch %d, batch %d, step %d", loop.resume_path, p.epoch + 1, p.batch_in_epoch,
             p.step)


__all__ = ["Progress", "capture", "restore", "capture_rng_state", "restore_rng_state"]
