"""``OCRModel``: the interface every recognizer implements (see docs/ARCHITECTURE.md, models)."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import IO, Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from aksar.core.errors import AksarError
from aksar.models.backbones import WIDTH_STRIDE, pad_margin
from aksar.models.decoders import Decoder, get_decoder
from aksar.models.decoding import LMScorer
from aksar.models.losses import build_loss

MASKED = -1e4  # a masked score or feature: below any real one, finite so ONNX and fp16 behave


class OCRModel(nn.Module):
    """Base class. Subclasses set ``kind`` (the name of their decoder, :mod:`aksar.models.decoders`:
    "ctc" | "attention" | "char") and ``loss_family``, and register names with
    ``@register_model`` (:mod:`aksar.models.registry`).

    - ``forward(images [B,1,H,W], widths [B], targets=None) -> dict`` with ``logits`` (and ``loss`` when
      ``targets`` is given: the dict from :meth:`prepare_targets` or raw ``list[list[int]]`` charset ids).
    - ``decode(outputs, method="greedy"|"beam", beam_width=5, lm=None) -> list[(token_ids, confidence)]``:
      :meth:`decoder_inputs` (the arrays ``export_forward`` gives) through ``output_decoder``, the same
      code the ONNX path runs.
    - ``export_forward(images[, widths])``: the traceable function exported to ONNX (:meth:`to_onnx`).
    - ``config()``: kwargs such that ``build_model(model.name, model.num_tokens, **model.config())``
      rebuilds the same architecture.
    """

    kind: ClassVar[str] = ""
    loss_family: ClassVar[str] = ""
    default_loss: ClassVar[str] = ""
    export_takes_widths: ClassVar[bool] = False  # export_forward(images, widths): the graph gets widths
    width_stride: ClassVar[int] = WIDTH_STRIDE
    tiny: ClassVar[dict[str, Any]] = {}  # kwargs for the smallest working model of the class (tests)

    def __init__(self, num_tokens: int, height: int = 32, loss: Any = None) -> None:
        super().__init__()
        if not isinstance(num_tokens, int) or num_tokens < 1:
            raise AksarError(f"model: num_tokens must be a positive integer (the charset size), got {num_tokens!r}")
        self.num_tokens = num_tokens
        self.height = height
        self.name = type(self).__name__
        self.loss_fn = build_loss(loss if loss is not None else self.default_loss, family=self.loss_family)
        self._config: dict[str, Any] = {}

    # -- configuration -------------------------------------------------------------------------------
    def _remember(self, **kwargs: Any) -> None:
        """Record constructor kwargs for :meth:`config` (the loss is stored as its config dict)."""
        self._config = dict(kwargs)

    def config(self) -> dict[str, Any]:
        cfg = dict(self._config)
        loss_cfg = getattr(self.loss_fn, "config", None)
        cfg["loss"] = loss_cfg() if callable(loss_cfg) else None
        if cfg["loss"] is None:
            cfg.pop("loss")
        return cfg

    @property
    def num_classes(self) -> int:
        return self.num_tokens + self.output_decoder.special_classes

    @property
    def output_decoder(self) -> Decoder:
        """The decoder of this model's ``kind`` (``self.decoder`` is the attention model's network)."""
        return get_decoder(self.kind)

    @property
    def onnx_outputs(self) -> tuple[str, ...]:
        return self.output_decoder.outputs

    @property
    def pad_margin(self) -> int:
        """Background columns each line needs after its width so it reads the same in any batch
        (``to_array_batch(..., margin=model.pad_margin)``; see :func:`aksar.models.backbones.pad_margin`)."""
        backbone = getattr(self, "backbone", None)
        return pad_margin(backbone) if backbone is not None else 0

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- helpers ---------------------------------------------------------------------------------------
    def _check_images(self, images: torch.Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 1 or images.shape[2] != self.height:
            raise AksarError(f"{self.name}: expected images [B, 1, {self.height}, W], got {list(images.shape)}"
                             f" (the model was built with height={self.height})")

    def _targets(self, targets: Any, device: torch.device) -> Mapping[str, torch.Tensor]:
        if isinstance(targets, Mapping):
            return targets
        return self.prepare_targets(targets, device)

    # -- interface -----------------------------------------------------------------------------------
    def prepare_targets(self, token_ids: list[list[int]], device: torch.device | str = "cpu") -> dict:
        raise NotImplementedError

    def decoder_inputs(self, outputs: Mapping[str, Any]) -> tuple[Sequence[np.ndarray], np.ndarray | None]:
        """The arrays ``export_forward`` would give for these ``forward`` outputs, and the valid frames
        per sample (None when the outputs do not run over the width)."""
        raise NotImplementedError

    def decode(self, outputs: Mapping[str, Any], method: str = "greedy", beam_width: int = 5,
               lm: LMScorer | None = None) -> list[tuple[list[int], float]]:
        arrays, lengths = self.decoder_inputs(outputs)
        return self.output_decoder.decode(arrays, lengths, method=method, beam_width=beam_width, lm=lm)

    def export_forward(self, images: torch.Tensor):
        raise NotImplementedError

    def to_onnx(self, f: str | Path | IO[bytes], opset: int = 17, example_width: int = 128) -> list[str]:
        """Export :meth:`export_forward` to ONNX (a path or a binary file object); returns the output names.

        Inputs: ``images`` with dynamic batch and width, plus ``widths`` (int64 ``[batch]``) for models
        whose export masks the padding (``export_takes_widths``). Uses the TorchScript-based exporter
        (``dynamo=False``; no onnxscript needed) on the model in eval mode; its mode is restored after.
        """
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        args: tuple = (torch.zeros(2, 1, self.height, example_width, device=device),)
        inputs = ["images"]
        axes: dict[str, dict[int, str]] = {"images": {0: "batch", 3: "width"}}
        if self.export_takes_widths:
            args += (torch.tensor([example_width, example_width * 3 // 4], device=device),)
            inputs.append("widths")
            axes["widths"] = {0: "batch"}
        axes.update(self.output_decoder.output_axes())
        target = f if hasattr(f, "write") else str(f)
        try:
            # The wrapper must be in eval mode too: the exporter restores its mode recursively afterwards.
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python checks
                torch.onnx.export(_ExportWrapper(self).eval(), args, target, input_names=inputs,
                                  output_names=list(self.onnx_outputs), dynamic_axes=axes,
                                  opset_version=opset, dynamo=False, do_constant_folding=True)
        finally:
            self.train(was_training)
        return list(self.onnx_outputs)


class _ExportWrapper(nn.Module):
    def __init__(self, model: OCRModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, widths: torch.Tensor | None = None):
        if widths is None:
            return self.model.export_forward(images)
        return self.model.export_forward(images, widths)


def valid_frames(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """Bool mask ``[B, total]``: frame ``t`` of sample ``b`` lies over the line (``t < lengths[b]``)."""
    return torch.arange(total, device=lengths.device)[None, :] < lengths[:, None]


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x [B, T, C]`` with each sample's first ``lengths[b]`` frames reversed (the rest left in place)."""
    t = torch.arange(x.shape[1], device=x.device)[None, :]
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[2]))


def run_rnn(rnn: nn.LSTM, feats: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """A batch-first bidirectional LSTM over ``feats [B, T, C]`` that stops at each sample's length.

    The backward direction starts at each sample's last real frame instead of the end of the batch's
    padding, so a line reads the same alone or in any batch; frames past a length are zeros. On the
    CPU and in the ONNX export the function is built from plain LSTM ops: the forward direction over
    the padded frames (it never looks ahead) and the backward direction over each sample's frames
    reversed within its length (on a CPU 20x faster to train than a packed sequence, and exportable).
    On CUDA the sequences are packed (cuDNN runs them natively). Same weights, ``state_dict`` and
    results either way. ``lengths=None`` runs over all ``T`` frames.
    """
    if lengths is None or not rnn.bidirectional:
        return rnn(feats)[0]
    valid = valid_frames(lengths, feats.shape[1]).unsqueeze(-1)
    if feats.is_cuda and not torch.onnx.is_in_onnx_export():
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        packed = pack_padded_sequence(feats, lengths.to("cpu", torch.int64), batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=feats.shape[1])[0]
    x = feats
    for layer in range(rnn.num_layers):
        fwd = _lstm_direction(rnn, x, f"_l{layer}")
        bwd = reverse_within(_lstm_direction(rnn, reverse_within(x, lengths), f"_l{layer}_reverse"), lengths)
        x = torch.cat([fwd, bwd], -1)
        if rnn.dropout and rnn.training and layer + 1 < rnn.num_layers:
            x = nn.functional.dropout(x, rnn.dropout, training=True)
    return x * valid  # zeros past each length, as pad_packed_sequence gives


def _lstm_direction(rnn: nn.LSTM, x: torch.Tensor, suffix: str) -> torch.Tensor:
    """One direction of one layer of ``rnn`` (its ``*{suffix}`` weights), run forward over ``x``."""
    weights = [getattr(rnn, f"{name}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    h0 = x.new_zeros(1, x.shape[0], rnn.hidden_size)
    out = torch._VF.lstm(x, (h0, h0), weights, True, 1, 0.0, rnn.training, False, True)  # type: ignore[attr-defined]
    return out[0]


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor as a float32 (integer tensors: int64) numpy array on the CPU, detached."""
    t = t.detach()
    return (t.long() if not t.is_floating_point() else t.float()).cpu().numpy()


def check_token_ids(token_ids: list[list[int]], num_tokens: int) -> None:
    """AksarError naming the sample whose ids fall outside ``0..num_tokens - 1``."""
    for i, ids in enumerate(token_ids):
        for t in ids:
            if not 0 <= t < num_tokens:
                raise AksarError(f"targets: sample {i} has token id {t} outside the charset (0..{num_tokens - 1})")
