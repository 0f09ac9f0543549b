"""The training loop is task-agnostic: a task defined here (classify synthetic shapes: a horizontal bar,
a vertical bar or a ring, drawn at random places on noise) registers itself and is trained by the same
loop, callbacks and run state as recognition, with no change to them. Also: training validation and
``aksar eval`` give the same CER for the same checkpoint (one post-processing)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from fixtures.train import tiny_config_dict

from aksar.core.errors import AksarError
from aksar.core.rng import seed_int
from aksar.train.config import config_from_dict
from aksar.train.logging_utils import TIMING_FIELDS, read_metrics
from aksar.train.tasks import Task, register_task
from aksar.train.trainer import train

pytestmark = pytest.mark.xdist_group("train")

SIZE = 16
CLASSES = 3


def draw(cls: int, rng: np.random.Generator) -> np.ndarray:
    """One ``SIZE x SIZE`` float image of shape class ``cls`` on noise."""
    img = rng.normal(0.0, 0.3, (SIZE, SIZE)).astype(np.float32)
    r, c = rng.integers(2, SIZE - 8, size=2)
    if cls == 0:
        img[r + 3:r + 5, c:c + 7] += 1.5
    elif cls == 1:
        img[r:r + 7, c + 3:c + 5] += 1.5
    else:
        img[r:r + 7, c:c + 7] += 1.5
        img[r + 2:r + 5, c + 2:c + 5] -= 1.5
    return img


class Shapes(torch.utils.data.Dataset):
    """Sample ``(epoch, index)`` is drawn from an RNG keyed by them: the same in any process."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int]:
        rng = np.random.default_rng(seed_int(self.seed, "shapes", *key))
        cls = int(rng.integers(CLASSES))
        return torch.from_numpy(draw(cls, rng))[None], cls


class EpochBatches:
    """Batches of ``(epoch, index)`` keys, shuffled per epoch, resumable at a batch."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.epoch, self.start = 0, 0

    def __len__(self) -> int:
        return self.n // self.batch_size

    def __iter__(self):
        order = np.random.default_rng(seed_int(self.seed, "order", self.epoch)).permutation(self.n)
        for b in range(self.start, len(self)):
            yield [(self.epoch, int(i)) for i in order[b * self.batch_size:(b + 1) * self.batch_size]]


class ShapeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                                  nn.Flatten(), nn.Dropout(0.1), nn.Linear(128, CLASSES))

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.body(images)
        return {"logits": logits, "loss": nn.functional.cross_entropy(logits, labels)}


@register_task("toy_shapes")
class ShapesTask(Task):
    """Only what the Task protocol asks for; nothing of text, charsets or CER."""

    metrics = ("accuracy", "loss")
    main_metric = "accuracy"
    higher_is_better = frozenset({"accuracy"})

    def setup(self) -> None:
        opts = self.cfg.task.options
        self.samples_per_epoch = int(opts.get("samples", 96))
        rng = np.random.default_rng(seed_int(self.cfg.run.seed, "val"))
        labels = rng.integers(CLASSES, size=48)
        self.val = (torch.from_numpy(np.stack([draw(int(c), rng) for c in labels]))[:, None],
                    torch.from_numpy(labels))

    def build_model(self) -> nn.Module:
        return ShapeNet()

    def train_loader(self, batch_size: int) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(Shapes(self.cfg.run.seed), batch_sampler=EpochBatches(
            self.samples_per_epoch, batch_size, self.cfg.run.seed))

    def set_epoch(self, loader, epoch: int, start_batch: int) -> None:
        loader.batch_sampler.epoch, loader.batch_sampler.start = epoch, start_batch

    def batch_len(self, batch: Any) -> int:
        return len(batch[1])

    def train_loss(self, net, batch):
        images, labels = (t.to(self.device) for t in batch)
        return net(images, labels)["loss"], {}

    def validate(self, model, autocast) -> dict[str, Any]:
        model.eval()
        images, labels = (t.to(self.device) for t in self.val)
        with autocast():
            out = model(images, labels)
        accuracy = float((out["logits"].argmax(-1) == labels).float().mean())
        return {"accuracy": accuracy, "loss": float(out["loss"]), "num_samples": len(labels)}

    def checkpoint_meta(self, model) -> dict[str, Any]:
        return {"model_name": "shape_net"}


def toy_config(tmp_path, **sections: Any):
    cfg = {"task": {"name": "toy_shapes", "options": {"samples": 96}},
           "run": {"output_dir": str(tmp_path / "run"), "seed": 3, "epochs": 4, "val_every_steps": 4,
                   "threads": 1},
           "data": {"batch_size": 16}, "optimizer": {"lr": 3e-2},
           "scheduler": {"name": "cosine", "warmup_steps": 2}, "logging": {"log_every_steps": 2,
                                                                           "tensorboard": False}}
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return config_from_dict(cfg)


def _comparable(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


def test_loop_trains_a_task_it_knows_nothing_about(tmp_path):
    result = train(toy_config(tmp_path))
    assert result.stop_reason == "completed" and result.step == 24  # 4 epochs x 6 batches
    records = read_metrics(result.run_dir / "metrics.jsonl")
    losses = [r["loss"] for r in records if r["type"] == "train"]
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:2]), losses
    vals = [r for r in records if r["type"] == "val"]
    assert vals[-1]["accuracy"] > 0.8, vals  # chance: 1/3
    # the best checkpoint follows the task's main metric, higher is better
    best = torch.load(result.run_dir / "checkpoints" / "best.pt", weights_only=True)
    assert best["task"] == "toy_shapes" and best["model_name"] == "shape_net"
    assert best["metrics"]["accuracy"] == max(v["accuracy"] for v in vals) == result.best
    assert result.best_metric == "accuracy" and result.best_cer is None


def test_toy_task_resumes_exactly(tmp_path):
    ref = train(toy_config(tmp_path / "ref"))
    run = tmp_path / "crash" / "run"
    seen = []

    def crash(rank: int, batch: Any) -> None:  # a crash at the 15th batch (mid-epoch 3, after step 14)
        seen.append(1)
        if len(seen) == 15:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(toy_config(tmp_path / "crash"), batch_callback=crash)
    ck = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ck["step"] == 14 and ck["batch_in_epoch"] == 2
    resumed = train(toy_config(tmp_path / "crash"), resume=run)
    assert resumed.step == 24
    assert _comparable(read_metrics(run / "metrics.jsonl")) == _comparable(read_metrics(ref.run_dir / "metrics.jsonl"))
    final = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["model_state"]
    ref_final = torch.load(ref.run_dir / "checkpoints" / "latest.pt", weights_only=True)["model_state"]
    for k, v in ref_final.items():
        assert torch.equal(v, final[k]), k


def test_target_and_early_stopping_follow_the_task_metrics(tmp_path):
    result = train(toy_config(tmp_path, early_stopping={"target": 0.5}))
    assert result.stop_reason == "target_accuracy" and result.last_val["accuracy"] >= 0.5
    with pytest.raises(AksarError, match="early_stopping.metric: 'cer' is not a metric of the toy_shapes task"):
        train(toy_config(tmp_path / "b", early_stopping={"metric": "cer", "patience": 2}))
    with pytest.raises(AksarError, match="target_cer: the toy_shapes task has no CER"):
        train(toy_config(tmp_path / "c", early_stopping={"target_cer": 0.1}))
    with pytest.raises(AksarError, match="task.name: unknown task 'nope'.*recognition"):
        train(toy_config(tmp_path / "d", task={"name": "nope"}))


def test_training_validation_and_eval_agree(trained_checkpoint, train_data):
    """One post-processing: the CER training validation logged for a checkpoint is the CER ``aksar eval``
    measures on the same validation set."""
    from aksar.infer.evaluate import evaluate
    from aksar.infer.recognizer import Recognizer

    ck = torch.load(trained_checkpoint, weights_only=True)
    report = evaluate(Recognizer(trained_checkpoint), train_data["val"], progress=False)[0]
    assert 0 < ck["metrics"]["cer"] < 1  # a model that reads something: the comparison is not trivial
    assert report["metrics"]["raw"]["cer"] == pytest.approx(ck["metrics"]["cer"], abs=1e-12)


def test_loss_is_configured_in_the_loss_section_only(train_data, tmp_path):
    cfg = tiny_config_dict(train_data, tmp_path / "run")
    cfg["model"]["kwargs"]["loss"] = "ctc"
    with pytest.raises(AksarError, match="model.kwargs.loss: the loss is configured in the `loss` section"):
        train(config_from_dict(cfg))


def test_inference_needs_nothing_from_train(trained_checkpoint, val_images, tmp_path):
    """Weights I/O lives in aksar.models.weights: loading, predicting and exporting import no aksar.train."""
    import subprocess
    import sys

    code = ("import sys\nfrom aksar.infer.recognizer import Recognizer\nfrom aksar.infer.export import export_onnx\n"
            f"print(Recognizer({str(trained_checkpoint)!r}).predict([{str(val_images[0])!r}])[0].text)\n"
            f"export_onnx({str(trained_checkpoint)!r}, {str(tmp_path / 'm.onnx')!r})\n"
            "print(sorted(m for m in sys.modules if m.startswith('aksar.train')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
