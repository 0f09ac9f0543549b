"""CNN models: CRNN (backbone + BiLSTM + CTC head) and the single-character classifier."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from aksar.core.errors import AksarError
from aksar.models.backbones import build_backbone, output_lengths
from aksar.models.base import MASKED, OCRModel, check_token_ids, run_rnn, to_numpy, valid_frames
from aksar.models.registry import register_model

TINY_BACKBONE = dict(channels=[8, 16, 16, 16, 32], scale=0.25)  # test sizes, VGG or MobileNet


def make_backbone(backbone: str, height: int, channels: Sequence[int] | None, scale: float) -> nn.Module:
    if backbone == "mobilenet":
        return build_backbone(backbone, height, scale=scale)
    return build_backbone(backbone, height, **({"channels": tuple(channels)} if channels else {}))


@register_model("ctc_small", "CRNN, small VGG backbone + 2x BiLSTM(128), CTC; ~1.3M params, fast on CPU",
                backbone="small", hidden=128, rnn_layers=2)
@register_model("ctc_fast", "CRNN, narrow VGG backbone + 1x BiLSTM(128), CTC; ~0.5M params, the CPU-inference "
                "default", backbone="small", channels=[16, 32, 64, 64, 128], hidden=128, rnn_layers=1)
@register_model("ctc_medium", "CRNN, medium VGG backbone + 2x BiLSTM(256), CTC",
                backbone="medium", hidden=256, rnn_layers=2)
@register_model("ctc_large", "CRNN, large VGG backbone + 2x BiLSTM(384), CTC",
                backbone="large", hidden=384, rnn_layers=2, dropout=0.1)
@register_model("ctc_mobilenet", "CRNN, MobileNetV3-large x0.5 + 2x BiLSTM(96), CTC (the PaddleOCR Thai seed)",
                backbone="mobilenet", scale=0.5, hidden=96, rnn_layers=2)
class CTCModel(OCRModel):
    """CRNN: conv backbone -> stacked BiLSTM over the width -> linear CTC head (blank = class 0).

    The LSTM runs over each sample's own frames, ``ceil(width / 4)`` (:func:`aksar.models.base.run_rnn`,
    in PyTorch and in the ONNX export, which takes ``widths``), so the padding of wider lines in the
    batch never reaches them; ``output_lengths`` trims the frames for the loss and the decoder.
    """

    kind = "ctc"
    loss_family = "ctc"
    default_loss = "ctc"
    export_takes_widths = True
    tiny = dict(TINY_BACKBONE, hidden=16, rnn_layers=1)

    def __init__(self, num_tokens: int, height: int = 32, backbone: str = "small",
                 channels: Sequence[int] | None = None, scale: float = 0.5, hidden: int = 128,
                 rnn_layers: int = 2, dropout: float = 0.0, loss: Any = None) -> None:
        super().__init__(num_tokens, height, loss)
        self._remember(height=height, backbone=backbone, channels=list(channels) if channels else None,
                       scale=scale, hidden=hidden, rnn_layers=rnn_layers, dropout=dropout)
        self.backbone = make_backbone(backbone, height, channels, scale)
        self.rnn = nn.LSTM(self.backbone.out_channels, hidden, num_layers=rnn_layers, bidirectional=True,
                           batch_first=True, dropout=dropout if rnn_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, self.num_classes)

    def output_lengths(self, widths: torch.Tensor, total: int) -> torch.Tensor:
        return output_lengths(widths, total)

    def _logits(self, images: torch.Tensor, widths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-frame logits ``[B, T, classes]`` and the valid frames per sample (None without widths)."""
        self._check_images(images)
        widths = None if widths is None else widths.to(images.device)
        feats = self.backbone(images, widths).transpose(1, 2)  # [B, T, C]
        lengths = None if widths is None else self.output_lengths(widths, feats.shape[1])
        return self.head(self.dropout(run_rnn(self.rnn, feats, lengths))), lengths

    def forward(self, images: torch.Tensor, widths: torch.Tensor, targets: Any = None) -> dict[str, Any]:
        logits, lengths = self._logits(images, widths)
        out: dict[str, Any] = {"logits": logits, "output_lengths": lengths}
        if targets is not None:
            tg = self._targets(targets, logits.device)
            out["loss"] = self.loss_fn(logits, lengths, tg["targets"], tg["target_lengths"])
            # Samples too long for their frames (CTC infeasible; zero_infinity zeroes their loss): counted.
            out["infeasible"] = int((lengths < tg["min_frames"]).sum())
        return out

    def prepare_targets(self, token_ids: list[list[int]], device: torch.device | str = "cpu") -> dict:
        """Concatenated class ids (token + 1), lengths, and the minimum frames each needs (len + repeats)."""
        check_token_ids(token_ids, self.num_tokens)
        flat = [t + 1 for ids in token_ids for t in ids]
        lengths = [len(ids) for ids in token_ids]
        min_frames = [len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b) for ids in token_ids]
        return {"targets": torch.tensor(flat, dtype=torch.long, device=device),
                "target_lengths": torch.tensor(lengths, dtype=torch.long, device=device),
                "min_frames": torch.tensor(min_frames, dtype=torch.long, device=device)}

    def decoder_inputs(self, outputs: Mapping[str, Any]) -> tuple[list[np.ndarray], np.ndarray | None]:
        lengths = outputs.get("output_lengths")
        return [to_numpy(outputs["logits"].float().softmax(-1))], None if lengths is None else to_numpy(lengths)

    def export_forward(self, images: torch.Tensor, widths: torch.Tensor | None = None) -> torch.Tensor:
        """Per-frame softmax probabilities ``[B, T, num_classes]`` (trim with ``ceil(width / 4)``)."""
        return self._logits(images, widths)[0].softmax(-1)


@register_model("char_small", "single-character classifier (max_text_length 1), small VGG backbone",
                backbone="small")
class CharModel(OCRModel):
    """Single-character classifier (``max_text_length: 1``): backbone -> max over width -> linear.

    Classes are the charset tokens themselves (no blank, no PAD); decoding returns exactly one token.
    The max over the width covers each sample's own frames only (``widths``; the ONNX export takes them
    too), so the padding a batch adds never changes a result.
    """

    kind = "char"
    loss_family = "ce"
    default_loss = "ce"
    export_takes_widths = True
    tiny = dict(TINY_BACKBONE)

    def __init__(self, num_tokens: int, height: int = 32, backbone: str = "small",
                 channels: Sequence[int] | None = None, scale: float = 0.5, dropout: float = 0.1,
                 loss: Any = None) -> None:
        super().__init__(num_tokens, height, loss)
        self._remember(height=height, backbone=backbone, channels=list(channels) if channels else None,
                       scale=scale, dropout=dropout)
        self.backbone = make_backbone(backbone, height, channels, scale)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.backbone.out_channels, num_tokens)

    def _logits(self, images: torch.Tensor, widths: torch.Tensor | None) -> torch.Tensor:
        self._check_images(images)
        widths = None if widths is None else widths.to(images.device)
        feats = self.backbone(images, widths)  # [B, C, T]
        if widths is not None:
            valid = valid_frames(output_lengths(widths, feats.shape[2]), feats.shape[2])
            feats = feats.masked_fill(~valid[:, None, :], MASKED)
        return self.head(self.dropout(feats.amax(dim=2)))

    def forward(self, images: torch.Tensor, widths: torch.Tensor, targets: Any = None) -> dict[str, Any]:
        logits = self._logits(images, widths)
        out: dict[str, Any] = {"logits": logits}
        if targets is not None:
            tg = self._targets(targets, logits.device)
            out["loss"] = self.loss_fn(logits, tg["target"], pad_index=None)
        return out

    def prepare_targets(self, token_ids: list[list[int]], device: torch.device | str = "cpu") -> dict:
        check_token_ids(token_ids, self.num_tokens)
        for i, ids in enumerate(token_ids):
            if len(ids) != 1:
                raise AksarError(f"targets: sample {i} has {len(ids)} tokens, but the single-character model "
                                 f"({self.name}) needs exactly 1 (set data max_text_length: 1)")
        return {"target": torch.tensor([ids[0] for ids in token_ids], dtype=torch.long, device=device)}

    def decoder_inputs(self, outputs: Mapping[str, Any]) -> tuple[list[np.ndarray], None]:
        return [to_numpy(outputs["logits"].float().softmax(-1))], None

    def export_forward(self, images: torch.Tensor, widths: torch.Tensor | None = None) -> torch.Tensor:
        """Class probabilities ``[B, num_tokens]``."""
        return self._logits(images, widths).softmax(-1)
