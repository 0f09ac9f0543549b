"""Knowledge distillation for CTC recognizers: a trained teacher's per-frame distributions teach a student.

As PaddleOCR's distillation does for its mobile recognizers: a larger model trained the same way
(``distill.teacher``, a checkpoint) runs frozen on every training batch, and the student's loss becomes

    (1 - weight) * its own loss  +  weight * T^2 * KL(teacher_T || student_T)

where ``_T`` is the softmax at temperature ``T`` and the KL divergence is averaged over the frames each
line really has (padding frames are left out). Teacher and student must share the charset, the kind
(CTC), the input height and the frame stride: the teacher is refused with one line naming
``distill.teacher`` otherwise.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from aksar.core.errors import AksarError
from aksar.models.base import valid_frames
from aksar.train.config import DistillConfig


def frame_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, lengths: torch.Tensor | None,
             temperature: float) -> torch.Tensor:
    """``T^2 * KL(teacher || student)`` per frame at temperature ``T``, averaged over the valid frames."""
    t = temperature
    log_s = F.log_softmax(student_logits.float() / t, dim=-1)
    log_t = F.log_softmax(teacher_logits.float() / t, dim=-1)
    kl = (log_t.exp() * (log_t - log_s)).sum(-1)  # [B, T]
    if lengths is None:
        return kl.mean() * t * t
    mask = valid_frames(lengths.to(kl.device), kl.shape[1])
    return (kl * mask).sum() / mask.sum().clamp(min=1) * t * t


class Distiller:
    """The frozen teacher and the distillation term for the student's outputs on the same batch."""

    def __init__(self, cfg: DistillConfig, tokens: list[str], height: int, student: Any,
                 device: torch.device) -> None:
        from aksar.models.weights import load_for_inference

        key = "distill.teacher"
        loaded = load_for_inference(cfg.teacher, device)  # type: ignore[arg-type]
        teacher = loaded.model
        path = Path(str(cfg.teacher))
        if not (teacher.output_decoder.frame_aligned and student.output_decoder.frame_aligned):
            raise AksarError(f"{key}: {path}: distillation needs CTC teacher and student "
                             f"(teacher {teacher.kind}, student {student.kind})")
        if list(loaded.charset.tokens) != list(tokens):
            raise AksarError(f"{key}: {path}: the teacher's charset ({len(loaded.charset)} tokens) is not the "
                             f"student's ({len(tokens)} tokens); train the teacher on the same charset")
        if loaded.preprocess.height != height:
            raise AksarError(f"{key}: {path}: the teacher reads {loaded.preprocess.height} px lines, the student "
                             f"{height} px")
        if getattr(teacher, "width_stride", None) != getattr(student, "width_stride", None):
            raise AksarError(f"{key}: {path}: teacher and student have different frame strides")
        for p in teacher.parameters():
            p.requires_grad_(False)
        self.teacher = teacher.eval()
        self.cfg = cfg

    def loss(self, images: torch.Tensor, widths: torch.Tensor, student_out: dict[str, Any]) -> torch.Tensor:
        """The distillation term for a batch the student has just read (``student_out``: its forward)."""
        with torch.no_grad():
            teacher_logits = self.teacher(images, widths)["logits"]
        student_logits = student_out["logits"]
        if teacher_logits.shape != student_logits.shape:
            raise AksarError(f"distill.teacher: the teacher gives {tuple(teacher_logits.shape)} frames x classes, "
                             f"the student {tuple(student_logits.shape)}")
        return frame_kl(student_logits, teacher_logits, student_out.get("output_lengths"), self.cfg.temperature)

    def combine(self, own_loss: torch.Tensor, distill_loss: torch.Tensor) -> torch.Tensor:
        w = self.cfg.weight
        return (1.0 - w) * own_loss + w * distill_loss


__all__ = ["Distiller", "frame_kl"]
