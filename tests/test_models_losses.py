"""Loss values against hand-computed numbers and torch references."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aksar.core.errors import AksarError
from aksar.models.losses import CrossEntropyLoss, CTCLoss, FocalCTCLoss, FocalLoss, build_loss


def _logits_from_probs(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64).log()[None].float()  # [1, T, C]


def test_ctc_matches_hand_computed_alignment_sum():
    # T=2, classes (blank, a); label "a": alignments (a,a), (blank,a), (a,blank).
    p = [[0.3, 0.7], [0.6, 0.4]]
    expected = -math.log(0.7 * 0.4 + 0.3 * 0.4 + 0.7 * 0.6)
    loss = CTCLoss()(_logits_from_probs(p), torch.tensor([2]), torch.tensor([1]), torch.tensor([1]))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_ctc_mean_divides_by_target_length_then_averages():
    torch.manual_seed(0)
    logits = torch.randn(2, 10, 6)
    targets, tl, ol = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([2, 3]), torch.tensor([10, 8])
    per = F.ctc_loss(logits.log_softmax(-1).transpose(0, 1), targets, ol, tl, reduction="none")
    got = CTCLoss()(logits, ol, targets, tl)
    assert got.item() == pytest.approx(((per[0] / 2 + per[1] / 3) / 2).item(), rel=1e-5)
    assert CTCLoss(reduction="sum")(logits, ol, targets, tl).item() == pytest.approx(per.sum().item(), rel=1e-5)


def test_ctc_zero_infinity_for_infeasible_targets():
    logits = torch.randn(1, 2, 4, requires_grad=True)
    # "aa" needs 3 frames (a, blank, a) but only 2 exist: infinite loss, zeroed.
    loss = CTCLoss()(logits, torch.tensor([2]), torch.tensor([1, 1]), torch.tensor([2]))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    raw = CTCLoss(zero_infinity=False)(logits, torch.tensor([2]), torch.tensor([1, 1]), torch.tensor([2]))
    assert math.isinf(raw.item())


def test_focal_ctc_weights_each_sample():
    torch.manual_seed(1)
    logits = torch.randn(2, 8, 5)
    targets, tl, ol = torch.tensor([1, 2, 3]), torch.tensor([1, 2]), torch.tensor([8, 8])
    per = F.ctc_loss(logits.log_softmax(-1).transpose(0, 1), targets, ol, tl, reduction="none")
    gamma, alpha = 2.0, 0.5
    weighted = alpha * (1 - torch.exp(-per)) ** gamma * per
    expected = (weighted / tl).mean()
    got = FocalCTCLoss(gamma=gamma, alpha=alpha)(logits, ol, targets, tl)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    assert got.item() < CTCLoss()(logits, ol, targets, tl).item()


def test_ce_label_smoothing_and_pad_mask_hand_computed():
    logits = torch.tensor([[[2.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 3.0], [-9.0, 9.0, -9.0, -9.0]]])
    targets = torch.tensor([[2, 3, 0]])  # last position is PAD (0): ignored
    eps = 0.1
    logp = logits[0, :2].log_softmax(-1)
    per = [(1 - eps) * -logp[i, t] + eps * -logp[i].mean() for i, t in enumerate([2, 3])]
    expected = (per[0] + per[1]) / 2
    got = CrossEntropyLoss(label_smoothing=eps)(logits, targets)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    # pad_index=None (single-character mode): class 0 is a real token and counts.
    with_pad = CrossEntropyLoss()(logits, targets, pad_index=None)
    assert with_pad.item() > CrossEntropyLoss()(logits, targets).item()


def test_focal_ce_reduces_to_ce_and_matches_formula():
    torch.manual_seed(2)
    logits, targets = torch.randn(6, 5), torch.tensor([1, 2, 3, 4, 1, 2])
    ce = F.cross_entropy(logits, targets)
    assert FocalLoss(gamma=0.0, alpha=1.0)(logits, targets, pad_index=None).item() == pytest.approx(ce.item(), rel=1e-5)
    pt = logits.softmax(-1)[torch.arange(6), targets]
    expected = (-(0.25 * (1 - pt) ** 2 * pt.log())).mean()
    got = FocalLoss(gamma=2.0, alpha=0.25)(logits, targets, pad_index=None)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_build_loss_by_name_and_family():
    assert isinstance(build_loss("ctc"), CTCLoss)
    assert isinstance(build_loss({"name": "ce", "label_smoothing": 0.2}), CrossEntropyLoss)
    assert build_loss({"name": "ce", "label_smoothing": 0.2}).label_smoothing == 0.2
    assert isinstance(build_loss("focal", family="ctc"), FocalCTCLoss)
    assert isinstance(build_loss({"name": "focal", "gamma": 1.0}, family="ce"), FocalLoss)
    loss = CTCLoss()
    assert build_loss(loss) is loss
    rebuilt = build_loss(build_loss({"name": "focal_ctc", "gamma": 3.0}).config())
    assert isinstance(rebuilt, FocalCTCLoss) and rebuilt.gamma == 3.0


@pytest.mark.parametrize("cfg, family, match", [
    ("nope", None, "unknown loss 'nope'"),
    ({"gamma": 2}, None, "loss.name"),
    ({"name": "ce", "gamma": 2}, None, "bad parameters"),
    ("ctc", "ce", "needs a ce loss"),
    ({"name": "ce", "label_smoothing": 1.5}, None, "label_smoothing"),
])
def test_build_loss_errors(cfg, family, match):
    with pytest.raises(AksarError, match=match):
        build_loss(cfg, family=family)
