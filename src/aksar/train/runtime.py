"""Process-level settings of a training run: determinism and threads, and stopping on a signal."""
from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import torch

from aksar.train.config import TrainConfig

log = logging.getLogger("aksar.train")


def set_determinism(cfg: TrainConfig) -> None:
    """``run.threads``, ``run.deterministic`` (deterministic algorithms, cuDNN) or ``run.cudnn_benchmark``."""
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    if cfg.run.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = cfg.run.cudnn_benchmark


class StopFlag:
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

    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "signal"

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


__all__ = ["set_determinism", "StopFlag"]
