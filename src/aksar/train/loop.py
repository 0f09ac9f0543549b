"""The training loop: steps, gradient accumulation, AMP, DDP, signals and the logging cadence.

It knows nothing about what is learnt: a :class:`aksar.train.tasks.Task` builds the model and the
data, computes the loss of a batch and validates; callbacks (:mod:`aksar.train.callbacks`) keep the
best and epoch checkpoints, stop early or on a target, and fit the schedule to a time budget; the run
state (:mod:`aksar.train.state`) is saved and restored so that a resumed run logs exactly what an
uninterrupted one would.

Determinism: model init is seeded, the task's data order is keyed by ``(seed, epoch, batch)``, the torch
RNG is re-seeded per batch from ``(seed, epoch, batch, rank)`` (dropout, teacher forcing), and a
checkpoint stores the data position.
"""
from __future__ import annotations

import logging
import math
import os
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from aksar.core.config import dump_yaml
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_text
from aksar.core.rng import seed_int
from aksar.models.weights import load_checkpoint, resolve_device, resolve_init_from, save_checkpoint
from aksar.train import state as run_state
from aksar.train.callbacks import BestCheckpoint, Callback, default_callbacks
from aksar.train.budget import TimeBudget
from aksar.train.config import TrainConfig
from aksar.train.console import eta_seconds, first_step_line, start_line
from aksar.train.distributed import (DistEnv, all_reduce_mean, any_rank, barrier, broadcast_buffers,
                                     broadcast_object, cleanup_distributed, init_distributed)
from aksar.train.logging_utils import MetricsLogger, console_line
from aksar.train.optim import build_optimizer, build_scheduler, is_plateau
from aksar.train.runtime import StopFlag, set_determinism
from aksar.train.tasks import Task, build_task
from aksar.train.validation import run_validation

log = logging.getLogger("aksar.train")


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    stop_reason: str  # completed | max_steps | time_budget | signal:SIGTERM | early_stopping | target_<metric>
    best: float | None  # best value of the task's main metric (``best_metric``)
    last_val: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)  # validation records
    best_metric: str = "cer"

    @property
    def best_cer(self) -> float | None:
        return self.best if self.best_metric == "cer" else None


class Loop:
    """Builds the run from a :class:`TrainConfig` and its task, then :meth:`fit` trains.

    ``resume``: a checkpoint file or run directory to continue from. ``batch_callback(rank, batch)`` is
    called with every training batch (tests, debugging). ``task``: a Task class (or any factory of
    ``(cfg, env, device)``) to train instead of the one registered as ``cfg.task.name``.
    """

    def __init__(self, cfg: TrainConfig, *, run_dir: str | Path | None = None, resume: str | Path | None = None,
                 batch_callback: Callable[[int, Any], None] | None = None,
                 task: Callable[..., Task] | None = None) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir or cfg.run.output_dir)
        self.resume_path = resume
        self.batch_callback = batch_callback
        self.task_factory = task
        self.stop = StopFlag()

    # ---- setup -------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self.device = resolve_device(cfg.run.device, int(os.environ.get("LOCAL_RANK", 0)), key="run.device")
        self._created_pg = not (torch.distributed.is_available() and torch.distributed.is_initialized())
        self.env: DistEnv = init_distributed(self.device)
        if self.env.enabled and self.device.type == "cuda" and cfg.run.device == "auto":
            self.device = torch.device(f"cuda:{self.env.local_rank}")
        set_determinism(cfg)
        self.is_main = self.env.is_main
        self.task = (self.task_factory or build_task)(cfg, self.env, self.device)

        self.resume_ckpt = None
        if self.resume_path is not None:
            self.resume_ckpt = load_checkpoint(self.resume_path, map_location="cpu")
        elif self.is_main:
            latest = self.run_dir / "checkpoints" / "latest.pt"
            if latest.exists() and not cfg.run.overwrite:
                raise AksarError(f"{self.run_dir} already holds a run (checkpoints/latest.pt); continue it with "
                                 f"--resume {self.run_dir}, or pick another --output-dir, or -o run.overwrite=true")
        self.task.resuming = self.resume_ckpt is not None
        if cfg.model.init_from and not self.task.resuming:  # a bad path or name fails before data is built
            resolve_init_from(cfg.model.init_from)
        if self.is_main:
            self.task.prepare()
        barrier(self.env)
        self.task.setup()

        torch.manual_seed(seed_int(cfg.run.seed, "model-init"))  # identical weights on every rank
        self.model = self.task.build_model()
        self.model.to(self.device)
        self.task.attach(self.model)
        self.net: torch.nn.Module = self.model
        if self.env.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.net = DDP(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

        self.use_amp = self.device.type == "cuda" and cfg.run.precision in ("fp16", "bf16")
        if cfg.run.precision != "fp32" and self.device.type != "cuda":
            log.warning("run.precision %s needs CUDA; training in fp32 on %s", cfg.run.precision, self.device)
        self.amp_dtype = torch.bfloat16 if cfg.run.precision == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and cfg.run.precision == "fp16")

        self.batch_size = self._batch_size()
        self.loader = self.task.train_loader(self.batch_size)
        self.task.set_epoch(self.loader, 0, 0)
        self.batches_per_epoch = len(self.loader.batch_sampler)
        if self.batches_per_epoch < 1:
            n = self.task.samples_per_epoch
            raise AksarError(f"{f'data.samples_per_epoch ({n})' if n else 'the training dataset'} gives no full "
                             f"batch of {self.batch_size} per rank ({self.env.world_size} ranks)")

        accum = cfg.optimizer.accumulate_steps
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / accum)
        self.total_steps = cfg.run.epochs * self.steps_per_epoch
        if cfg.run.max_steps:
            self.total_steps = min(self.total_steps, cfg.run.max_steps)
        self.planned_steps = self.total_steps  # the configured plan (a time budget may shorten total_steps)
        self.optimizer = build_optimizer(self.model.parameters(), cfg.optimizer)
        self.rebuild_scheduler()

        self.progress = run_state.Progress()
        self.step_lr = cfg.optimizer.lr
        self.callbacks: list[Callback] = default_callbacks(self)
        self.budget = next(cb for cb in self.callbacks if isinstance(cb, TimeBudget))
        self.best = next(cb for cb in self.callbacks if isinstance(cb, BestCheckpoint))
        if self.resume_ckpt is not None:
            run_state.restore(self, self.resume_ckpt)

    def rebuild_scheduler(self) -> None:
        self.scheduler = build_scheduler(self.optimizer, self.cfg.scheduler, self.cfg.optimizer.lr, self.total_steps,
                                         self.steps_per_epoch, self.planned_steps)

    def _batch_size(self) -> int:
        bs = self.cfg.data.batch_size
        if bs != "auto":
            return int(bs)
        if self.device.type != "cuda":
            log.warning("data.batch_size: auto needs CUDA; using 32 on %s", self.device)
            return 32
        found = self.task.auto_batch_size(self.model, self.amp_dtype if self.use_amp else None)
        return int(min(broadcast_object(found, self.env), found)) if self.env.enabled else found

    # ---- checkpoints ---------------------------------------------------------------------------------
    def save(self, name: str, state: dict[str, Any] | None = None) -> Path | None:
        if not self.is_main:
            return None
        path = self.run_dir / "checkpoints" / name
        save_checkpoint(path, state or run_state.capture(self))
        return path

    def _checkpoint_latest(self, epoch_end: bool = False) -> dict[str, Any]:
        state = run_state.capture(self)
        self.save("latest.pt", state)
        self.last_save_step = self.progress.step
        for cb in self.callbacks:
            cb.on_checkpoint(self, state, epoch_end)
        return state

    def autocast(self) -> AbstractContextManager:
        if not self.use_amp:
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    # ---- training ------------------------------------------------------------------------------------
    def _micro_step(self, batch: Any, sync: bool) -> float:
        p = self.progress
        ctx = self.net.no_sync() if (self.env.enabled and not sync) else nullcontext()
        with ctx:
            with self.autocast():
                loss, extras = self.task.train_loss(self.net, batch)
            for k, v in extras.items():
                p.window[k] = p.window.get(k, 0.0) + v
            if not torch.isfinite(loss):
                raise AksarError(f"training diverged: loss is {loss.item()} at step {p.step + 1} (epoch "
                                 f"{p.epoch + 1}); lower optimizer.lr or enable optimizer.grad_clip")
            self.scaler.scale(loss / self.cfg.optimizer.accumulate_steps).backward()
        return float(loss.detach())

    def _optimizer_step(self) -> None:
        clip = self.cfg.optimizer.grad_clip
        if clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step_lr = float(self.optimizer.param_groups[0]["lr"])  # the rate this step used (logged)
        self.progress.step += 1
        if not is_plateau(self.scheduler) and self.progress.step <= self.total_steps:
            if self.cfg.scheduler.name != "onecycle" or self.progress.step < self.total_steps:
                self.scheduler.step()

    def fit(self) -> TrainResult:
        """Train until the epochs, ``max_steps``, the time budget, a signal or early stopping end it."""
        self.setup()
        cfg, p = self.cfg, self.progress
        self.logger = MetricsLogger(self.run_dir, enabled=self.is_main, tensorboard=cfg.logging.tensorboard,
                                    resume_step=p.step if self.resume_ckpt is not None else None)
        if self.is_main:
            atomic_write_text(self.run_dir / "config.yaml", dump_yaml(cfg))
            log.info("run directory %s: %s task, model %s (%.2fM parameters), %d batches of %d per epoch "
                     "per rank, %d optimizer steps, device %s%s", self.run_dir, self.task.name, cfg.model.name,
                     sum(q.numel() for q in self.model.parameters()) / 1e6, self.batches_per_epoch,
                     self.batch_size, self.total_steps, self.device,
                     f", {self.env.world_size} ranks" if self.env.enabled else "")
            log.info(start_line(total_steps=self.total_steps, epochs=cfg.run.epochs,
                                steps_per_epoch=self.steps_per_epoch, batch_size=self.batch_size,
                                samples_per_epoch=self.task.samples_per_epoch, device=str(self.device),
                                workers=self.loader.num_workers, budget_min=cfg.run.max_minutes,
                                resumed_at=p.step))
        self.stop.install()
        self.t_start = time.time()
        self._last_log_step = p.step
        for cb in self.callbacks:
            cb.on_start(self)
        self._ready = False
        try:
            reason = self._loop()
        except BaseException as exc:
            # model, optimizer and counters are those of the last completed optimizer step
            if self._ready and self.is_main and self.last_save_step != p.step:
                self.save("latest.pt")
                log.error("%s during training: saved checkpoints/latest.pt at step %d; continue with --resume %s",
                          type(exc).__name__, p.step, self.run_dir)
            raise
        finally:
            self.stop.restore()
            self.logger.close()
        for cb in self.callbacks:
            cb.on_end(self, reason)
        broadcast_buffers(self.model, self.env)
        best, metric = self.best.best, self.best.metric
        if self.is_main:
            log.info("finished (%s) at epoch %d step %d; best validation %s %s; checkpoints in %s", reason,
                     p.epoch + (1 if p.batch_in_epoch else 0), p.step, metric,
                     f"{best:.4f}" if best is not None else "n/a", self.run_dir / "checkpoints")
        cleanup_distributed(self._created_pg)
        return TrainResult(self.run_dir, p.step, p.epoch, reason, best, p.last_val, p.history, metric)

    def _loop(self) -> str:
        cfg, p = self.cfg, self.progress
        accum = cfg.optimizer.accumulate_steps
        self.last_save_step = p.step if self.resume_ckpt is not None else -1
        first_step = p.step + 1
        self._ready = True
        t_last = time.time()
        cost = {"reader": 0.0, "batch": 0.0}
        while p.epoch < cfg.run.epochs:
            self.task.set_epoch(self.loader, p.epoch, p.batch_in_epoch)
            it = iter(self.loader)
            b = p.batch_in_epoch
            while b < self.batches_per_epoch:
                # one optimizer step = `accum` batches (fewer at the end of the epoch)
                t0 = time.time()
                losses: list[float] = []
                samples = 0
                for _ in range(min(accum, self.batches_per_epoch - b)):
                    t_fetch = time.time()
                    batch = next(it)
                    cost["reader"] += time.time() - t_fetch
                    b += 1
                    if self.batch_callback is not None:
                        self.batch_callback(self.env.rank, batch)
                    n = self.task.batch_len(batch)
                    if not n:
                        p.counters["empty_batches"] += 1
                        continue
                    torch.manual_seed(seed_int(cfg.run.seed, "batch", p.epoch, b, self.env.rank))
                    last = len(losses) + 1 == accum or b == self.batches_per_epoch
                    losses.append(self._micro_step(batch, sync=last))
                    samples += n
                if losses:
                    self._optimizer_step()
                # commit the step: counters change only together with the weights
                p.batch_in_epoch = b
                p.window["loss"] += sum(losses)
                p.window["n"] += len(losses)
                p.window["samples"] += samples
                p.samples_seen += samples * self.env.world_size
                cost["batch"] += time.time() - t0
                if not losses:  # only empty batches: no optimizer step happened
                    continue
                self._sample_batch = batch
                if p.step == first_step and self.is_main:
                    log.info(first_step_line(p.step, time.time() - self.t_start, sum(losses) / len(losses),
                                             self.step_lr, self.total_steps - p.step, self.budget.left()))
                    self.task.log_train_batch(self.logger, batch, p.step)
                if p.step % cfg.logging.log_every_steps == 0:
                    self._log_train(cost, time.time() - t_last)
                    t_last = time.time()
                    cost = {"reader": 0.0, "batch": 0.0}
                epoch_done = b >= self.batches_per_epoch
                if cfg.run.val_every_steps and p.step % cfg.run.val_every_steps == 0 and not epoch_done:
                    if self._validate_and_save():
                        return self._stop_reason
                elif cfg.checkpoint.save_every_steps and p.step % cfg.checkpoint.save_every_steps == 0:
                    self._checkpoint_latest()
                for cb in self.callbacks:
                    cb.on_step(self)
                stop = self._check_stop()
                if stop:
                    if stop in ("time_budget", "max_steps") and self._validate_and_save():
                        return self._stop_reason
                    if self.last_save_step != p.step:
                        self._checkpoint_latest()
                    return stop
            # end of epoch
            p.epoch += 1
            p.batch_in_epoch = 0
            do_val = (cfg.run.val_every_epochs and p.epoch % cfg.run.val_every_epochs == 0) or p.epoch == cfg.run.epochs
            if do_val and self._validate_and_save(epoch_end=True):
                return self._stop_reason
            if not do_val:
                self._checkpoint_latest(epoch_end=True)
        return "completed"

    def _check_stop(self) -> str | None:
        cfg = self.cfg
        flags = [self.stop.signum is not None, self.budget.spent()]
        if self.env.enabled:
            flags = [any_rank(f, self.env, self.device) for f in flags]
        if flags[0]:
            return f"signal:{self.stop.name()}"
        if flags[1]:
            log.info("time budget of %.1f minutes reached", cfg.run.max_minutes)
            return "time_budget"
        if self.total_steps < self.planned_steps and self.progress.step >= self.total_steps:
            # the schedule was re-planned to the budget and has ended: more steps would only idle at min_lr
            log.info("time budget: the re-planned schedule ended at step %d", self.progress.step)
            return "time_budget"
        if cfg.run.max_steps and self.progress.step >= cfg.run.max_steps:
            return "max_steps"
        return None

    def _log_train(self, cost: dict[str, float], elapsed: float) -> None:
        p = self.progress
        n = max(1, p.window["n"])
        loss, samples = p.window["loss"] / n, p.window["samples"]
        loss = all_reduce_mean([loss], self.env, self.device)[0]
        steps_in_window = max(1, p.step - self._last_log_step)
        self._last_log_step = p.step
        rec = {
            "type": "train", "epoch": p.epoch + 1, "step": p.step, "loss": loss, "lr": self.step_lr,
            "reader_cost": cost["reader"] / steps_in_window, "batch_cost": cost["batch"] / steps_in_window,
            "samples_per_s": samples * self.env.world_size / max(elapsed, 1e-9),
            "samples_seen": p.samples_seen,
        }
        eta = eta_seconds(self.total_steps - p.step, elapsed / steps_in_window, self.budget.left())
        rec["eta_s"] = eta
        extras = {f"{k}_loss": all_reduce_mean([v / n], self.env, self.device)[0]
                  for k, v in p.window.items() if k not in ("loss", "n", "samples")}
        rec.update(extras)
        p.window = {"loss": 0.0, "n": 0, "samples": 0}
        if not self.is_main:
            return
        self.logger.write(rec)
        self.logger.scalars("train", {"loss": loss, "lr": rec["lr"], "samples_per_s": rec["samples_per_s"],
                                      "reader_cost": rec["reader_cost"], "batch_cost": rec["batch_cost"], **extras},
                            p.step)
        log.info(console_line(p.epoch, self.cfg.run.epochs, p.batch_in_epoch, self.batches_per_epoch, rec, eta))

    # ---- validation ------------------------------------------------------------------------------------
    def _validate_and_save(self, epoch_end: bool = False) -> bool:
        """Validate (rank 0), run the callbacks, write checkpoints; True if training should stop."""
        p = self.progress
        if p.last_val_step == p.step:  # already validated at this step (e.g. resumed right after)
            if epoch_end:
                self._checkpoint_latest(epoch_end=True)
            return False
        result = run_validation(self) if self.is_main else None
        result = broadcast_object(result, self.env)
        p.last_val_step = p.step
        p.last_val = {k: v for k, v in result.items() if k != "samples"}
        p.history.append(p.last_val)
        value = float(result[self.task.main_metric])
        if is_plateau(self.scheduler):
            self.scheduler.step(-value if self.task.main_metric in self.task.higher_is_better else value)
        reasons = [cb.on_validation(self, result) for cb in self.callbacks]
        self._checkpoint_latest(epoch_end=epoch_end)
        self._stop_reason = next((r for r in reasons if r), None)
        return self._stop_reason is not None


__all__ = ["Loop", "TrainResult"]
