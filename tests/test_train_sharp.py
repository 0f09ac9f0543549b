"""Training sharpness: invalid numbers refused at config load, a console line within seconds, ETA within
the time budget, augmented training samples in TensorBoard, and an LR schedule fitted to the budget."""
from __future__ import annotations

import logging

import pytest
import torch

from fixtures.train import tiny_config_dict

from aksar.core.errors import AksarError
from aksar.train.budget import BudgetPlanner
from aksar.train.config import config_from_dict
from aksar.train.console import eta_seconds
from aksar.train.logging_utils import read_metrics
from aksar.train.trainer import Trainer

pytestmark = pytest.mark.xdist_group("train")


@pytest.mark.parametrize("override, message", [
    ("optimizer.grad_clip=-1", "optimizer.grad_clip: must be >= 0, got -1"),
    ("optimizer.lr=.nan", "optimizer.lr: must be > 0, got nan"),
    ("optimizer.lr=.inf", "optimizer.lr: must be a finite number"),
    ("optimizer.weight_decay=-0.01", "optimizer.weight_decay: must be >= 0"),
    ("optimizer.betas=[0.9, 1.0]", r"optimizer.betas\[1\]: must be in \[0, 1\)"),
    ("optimizer.betas=[-0.1, 0.99]", r"optimizer.betas\[0\]"),
    ("data.batch_size=-8", "data.batch_size: must be >= 1"),
    ("run.epochs=0", "run.epochs: must be >= 1"),
    ("scheduler.warmup_steps=-5", "scheduler.warmup_steps: must be >= 0"),
    ("scheduler.min_lr=0.5", r"scheduler.min_lr: must be <= optimizer.lr"),
    ("scheduler.gamma=0", "scheduler.gamma"),
    ("checkpoint.keep_last=0", "checkpoint.keep_last"),
    ("loss.label_smoothing=1.5", "loss.label_smoothing"),
])
def test_invalid_numbers_name_the_key(override, message):
    with pytest.raises(AksarError, match=message):
        config_from_dict({}, [override])


def test_valid_edge_values_accepted():
    cfg = config_from_dict({}, ["optimizer.grad_clip=0", "optimizer.betas=[0.0, 0.999]", "scheduler.min_lr=1e-3"])
    assert cfg.optimizer.grad_clip == 0 and cfg.scheduler.min_lr == cfg.optimizer.lr


def test_eta_honours_budget():
    assert eta_seconds(100, 0.5, None) == 50
    assert eta_seconds(100, 0.5, 20.0) == 20
    assert eta_seconds(10, 0.5, 600.0) == 5


def test_planner_fits_steps_to_budget():
    """At 0.1 s/step with 60 s left (of a 100 s budget, 8% margin), 520 more steps fit."""
    p = BudgetPlanner(budget_s=100, t_start=0.0, planned_total=10_000, measure_steps=20)
    p.start(1, 5.0)  # the first step ends 5 s after the start (start-up costs, not measured)
    assert not p.due(10, 10_000)
    assert p.due(21, 10_000)
    assert p.step_seconds(21, 7.0) == pytest.approx(0.1)
    assert p.propose(21, 7.0, 10_000) == 21 + int((92 - 7) / 0.1)
    assert p.propose(21, 7.0, 21 + int((92 - 7) / 0.1) + 5) is None  # within 2% of the plan: kept
    p2 = BudgetPlanner(budget_s=100, t_start=0.0, planned_total=10_000, measure_steps=20)
    p2.start(1, 38.0)
    assert p2.fit(21, 40.0) == 21 + int((92 - 40) / 0.1)
    assert BudgetPlanner(100, 0.0, 50, 20).fit(21, 40.0) is None  # nothing measured yet
    p2.start(1, 0.0)  # start is set once
    assert p2.first == (1, 38.0)
    assert p2.fit(21, 40.0) <= 10_000
    assert not p2.due(10_000, 10_000)  # schedule over: never re-planned


def test_console_lines_and_train_samples(train_data, tmp_path, caplog):
    run = tmp_path / "run"
    cfg = config_from_dict(tiny_config_dict(
        train_data, run, run={"epochs": 1, "max_steps": 3, "val_every_steps": 0},
        logging={"log_every_steps": 50, "tensorboard": True, "num_samples": 3, "train_samples_every": 1}))
    with caplog.at_level(logging.INFO, logger="aksar.train"):
        Trainer(cfg).fit()
    msgs = [r.getMessage() for r in caplog.records]
    start = next(i for i, m in enumerate(msgs) if m.startswith("starting: planned 3 optimizer steps"))
    assert "64 samples/epoch" in msgs[start] and "device cpu" in msgs[start] and "0 data workers" in msgs[start]
    first = next(i for i, m in enumerate(msgs) if m.startswith("step 1 done"))
    assert start < first and "2 steps to go" in msgs[first]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "tensors": 0})
    acc.Reload()
    grids = acc.Images("train_samples/grid")
    assert [g.step for g in grids] == [1, 3]  # the first step, and the validation (every 1)
    labels = acc.Tensors("train_samples/labels/text_summary")
    text = labels[0].tensor_proto.string_val[0].decode()
    assert text.count("\n") == 2 + 3 - 1  # header, separator, 3 labels


def test_schedule_fits_time_budget_and_resumes(train_data, tmp_path, caplog):
    run = tmp_path / "run"
    lr, min_lr = 3e-3, 1e-4
    cfg_dict = tiny_config_dict(
        train_data, run, run={"epochs": 500, "val_every_steps": 0, "val_every_epochs": 0, "max_minutes": 0.1,
                              "replan_after_steps": 10},
        optimizer={"lr": lr}, scheduler={"name": "cosine", "warmup_steps": 2, "min_lr": min_lr},
        logging={"log_every_steps": 5})
    trainer = Trainer(config_from_dict(cfg_dict))
    with caplog.at_level(logging.INFO, logger="aksar.train"):
        result = trainer.fit()
    assert result.stop_reason == "time_budget"
    planned = 500 * 8
    assert trainer.total_steps < planned  # re-planned to the budget
    assert result.step <= trainer.total_steps  # stopped when the re-planned schedule ended, not later
    assert any("re-planned the cosine schedule" in r.getMessage() for r in caplog.records)
    replans = [r for r in read_metrics(run / "metrics.jsonl") if r["type"] == "replan"]
    assert replans and replans[0]["previous_total_steps"] == planned
    final_lr = trainer.optimizer.param_groups[0]["lr"]
    assert final_lr <= min_lr + 0.2 * (lr - min_lr), (final_lr, result.step, trainer.total_steps)
    # the re-planned total is part of the saved state; a resumed run keeps it (no budget this time)
    ck = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ck["trainer"]["total_steps"] == trainer.total_steps
    cfg_dict["run"].update(max_minutes=None, max_steps=ck["step"] + 2)
    resumed = Trainer(config_from_dict(cfg_dict), resume=run)
    resumed.setup()
    assert resumed.total_steps == trainer.total_steps
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(final_lr)


def test_replanned_cosine_warmup_shrinks_with_the_plan():
    from aksar.train.config import SchedulerConfig
    from aksar.train.optim import build_scheduler

    def lrs(total, planned):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = build_scheduler(opt, SchedulerConfig(name="cosine", warmup_epochs=0.5), 1.0, total,
                                steps_per_epoch=2000, planned_steps=planned)
        out = []
        for _ in range(total):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    full = lrs(3000, None)                 # warm-up 1,000 steps: the peak comes at a third of the run
    assert max(range(3000), key=full.__getitem__) == 999
    short = lrs(3000, 30000)               # re-planned to a tenth of a 30,000-step plan: 100 steps
    assert max(range(3000), key=short.__getitem__) == 99
    assert short[99] == pytest.approx(1.0) and short[-1] < 0.01
