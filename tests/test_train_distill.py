"""Knowledge distillation: the per-frame KL term, a student taught by a real trained teacher, and teachers
that cannot teach refused with one line naming distill.teacher."""
from __future__ import annotations

import pytest
import torch

from fixtures.train import tiny_config_dict

from aksar.core.errors import AksarError
from aksar.train.config import config_from_dict
from aksar.train.distill import frame_kl
from aksar.train.logging_utils import read_metrics
from aksar.train.trainer import train

pytestmark = pytest.mark.xdist_group("train")


def test_frame_kl_is_zero_for_the_teacher_and_ignores_padding():
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(2, 6, 5, generator=g)
    lengths = torch.tensor([6, 3])
    assert frame_kl(teacher.clone(), teacher, lengths, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.randn(2, 6, 5, generator=g)
    base = frame_kl(student, teacher, lengths, 2.0).item()
    assert base > 0
    padded = student.clone()
    padded[1, 3:] = 50.0                      # frames past the second line's length do not count
    assert frame_kl(padded, teacher, lengths, 2.0).item() == pytest.approx(base, rel=1e-6)
    padded[1, 2] = -20 * teacher[1, 2]        # a real frame does (here: the opposite of the teacher)
    assert frame_kl(padded, teacher, lengths, 2.0).item() > base


def test_student_learns_the_teachers_frames(trained_checkpoint, train_data, tmp_path):
    run = tmp_path / "student"
    cfg = tiny_config_dict(train_data, run, run={"epochs": 100, "max_steps": 40, "val_every_steps": 1000},
                           distill={"teacher": str(trained_checkpoint), "weight": 1.0, "temperature": 1.0},
                           logging={"log_every_steps": 5, "tensorboard": False, "num_samples": 2})
    cfg["optimizer"]["lr"] = 1e-2
    result = train(config_from_dict(cfg))
    assert result.step == 40
    logged = [r for r in read_metrics(run / "metrics.jsonl") if r["type"] == "train"]
    distill = [r["distill_loss"] for r in logged]
    assert len(distill) == 8 and all(d >= 0 for d in distill)
    # weight 1: the loss is the distillation term alone, and the student moves toward the teacher
    assert [r["loss"] for r in logged] == pytest.approx(distill, rel=1e-4)
    assert distill[-1] < 0.5 * distill[0]


def test_teachers_that_cannot_teach_are_refused(trained_checkpoint, train_data, tmp_path):
    charset = tmp_path / "charset.txt"
    tokens = (train_data["corpus"] / "charset.txt").read_text(encoding="utf-8").splitlines()
    charset.write_text("\n".join(tokens + ["\u0e01"]) + "\n", encoding="utf-8")  # one more token
    cfg = tiny_config_dict(train_data, tmp_path / "run", run={"max_steps": 2},
                           data={"charset": str(charset)}, distill={"teacher": str(trained_checkpoint)})
    with pytest.raises(AksarError, match=r"^distill\.teacher: .*charset"):
        train(config_from_dict(cfg))
    cfg = tiny_config_dict(train_data, tmp_path / "run2", run={"max_steps": 2},
                           data={"preprocess": {"height": 32, "max_width": 256}},
                           distill={"teacher": str(trained_checkpoint)})
    with pytest.raises(AksarError, match=r"^distill\.teacher: .*16 px lines"):
        train(config_from_dict(cfg))
    with pytest.raises(AksarError, match=r"distill\.weight: must be in \[0, 1\], got 1\.5"):
        config_from_dict(tiny_config_dict(train_data, tmp_path / "run3", distill={"weight": 1.5}))
