"""A training run killed mid-epoch (real SIGTERM to the process or to its whole process group, as
``kill -- -PGID`` and job schedulers send it, and SIGKILL) and resumed logs exactly what an
uninterrupted run with the same seed logs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fixtures.train import tiny_config_dict, write_config

from aksar.train.config import config_from_dict
from aksar.train.logging_utils import TIMING_FIELDS, read_metrics
from aksar.train.trainer import train

pytestmark = pytest.mark.xdist_group("train")

RUN = {"epochs": 3, "val_every_steps": 5}  # 8 batches per epoch, 24 steps


def _comparable(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


def _start(*args: str, new_session: bool = False) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "aksar", "train", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=new_session)


def _wait_for_step(proc: subprocess.Popen, metrics: Path, step: int, timeout: float = 120) -> None:
    """Poll metrics.jsonl until a record at ``step`` or later exists."""
    end = time.time() + timeout
    while time.time() < end:
        assert proc.poll() is None, f"training ended before it could be stopped:\n{proc.stdout.read()}"
        if metrics.is_file():
            try:
                if any(r.get("step", 0) >= step for r in read_metrics(metrics)):
                    return
            except ValueError:  # a line being written
                pass
        time.sleep(0.02)
    raise AssertionError(f"no step {step} within {timeout}s")


@pytest.fixture(scope="module")
def reference(train_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("ref") / "run"
    result = train(config_from_dict(tiny_config_dict(train_data, run, run=RUN)))
    assert result.stop_reason == "completed" and result.step == 24
    return run, read_metrics(run / "metrics.jsonl")


@pytest.mark.parametrize("sig, group", [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGKILL, False)],
                         ids=["sigterm", "sigterm-to-group", "sigkill"])
def test_killed_run_resumes_exactly(sig, group, train_data, reference, tmp_path):
    ref_dir, ref_records = reference
    run = tmp_path / "run"
    # workers=1 here, 0 in the reference: samples are keyed by (seed, epoch, index), not by process
    cfg = write_config(tmp_path / "cfg.yaml", tiny_config_dict(train_data, run, run=RUN,
                                                             data={"num_workers": 1}))
    proc = _start(cfg, new_session=group)
    # SIGKILL: wait for a checkpoint (validation at step 5) and a few steps more, so work is lost
    _wait_for_step(proc, run / "metrics.jsonl", 6 if sig == signal.SIGTERM else 8)
    if group:  # the loader worker gets it too: it must leave the stopping to the main process
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    out = proc.communicate(timeout=120)[0]
    latest = run / "checkpoints" / "latest.pt"
    ck = torch.load(latest, weights_only=True)
    stopped = ck["step"]
    if sig == signal.SIGTERM:
        assert proc.returncode == 0, out
        assert "stopped by SIGTERM" in out and "--resume" in out
    else:
        assert proc.returncode == -signal.SIGKILL
    assert 0 < stopped < 24, out
    # the killed run logged a prefix of the reference (SIGKILL: possibly beyond its checkpoint)
    partial = _comparable(read_metrics(run / "metrics.jsonl"))
    assert partial == _comparable(ref_records)[:len(partial)]

    resumed = _start("--resume", run)  # no CONFIG: the checkpoint's config is used
    out2 = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, out2
    assert f"resumed from {latest}" in out2
    assert _comparable(read_metrics(run / "metrics.jsonl")) == _comparable(ref_records)
    final = torch.load(latest, weights_only=True)
    ref_final = torch.load(ref_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert final["step"] == 24 and final["epoch"] == 3
    for k, v in ref_final["model_state"].items():
        assert torch.equal(v, final["model_state"][k]), k


def _record_pid(folder: Path, worker_id: int) -> None:
    (folder / f"worker{worker_id}.pid").write_text(str(os.getpid()))


def test_loader_workers_leave_sigterm_to_the_main_process(tmp_path):
    """A SIGTERM that reaches a loader worker from outside (``kill -- -PGID``, a scheduler) does not kill
    it: the main process stops the run and shuts its workers down. A killed worker would make the next
    batch a RuntimeError, so a run stopped that way crashed instead of stopping (seen on a 2-core CPU)."""
    import functools

    from torch.utils.data import DataLoader

    from aksar.train.tasks.recognition import _WorkerInit

    loader = DataLoader(list(range(64)), batch_size=1, num_workers=1,
                        worker_init_fn=_WorkerInit(functools.partial(_record_pid, tmp_path)))
    it = iter(loader)
    next(it)
    pid = (tmp_path / "worker0.pid").read_text()
    subprocess.run(["kill", "-TERM", pid], check=True)  # from another process, not the loader's parent
    time.sleep(0.5)
    assert sum(1 for _ in it) == 63
