"""The training loop: one model-agnostic trainer for CTC, attention and single-character models.

Models return their loss and decode themselves (``OCRModel.forward(images, widths, targets)``,
``.decode(outputs)``), so training and the shared validation loop need no CTC/attention specifics.

Determinism: model init is seeded, on-the-fly samples are keyed by ``(seed, epoch, index)``, the torch
RNG is re-seeded per batch from ``(seed, epoch, batch, rank)`` (dropout, teacher forcing), and a
checkpoint stores the data position, so a resumed run logs exactly what an uninterrupted one would.
"""
from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_text
from aksar.core.config import dump_yaml, to_dict
from aksar.core.rng import seed_int
from aksar.train import checkpoint as ckpt_mod
from aksar.train.config import TrainConfig, config_from_dict
from aksar.train.distributed import (DistEnv, all_reduce_mean, any_rank, barrier, broadcast_buffers,
                                     broadcast_object, cleanup_distributed, init_distributed)
from aksar.train.budget import BudgetMixin
from aksar.train.console import ConsoleMixin, eta_seconds, start_line
from aksar.train.logging_utils import MetricsLogger, console_line
from aksar.train.optim import build_optimizer, build_scheduler, is_plateau

log = logging.getLogger("aksar.train")


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    stop_reason: str  # completed | max_steps | time_budget | signal:SIGTERM | early_stopping | target_cer
    best_cer: float | None
    last_val: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)  # validation records


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto``: CUDA (this rank's GPU) if available, else CPU (the shared check, ``checkpoint.resolve_device``)."""
    return ckpt_mod.resolve_device(name, local_rank, key="run.device")


def set_determinism(cfg: TrainConfig, device: torch.device) -> None:
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    if cfg.run.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = cfg.run.cudnn_benchmark


class _StopFlag:
    """SIGTERM/SIGINT set a flag checked after each optimizer step; a second SIGINT interrupts at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("received %s: stopping after this step with a checkpoint (SIGINT again to abort)",
                    signal.Signals(signum).name)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


class _WorkerInit:
    """DataLoader workers ignore SIGINT (Ctrl-C reaches the whole process group; the main process
    stops cleanly and shuts them down), then run the loader's own init."""

    def __init__(self, inner: Callable[[int], None] | None) -> None:
        self.inner = inner

    def __call__(self, worker_id: int) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.inner is not None:
            self.inner(worker_id)


class Trainer(ConsoleMixin, BudgetMixin):
    """Builds everything from a :class:`TrainConfig` and runs :meth:`fit`.

    ``resume``: a checkpoint file or run directory to continue from. ``batch_callback(rank, batch)``
    is called with every training batch (tests, debugging).
    """

    def __init__(self, cfg: TrainConfig, *, run_dir: str | Path | None = None, resume: str | Path | None = None,
                 batch_callback: Callable[[int, dict], None] | None = None) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir or cfg.run.output_dir)
        self.resume_path = resume
        self.batch_callback = batch_callback
        self.stop = _StopFlag()

    # ---- setup -------------------------------------------------------------------------------------
    def _setup(self) -> None:
        from aksar.models.losses import build_loss
        from aksar.models.registry import build_model
        from aksar.text.charset import Charset

        cfg = self.cfg
        self.device = resolve_device(cfg.run.device, int(os.environ.get("LOCAL_RANK", 0)))
        self._created_pg = not (torch.distributed.is_available() and torch.distributed.is_initialized())
        self.env: DistEnv = init_distributed(self.device)
        if self.env.enabled and self.device.type == "cuda" and cfg.run.device == "auto":
            self.device = torch.device(f"cuda:{self.env.local_rank}")
        set_determinism(cfg, self.device)
        self.is_main = self.env.is_main

        self.resume_ckpt = None
        if self.resume_path is not None:
            self.resume_ckpt = ckpt_mod.load_checkpoint(self.resume_path, map_location="cpu")
        elif self.is_main:
            latest = self.run_dir / "checkpoints" / "latest.pt"
            if latest.exists() and not cfg.run.overwrite:
                raise AksarError(f"{self.run_dir} already holds a run (checkpoints/latest.pt); continue it with "
                                 f"--resume {self.run_dir}, or pick another --output-dir, or -o run.overwrite=true")

        if self.is_main:
            from aksar.train.prepare import prepare_data

            prepare_data(cfg)
        barrier(self.env)

        self.charset = Charset.load(cfg.data.charset_path())
        self.tokens = list(self.charset.tokens)
        self.script = self._script()
        pre = cfg.data.preprocess
        if cfg.data.synth.render.height != pre.height:
            log.info("data.synth.render.height %d differs from data.preprocess.height %d: images are resized",
                     cfg.data.synth.render.height, pre.height)

        # model: seeded init, identical on every rank
        torch.manual_seed(seed_int(cfg.run.seed, "model-init"))
        kwargs = dict(cfg.model.kwargs)
        kwargs.setdefault("height", pre.height)
        self.model = build_model(cfg.model.name, len(self.tokens), **kwargs)
        if cfg.loss.name != "auto":
            family = self.model.loss_family
            self.model.loss_fn = build_loss(cfg.loss.resolve(family), family=family)
        elif cfg.loss.label_smoothing and self.model.loss_family == "ce":
            self.model.loss_fn = build_loss(cfg.loss.resolve("ce"), family="ce")
        if cfg.model.init_from and self.resume_ckpt is None:
            ckpt_mod.init_from_checkpoint(self.model, cfg.model.init_from, self.tokens, cfg.model.name)
        self.model.to(self.device)
        self.distiller = None
        if cfg.distill.teacher:
            from aksar.train.distill import Distiller

            self.distiller = Distiller(cfg.distill, self.tokens, pre.height, self.model, self.device)
        self.net: torch.nn.Module = self.model
        if self.env.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.net = DDP(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

        # precision
        self.use_amp = self.device.type == "cuda" and cfg.run.precision in ("fp16", "bf16")
        if cfg.run.precision != "fp32" and self.device.type != "cuda":
            log.warning("run.precision %s needs CUDA; training in fp32 on %s", cfg.run.precision, self.device)
        self.amp_dtype = torch.bfloat16 if cfg.run.precision == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and cfg.run.precision == "fp16")

        # data
        self.batch_size = self._batch_size()
        self._build_data()

        # optimisation
        accum = cfg.optimizer.accumulate_steps
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / accum)
        self.total_steps = cfg.run.epochs * self.steps_per_epoch
        if cfg.run.max_steps:
            self.total_steps = min(self.total_steps, cfg.run.max_steps)
        self.planned_steps = self.total_steps  # the configured plan (a time budget may shorten total_steps)
        self.optimizer = build_optimizer(self.model.parameters(), cfg.optimizer)
        self.scheduler = build_scheduler(self.optimizer, cfg.scheduler, cfg.optimizer.lr, self.total_steps,
                                         self.steps_per_epoch)

        # state
        self.epoch = 0  # current (0-based) epoch
        self.batch_in_epoch = 0  # batches of this epoch already consumed (at an optimizer-step boundary)
        self.step = 0  # optimizer steps done
        self.samples_seen = 0
        self.best_cer: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.es_best: float | None = None
        self.es_bad = 0
        self.last_val_step = -1
        self.last_val: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []
        self.window = {"loss": 0.0, "n": 0, "samples": 0}
        self.step_lr = cfg.optimizer.lr
        self.counters: dict[str, int] = {"unknown_chars": 0, "empty_batches": 0, "infeasible": 0}
        if self.resume_ckpt is not None:
            self._restore(self.resume_ckpt)

    def _script(self) -> str | None:
        from aksar.text.corpus import corpus_script

        try:
            return corpus_script(self.cfg.data.corpus_dir)
        except AksarError:
            if self.cfg.data.preset:
                from aksar.text.presets import preset_script

                return preset_script(self.cfg.data.preset)
            return self.cfg.data.corpus.script

    def _batch_size(self) -> int:
        bs = self.cfg.data.batch_size
        if bs != "auto":
            return int(bs)
        if self.device.type != "cuda":
            log.warning("data.batch_size: auto needs CUDA; using 32 on %s", self.device)
            return 32
        from aksar.train.autobatch import find_batch_size

        found = find_batch_size(self.model, self.device, self.cfg, self.amp_dtype if self.use_amp else None)
        found = int(min(broadcast_object(found, self.env), found)) if self.env.enabled else found
        return found

    def _build_data(self) -> None:
        from aksar.data.onthefly import OnTheFlyDataset, make_train_loader, set_loader_epoch
        from aksar.data.readers import open_dataset

        cfg, d = self.cfg, self.cfg.data
        if d.train_dataset:
            self.train_set = open_dataset(d.train_dataset, allow_outside_root=d.allow_outside_root)
        else:
            self.train_set = OnTheFlyDataset(d.corpus_dir, d.synth, d.samples_per_epoch, cfg.run.seed,
                                             max_text_length=d.max_text_length, script=self.script,
                                             text_mix=d.text_mix, charset=self.charset)
        self.loader = make_train_loader(
            self.train_set, self.batch_size, preprocess_cfg=d.preprocess, num_workers=d.num_workers,
            seed=cfg.run.seed, rank=self.env.rank, world_size=self.env.world_size, drop_last=True,
            pin_memory=d.pin_memory and self.device.type == "cuda")
        self._set_loader_epoch = set_loader_epoch
        if self.loader.num_workers > 0:
            self.loader.worker_init_fn = _WorkerInit(self.loader.worker_init_fn)
        set_loader_epoch(self.loader, 0, 0)
        self.batches_per_epoch = len(self.loader.batch_sampler)
        if self.batches_per_epoch < 1:
            raise AksarError(f"data.samples_per_epoch ({d.samples_per_epoch}) gives no full batch of "
                             f"{self.batch_size} per rank ({self.env.world_size} ranks)")
        self.val_set = open_dataset(d.val_dir, allow_outside_root=d.allow_outside_root) if self.is_main else None
        if self.val_set is not None and len(self.val_set) == 0:
            raise AksarError(f"data.val_dir: {d.val_dir} holds no validation samples")

    # ---- checkpoint state -----------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "model_name": self.cfg.model.name,
            "model_kwargs": self.model.config(),
            "model_state": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "charset": list(self.tokens),
            "script": self.script,
            "preprocess": to_dict(self.cfg.data.preprocess),
            "config": to_dict(self.cfg),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "batch_size": self.batch_size,
            "world_size": self.env.world_size,
            "rng": ckpt_mod.capture_rng_state(),
            "trainer": {
                "samples_seen": self.samples_seen, "best_cer": self.best_cer, "es_best": self.es_best,
                "es_bad": self.es_bad, "last_val_step": self.last_val_step, "window": dict(self.window),
                "counters": dict(self.counters), "total_steps": self.total_steps,
                "planned_steps": self.planned_steps,
            },
            "metrics": dict(self.last_val or {}),
        }

    def _restore(self, ck: dict[str, Any]) -> None:
        if ck["model_name"] != self.cfg.model.name:
            raise AksarError(f"--resume: checkpoint holds a {ck['model_name']!r} model, config says "
                             f"{self.cfg.model.name!r}")
        if list(ck["charset"]) != self.tokens:
            raise AksarError("--resume: the checkpoint's charset differs from this run's "
                             f"({self.cfg.data.charset_path()}); fine-tune with model.init_from instead")
        if ck.get("batch_size") != self.batch_size or ck.get("world_size") != self.env.world_size:
            log.warning("resuming with batch size %s x %d ranks (checkpoint: %s x %s): the data order changes",
                        self.batch_size, self.env.world_size, ck.get("batch_size"), ck.get("world_size"))
        self.model.load_state_dict(ck["model_state"])
        saved_total = (ck.get("trainer") or {}).get("total_steps")
        if saved_total and saved_total != self.total_steps:  # re-planned to a time budget: keep that plan
            self.total_steps = int(saved_total)
            self.planned_steps = int((ck.get("trainer") or {}).get("planned_steps") or self.planned_steps)
            self.scheduler = build_scheduler(self.optimizer, self.cfg.scheduler, self.cfg.optimizer.lr,
                                             self.total_steps, self.steps_per_epoch, self.planned_steps)
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        if ck.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ck["scaler"])
        self.epoch, self.batch_in_epoch, self.step = int(ck["epoch"]), int(ck["batch_in_epoch"]), int(ck["step"])
        t = ck.get("trainer", {})
        self.samples_seen = int(t.get("samples_seen", 0))
        self.best_cer, self.es_best, self.es_bad = t.get("best_cer"), t.get("es_best"), int(t.get("es_bad", 0))
        self.last_val_step = int(t.get("last_val_step", -1))
        self.window = dict(t.get("window") or self.window)
        self.counters.update(t.get("counters") or {})
        self.last_val = dict(ck.get("metrics") or {}) or None
        ckpt_mod.restore_rng_state(ck.get("rng") or {})
        best = self.run_dir / "checkpoints" / "best.pt"
        if best.is_file():
            self.best_state = ckpt_mod.load_checkpoint(best)["model_state"]
        log.info("resumed from %s: epoch %d, batch %d, step %d", self.resume_path, self.epoch + 1,
                 self.batch_in_epoch, self.step)

    def save(self, name: str, state: dict[str, Any] | None = None) -> Path | None:
        if not self.is_main:
            return None
        path = self.run_dir / "checkpoints" / name
        ckpt_mod.save_checkpoint(path, state or self._state())
        return path

    def _save_epoch_checkpoint(self, state: dict[str, Any]) -> None:
        c = self.cfg.checkpoint
        if not c.every_n_epochs or self.epoch % c.every_n_epochs or not self.is_main:
            return
        self.save(f"epoch_{self.epoch:04d}.pt", state)
        kept = sorted((self.run_dir / "checkpoints").glob("epoch_*.pt"))
        for old in kept[:max(0, len(kept) - max(1, c.keep_last))]:
            old.unlink()

    # ---- training ------------------------------------------------------------------------------------
    def _encode(self, texts: list[str]) -> list[list[int]]:
        ids = []
        for t in texts:
            unknown = self.charset.unknown(t)
            if unknown:
                self.counters["unknown_chars"] += len(unknown)
            ids.append(self.charset.encode(t, on_unknown="skip"))
        return ids

    def _autocast(self):
        if not self.use_amp:
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def _micro_step(self, batch: dict[str, Any], sync: bool) -> float:
        images = batch["images"].to(self.device, non_blocking=True)
        widths = batch["widths"].to(self.device, non_blocking=True)
        targets = self.model.prepare_targets(self._encode(batch["texts"]), self.device)
        ctx = self.net.no_sync() if (self.env.enabled and not sync) else nullcontext()
        with ctx:
            with self._autocast():
                out = self.net(images, widths, targets)
                loss = out["loss"]
                if self.distiller is not None:
                    term = self.distiller.loss(images, widths, out)
                    self.window["distill"] = self.window.get("distill", 0.0) + float(term.detach())
                    loss = self.distiller.combine(loss, term)
            if not torch.isfinite(loss):
                raise AksarError(f"training diverged: loss is {loss.item()} at step {self.step + 1} (epoch "
                                 f"{self.epoch + 1}); lower optimizer.lr or enable optimizer.grad_clip")
            self.scaler.scale(loss / self.cfg.optimizer.accumulate_steps).backward()
        self.counters["infeasible"] += int(out.get("infeasible", 0))
        return float(loss.detach())

    def _optimizer_step(self) -> None:
        clip = self.cfg.optimizer.grad_clip
        if clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step_lr = self._lr()  # the rate this step used (logged)
        self.step += 1
        if not is_plateau(self.scheduler) and self.step <= self.total_steps:
            if self.cfg.scheduler.name != "onecycle" or self.step < self.total_steps:
                self.scheduler.step()

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def fit(self) -> TrainResult:
        """Train until the epochs, ``max_steps``, the time budget, a signal or early stopping end it."""
        self._setup()
        cfg = self.cfg
        self.logger = MetricsLogger(self.run_dir, enabled=self.is_main, tensorboard=cfg.logging.tensorboard,
                                    resume_step=self.step if self.resume_ckpt is not None else None)
        if self.is_main:
            atomic_write_text(self.run_dir / "config.yaml", dump_yaml(cfg))
            log.info("run directory %s: model %s (%.2fM parameters, %d tokens), %d batches of %d per epoch "
                     "per rank, %d optimizer steps, device %s%s", self.run_dir, cfg.model.name,
                     self.model.num_parameters / 1e6, len(self.tokens), self.batches_per_epoch, self.batch_size,
                     self.total_steps, self.device, f", {self.env.world_size} ranks" if self.env.enabled else "")
            log.info(start_line(total_steps=self.total_steps, epochs=cfg.run.epochs,
                                steps_per_epoch=self.steps_per_epoch, batch_size=self.batch_size,
                                samples_per_epoch=None if cfg.data.train_dataset else cfg.data.samples_per_epoch,
                                device=str(self.device), workers=self.loader.num_workers,
                                budget_min=cfg.run.max_minutes, resumed_at=self.step))
        self.stop.install()
        self.t_start = time.time()
        self.planner = self._budget_planner()
        self._ready = False
        try:
            reason = self._loop()
        except BaseException as exc:
            # model, optimizer and counters are those of the last completed optimizer step
            if self._ready and self.is_main and self.last_save_step != self.step:
                self.save("latest.pt")
                log.error("%s during training: saved checkpoints/latest.pt at step %d; continue with --resume %s",
                          type(exc).__name__, self.step, self.run_dir)
            raise
        finally:
            self.stop.restore()
            self.logger.close()
        if reason == "early_stopping" and cfg.early_stopping.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
            log.info("early stopping: restored the best weights (CER %.4f)", self.best_cer)
        broadcast_buffers(self.model, self.env)
        if self.is_main:
            log.info("finished (%s) at epoch %d step %d; best validation CER %s; checkpoints in %s", reason,
                     self.epoch + (1 if self.batch_in_epoch else 0), self.step,
                     f"{self.best_cer:.4f}" if self.best_cer is not None else "n/a", self.run_dir / "checkpoints")
        cleanup_distributed(self._created_pg)
        return TrainResult(self.run_dir, self.step, self.epoch, reason, self.best_cer, self.last_val, self.history)

    def _checkpoint_latest(self) -> dict[str, Any]:
        state = self._state()
        self.save("latest.pt", state)
        self.last_save_step = self.step
        return state

    def _loop(self) -> str:
        cfg = self.cfg
        accum = cfg.optimizer.accumulate_steps
        budget_s = cfg.run.max_minutes * 60 if cfg.run.max_minutes else None
        self.last_save_step = self.step if self.resume_ckpt is not None else -1
        self._first_step = self.step + 1
        self._ready = True
        t_last = time.time()
        cost = {"reader": 0.0, "batch": 0.0}
        while self.epoch < cfg.run.epochs:
            self._set_loader_epoch(self.loader, self.epoch, self.batch_in_epoch)
            it = iter(self.loader)
            b = self.batch_in_epoch
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
                    if not batch["texts"]:
                        self.counters["empty_batches"] += 1
                        continue
                    torch.manual_seed(seed_int(cfg.run.seed, "batch", self.epoch, b, self.env.rank))
                    last = len(losses) + 1 == accum or b == self.batches_per_epoch
                    losses.append(self._micro_step(batch, sync=last))
                    samples += len(batch["texts"])
                if losses:
                    self._optimizer_step()
                # commit the step: counters change only together with the weights
                self.batch_in_epoch = b
                self.window["loss"] += sum(losses)
                self.window["n"] += len(losses)
                self.window["samples"] += samples
                self.samples_seen += samples * self.env.world_size
                cost["batch"] += time.time() - t0
                if not losses:  # only empty batches: no optimizer step happened
                    continue
                self._sample_batch = batch
                if self.planner is not None:
                    self.planner.start(self.step, time.time())
                if self.step == self._first_step:
                    self._after_first_step(sum(losses) / len(losses))
                if self.step % cfg.logging.log_every_steps == 0:
                    self._log_train(cost, time.time() - t_last)
                    t_last = time.time()
                    cost = {"reader": 0.0, "batch": 0.0}
                epoch_done = b >= self.batches_per_epoch
                if cfg.run.val_every_steps and self.step % cfg.run.val_every_steps == 0 and not epoch_done:
                    if self._validate_and_save():
                        return self._stop_reason
                elif cfg.checkpoint.save_every_steps and self.step % cfg.checkpoint.save_every_steps == 0:
                    self._checkpoint_latest()
                self._fit_budget()
                stop = self._check_stop(budget_s)
                if stop:
                    if stop in ("time_budget", "max_steps") and self._validate_and_save():
                        return self._stop_reason
                    if self.last_save_step != self.step:
                        self._checkpoint_latest()
                    return stop
            # end of epoch
            self.epoch += 1
            self.batch_in_epoch = 0
            do_val = cfg.run.val_every_epochs and self.epoch % cfg.run.val_every_epochs == 0
            if (do_val or self.epoch == cfg.run.epochs) and self._validate_and_save(epoch_end=True):
                return self._stop_reason
            if not (do_val or self.epoch == cfg.run.epochs):
                self._save_epoch_checkpoint(self._checkpoint_latest())
        return "completed"

    def _check_stop(self, budget_s: float | None) -> str | None:
        cfg = self.cfg
        flags = [self.stop.signum is not None, budget_s is not None and time.time() - self.t_start > budget_s]
        if self.env.enabled:
            flags = [any_rank(f, self.env, self.device) for f in flags]
        if flags[0]:
            name = signal.Signals(self.stop.signum).name if self.stop.signum else "signal"
            return f"signal:{name}"
        if flags[1]:
            log.info("time budget of %.1f minutes reached", cfg.run.max_minutes)
            return "time_budget"
        if cfg.run.max_steps and self.step >= cfg.run.max_steps:
            return "max_steps"
        return None

    def _log_train(self, cost: dict[str, float], elapsed: float) -> None:
        n = max(1, self.window["n"])
        loss, samples = self.window["loss"] / n, self.window["samples"]
        loss = all_reduce_mean([loss], self.env, self.device)[0]
        steps_in_window = max(1, self.step - self._last_log_step)
        self._last_log_step = self.step
        rec = {
            "type": "train", "epoch": self.epoch + 1, "step": self.step, "loss": loss, "lr": self.step_lr,
            "reader_cost": cost["reader"] / steps_in_window, "batch_cost": cost["batch"] / steps_in_window,
            "samples_per_s": samples * self.env.world_size / max(elapsed, 1e-9),
            "samples_seen": self.samples_seen,
        }
        eta = eta_seconds(self.total_steps - self.step, elapsed / steps_in_window, self._budget_left())
        rec["eta_s"] = eta
        if "distill" in self.window:
            rec["distill_loss"] = all_reduce_mean([self.window["distill"] / n], self.env, self.device)[0]
        self.window = {"loss": 0.0, "n": 0, "samples": 0}
        if not self.is_main:
            return
        self.logger.write(rec)
        self.logger.scalars("train", {"loss": loss, "lr": rec["lr"], "samples_per_s": rec["samples_per_s"],
                                      "reader_cost": rec["reader_cost"], "batch_cost": rec["batch_cost"],
                                      **({"distill_loss": rec["distill_loss"]} if "distill_loss" in rec else {})},
                            self.step)
        log.info(console_line(self.epoch, self.cfg.run.epochs, self.batch_in_epoch, self.batches_per_epoch, rec,
                              eta))

    # ---- validation ------------------------------------------------------------------------------------
    def _validate_and_save(self, epoch_end: bool = False) -> bool:
        """Validate (rank 0), update best/early stopping, write checkpoints; True if training should stop."""
        if self.last_val_step == self.step:  # already validated at this step (e.g. resumed right after)
            if epoch_end:
                self._save_epoch_checkpoint(self._checkpoint_latest())
            return False
        result = self.validate() if self.is_main else None
        result = broadcast_object(result, self.env)
        self.last_val_step = self.step
        self.last_val = {k: v for k, v in result.items() if k != "samples"}
        self.history.append(self.last_val)
        if is_plateau(self.scheduler):
            self.scheduler.step(result["cer"])
        cer = result["cer"]
        improved = self.best_cer is None or cer < self.best_cer
        if improved:
            self.best_cer = cer
            self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        stop = self._early_stop(result)
        state = self._checkpoint_latest()
        if improved:
            self.save("best.pt", state)
        if epoch_end:
            self._save_epoch_checkpoint(state)
        self._stop_reason = stop
        return stop is not None

    def _early_stop(self, result: dict[str, Any]) -> str | None:
        es = self.cfg.early_stopping
        if es.target_cer is not None and result["cer"] <= es.target_cer:
            log.info("target CER %.4f reached (%.4f)", es.target_cer, result["cer"])
            return "target_cer"
        if es.patience is None:
            return None
        value = result[es.metric]
        mode = es.mode if es.mode != "auto" else ("max" if es.metric == "accuracy" else "min")
        better = (self.es_best is None or
                  (value < self.es_best - es.min_delta if mode == "min" else value > self.es_best + es.min_delta))
        if better:
            self.es_best, self.es_bad = value, 0
            return None
        self.es_bad += 1
        if self.es_bad >= es.patience:
            log.info("early stopping: validation %s did not improve for %d validations", es.metric, self.es_bad)
            return "early_stopping"
        return None

    @torch.no_grad()
    def validate(self) -> dict[str, Any]:
        """CER, line accuracy, loss and sample predictions on the fixed validation set (rank 0)."""
        t0 = time.time()
        result = evaluate_model(self.model, self.val_set, self.charset, self.script, self.cfg, self.device,
                                self._autocast, self._encode)
        self.model.train()
        result = {"type": "val", "epoch": self.epoch + (1 if self.batch_in_epoch else 0), "step": self.step,
                  **result, "val_seconds": round(time.time() - t0, 3)}
        images = result.pop("_images")
        samples = result["samples"]
        self.logger.write(result)
        self.logger.scalars("val", {"cer": result["cer"], "accuracy": result["accuracy"], "loss": result["loss"]},
                            self.step)
        self.logger.samples(images, [s["ref"] for s in samples], [s["pred"] for s in samples], self.step)
        every = self.cfg.logging.train_samples_every
        if every and (len(self.history) + 1) % every == 0:
            self._log_train_samples()
        log.info("validation at step %d: CER %.4f accuracy %.4f loss %.4f (%d samples, %.1fs)%s", self.step,
                 result["cer"], result["accuracy"], result["loss"], result["num_samples"], result["val_seconds"],
                 "".join(f"\n    ref {s['ref']!r}\n    got {s['pred']!r}" for s in samples[:3]))
        return result


def evaluate_model(model, dataset, charset, script, cfg: TrainConfig, device: torch.device, autocast, encode
                   ) -> dict[str, Any]:
    """The shared validation loop: decode -> charset.decode -> valid_orthography; CER, accuracy, loss."""
    from aksar.data.collate import Collate
    from aksar.text.metrics import cer, line_accuracy
    from aksar.text.orthography import valid_orthography

    model.eval()
    collate = Collate(cfg.data.preprocess, margin=getattr(getattr(model, "module", model), "pad_margin", 0))  # as inference
    n = len(dataset)
    if cfg.data.val_max_samples:
        n = min(n, cfg.data.val_max_samples)
    bs = cfg.data.val_batch_size
    preds: list[str] = []
    refs: list[str] = []
    samples: list[dict[str, Any]] = []
    images: list[np.ndarray] = []
    loss_sum, loss_n = 0.0, 0
    k = cfg.logging.num_samples
    for start in range(0, n, bs):
        items = [dataset[i] for i in range(start, min(n, start + bs))]
        batch = collate(items)
        if not batch["texts"]:
            continue
        imgs = batch["images"].to(device, non_blocking=True)
        widths = batch["widths"].to(device, non_blocking=True)
        targets = model.prepare_targets(encode(batch["texts"]), device)
        with autocast():
            out = model(imgs, widths, targets)
        loss_sum += float(out["loss"]) * len(batch["texts"])
        loss_n += len(batch["texts"])
        decoded = model.decode(out)
        for (ids, conf), ref, it in zip(decoded, batch["texts"], [i for i in items if i is not None]):
            pred = valid_orthography(charset.decode(ids), script)[0]  # the Recognizer's post-processing
            preds.append(pred)
            refs.append(ref)
            if len(samples) < k:
                samples.append({"ref": ref, "pred": pred, "conf": round(float(conf), 4)})
                images.append(it["image"])
    if not refs:
        raise AksarError(f"validation set {cfg.data.val_dir}: no readable samples")
    return {"cer": float(cer(preds, refs)), "accuracy": float(line_accuracy(preds, refs)),
            "loss": loss_sum / max(1, loss_n), "num_samples": len(refs), "samples": samples, "_images": images}


def train(cfg: TrainConfig, *, run_dir: str | Path | None = None, resume: str | Path | None = None,
          batch_callback: Callable[[int, dict], None] | None = None) -> TrainResult:
    """Python API: train with ``cfg`` (see :class:`Trainer`)."""
    return Trainer(cfg, run_dir=run_dir, resume=resume, batch_callback=batch_callback).fit()


def config_from_checkpoint(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """The resolved config stored in a checkpoint, with ``-o`` overrides applied (``--resume`` without CONFIG)."""
    ck = ckpt_mod.load_checkpoint(path)
    return config_from_dict(dict(ck["config"]), overrides)


__all__ = ["Trainer", "TrainResult", "train", "evaluate_model", "resolve_device", "config_from_checkpoint"]
