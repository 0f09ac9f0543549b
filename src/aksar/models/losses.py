"""Loss functions chosen by name: ``ctc``, ``ce``, ``focal`` (on CE or on CTC).

Two families with two call signatures; a model checks that its loss belongs to its family:

- CTC family (``family == "ctc"``): ``loss(logits [B,T,C], output_lengths [B], targets (1-D, concatenated
  class ids, blank = 0), target_lengths [B]) -> scalar``.
- Class family (``family == "ce"``): ``loss(logits [..., C], targets [...], pad_index=0) -> scalar``;
  positions whose target equals ``pad_index`` are ignored (``pad_index=None`` ignores nothing, used by
  the single-character mode where class 0 is a real token).

``build_loss("ctc")``, ``build_loss({"name": "focal", "gamma": 2.0})``, ``build_loss(module)``.
``focal`` picks its family from the model (``build_loss(cfg, family="ctc")``); ``focal_ce`` and
``focal_ctc`` name it explicitly.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aksar.core.errors import AksarError


class CTCLoss(nn.Module):
    """CTC with blank 0 and ``zero_infinity``.

    Reduction ``mean`` is torch's: each sample's negative log-likelihood divided by its target length,
    then averaged over the batch. ``sum`` sums raw per-sample losses; ``none`` returns them.
    """

    family = "ctc"
    name = "ctc"

    def __init__(self, blank: int = 0, zero_infinity: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise AksarError(f"loss.reduction: expected mean, sum or none, got {reduction!r}")
        self.blank, self.zero_infinity, self.reduction = blank, zero_infinity, reduction

    def per_sample(self, logits: torch.Tensor, output_lengths: torch.Tensor, targets: torch.Tensor,
                   target_lengths: torch.Tensor) -> torch.Tensor:
        """Unreduced negative log-likelihood per sample (``[B]``), computed in float32."""
        log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # [T, B, C]
        return F.ctc_loss(log_probs, targets, output_lengths, target_lengths, blank=self.blank,
                          reduction="none", zero_infinity=self.zero_infinity)

    def reduce(self, losses: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
        if self.reduction == "none":
            return losses
        if self.reduction == "sum":
            return losses.sum()
        return (losses / target_lengths.clamp(min=1).to(losses.dtype)).mean()

    def forward(self, logits: torch.Tensor, output_lengths: torch.Tensor, targets: torch.Tensor,
                target_lengths: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.per_sample(logits, output_lengths, targets, target_lengths), target_lengths)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "blank": self.blank, "zero_infinity": self.zero_infinity,
                "reduction": self.reduction}


class FocalCTCLoss(CTCLoss):
    """Focal CTC: each sample's CTC loss ``l`` is weighted by ``alpha * (1 - exp(-l)) ** gamma``.

    ``exp(-l)`` is the probability of the whole label sequence, so confidently-right lines are
    down-weighted. The weighted losses are then reduced like :class:`CTCLoss`.
    """

    name = "focal_ctc"

    def __init__(self, gamma: float = 2.0, alpha: float = 1.0, blank: int = 0, zero_infinity: bool = True,
                 reduction: str = "mean") -> None:
        super().__init__(blank=blank, zero_infinity=zero_infinity, reduction=reduction)
        self.gamma, self.alpha = float(gamma), float(alpha)

    def forward(self, logits: torch.Tensor, output_lengths: torch.Tensor, targets: torch.Tensor,
                target_lengths: torch.Tensor) -> torch.Tensor:
        losses = self.per_sample(logits, output_lengths, targets, target_lengths)
        weight = self.alpha * (1.0 - torch.exp(-losses)).clamp(min=0.0) ** self.gamma
        return self.reduce(weight * losses, target_lengths)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "gamma": self.gamma, "alpha": self.alpha}


def _flatten(logits: torch.Tensor, targets: torch.Tensor, pad_index: int | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten to ``[N, C]`` / ``[N]`` and drop PAD positions."""
    logits = logits.reshape(-1, logits.shape[-1]).float()
    targets = targets.reshape(-1)
    if pad_index is not None:
        keep = targets != pad_index
        logits, targets = logits[keep], targets[keep]
    return logits, targets


class CrossEntropyLoss(nn.Module):
    """Cross-entropy with label smoothing, averaged over non-PAD positions."""

    family = "ce"
    name = "ce"

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise AksarError(f"loss.label_smoothing: expected a value in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, pad_index: int | None = 0) -> torch.Tensor:
        logits, targets = _flatten(logits, targets, pad_index)
        if targets.numel() == 0:
            return logits.sum() * 0.0
        return F.cross_entropy(logits, targets, label_smoothing=self.label_smoothing)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "label_smoothing": self.label_smoothing}


class FocalLoss(nn.Module):
    """Focal loss over classes: ``-alpha * (1 - p_t) ** gamma * log p_t``, averaged over non-PAD positions."""

    family = "ce"
    name = "focal_ce"

    def __init__(self, gamma: float = 2.0, alpha: float = 1.0) -> None:
        super().__init__()
        self.gamma, self.alpha = float(gamma), float(alpha)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, pad_index: int | None = 0) -> torch.Tensor:
        logits, targets = _flatten(logits, targets, pad_index)
        if targets.numel() == 0:
            return logits.sum() * 0.0
        logp_t = logits.log_softmax(-1).gather(1, targets[:, None]).squeeze(1)
        weight = self.alpha * (1.0 - logp_t.exp()).clamp(min=0.0) ** self.gamma
        return -(weight * logp_t).mean()

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "gamma": self.gamma, "alpha": self.alpha}


LOSSES: dict[str, type[nn.Module]] = {
    "ctc": CTCLoss, "ce": CrossEntropyLoss, "focal_ce": FocalLoss, "focal_ctc": FocalCTCLoss,
}
LOSS_NAMES = ("ctc", "ce", "focal", "focal_ce", "focal_ctc")


def build_loss(cfg: str | Mapping[str, Any] | nn.Module, family: str | None = None) -> nn.Module:
    """Build a loss from a name, a mapping ``{"name": ..., **params}`` or pass a module through.

    ``family`` ("ctc" or "ce") is the model's; it resolves ``focal`` and is checked against the loss.
    """
    if isinstance(cfg, nn.Module):
        loss = cfg
    else:
        if isinstance(cfg, str):
            name, params = cfg, {}
        elif isinstance(cfg, Mapping):
            params = dict(cfg)
            name = params.pop("name", None)
            if not isinstance(name, str):
                raise AksarError(f"loss.name: expected one of {', '.join(LOSS_NAMES)}, got {name!r}")
        else:
            raise AksarError(f"loss: expected a name or a mapping, got {cfg!r}")
        name = name.strip().lower()
        if name == "focal":
            name = "focal_ctc" if family == "ctc" else "focal_ce"
        if name == "cross_entropy" or name == "crossentropy":
            name = "ce"
        cls = LOSSES.get(name)
        if cls is None:
            raise AksarError(f"loss.name: unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}")
        try:
            loss = cls(**params)
        except TypeError as exc:
            raise AksarError(f"loss ({name}): bad parameters {sorted(params)}: {exc}") from None
    got = getattr(loss, "family", None)
    if family is not None and got is not None and got != family:
        raise AksarError(f"loss.name: {getattr(loss, 'name', type(loss).__name__)!r} is a {got} loss, "
                         f"but this model needs a {family} loss")
    return loss
