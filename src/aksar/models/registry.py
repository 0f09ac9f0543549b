"""Model registry: ``build_model(name, num_tokens, **kwargs)``.

Each name is a model class plus default kwargs; any kwarg of the class may be overridden. Unknown names
or kwargs raise :class:`AksarError` naming them. ``model.config()`` returns the resolved kwargs, so
``build_model(model.name, model.num_tokens, **model.config())`` rebuilds the architecture.
"""
from __future__ import annotations

import inspect
from typing import Any

from aksar.core.errors import AksarError
from aksar.models.base import OCRModel
from aksar.models.crnn import CharModel, CTCModel
from aksar.models.seq2seq import Seq2SeqModel

MODELS: dict[str, tuple[type[OCRModel], dict[str, Any], str]] = {
    "ctc_small": (CTCModel, dict(backbone="small", hidden=128, rnn_layers=2),
                  "CRNN, small VGG backbone + 2x BiLSTM(128), CTC; ~1.3M params, fast on CPU"),
    "ctc_fast": (CTCModel, dict(backbone="small", channels=[16, 32, 64, 64, 128], hidden=128, rnn_layers=1),
                 "CRNN, narrow VGG backbone + 1x BiLSTM(128), CTC; ~0.5M params, the CPU-inference default"),
    "ctc_medium": (CTCModel, dict(backbone="medium", hidden=256, rnn_layers=2),
                   "CRNN, medium VGG backbone + 2x BiLSTM(256), CTC"),
    "ctc_large": (CTCModel, dict(backbone="large", hidden=384, rnn_layers=2, dropout=0.1),
                  "CRNN, large VGG backbone + 2x BiLSTM(384), CTC"),
    "ctc_mobilenet": (CTCModel, dict(backbone="mobilenet", scale=0.5, hidden=96, rnn_layers=2),
                      "CRNN, MobileNetV3-large x0.5 + 2x BiLSTM(96), CTC (the PaddleOCR Thai seed)"),
    "seq2seq_small": (Seq2SeqModel, dict(backbone="small", enc_hidden=128, dec_hidden=256, embed_dim=64,
                                         attn_dim=128),
                      "small VGG encoder + BiLSTM, attention GRU decoder"),
    "seq2seq_medium": (Seq2SeqModel, dict(backbone="medium", enc_hidden=256, dec_hidden=384, embed_dim=128,
                                          attn_dim=256),
                       "medium VGG encoder + BiLSTM, attention GRU decoder"),
    "char_small": (CharModel, dict(backbone="small"),
                   "single-character classifier (max_text_length 1), small VGG backbone"),
}


def list_models() -> list[str]:
    return list(MODELS)


def build_model(name: str, num_tokens: int, **kwargs: Any) -> OCRModel:
    """Build a registered model; ``num_tokens`` is the charset size (sets the output layer)."""
    if name not in MODELS:
        raise AksarError(f"model.name: unknown model {name!r}; choose one of {', '.join(MODELS)}")
    cls, defaults, _ = MODELS[name]
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "num_tokens"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise AksarError(f"model ({name}): unknown option(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(allowed))}")
    model = cls(num_tokens=num_tokens, **{**defaults, **kwargs})
    model.name = name
    return model
