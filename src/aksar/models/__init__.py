"""aksar.models: recognizer and detector architectures, registry, losses and decoding.

Imports are lazy so that ``aksar.models.decoding`` and ``aksar.models.decoders`` (numpy only) can be
used without torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_model": "registry", "list_models": "registry", "register_model": "registry",
    "model_specs": "registry", "model_task": "registry", "MODELS": "registry",
    "OCRModel": "base", "build_loss": "losses", "get_decoder": "decoders", "Decoder": "decoders",
    "CTCModel": "crnn", "CharModel": "crnn", "Seq2SeqModel": "seq2seq",
    "DBNet": "det_db", "DBPostProcess": "det_postprocess", "Detection": "det_postprocess",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "MODELS":  # every model module registered
        return importlib.import_module("aksar.models.registry")._load()
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"aksar.models.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'aksar.models' has no attribute {name!r}")
