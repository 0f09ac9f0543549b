"""Compatibility names: model weights I/O moved to :mod:`aksar.models.weights`, the RNG state of a
run to :mod:`aksar.train.state`. New code imports from those modules."""
from __future__ import annotations

from aksar.models.weights import (FORMAT_VERSION, LoadedModel, build_model_from_checkpoint, check_weights,
                                  init_from_checkpoint, load_checkpoint, load_for_inference, remap_state_dict,
                                  resolve_checkpoint_path, resolve_device, save_checkpoint)
from aksar.train.state import capture_rng_state, restore_rng_state

__all__ = [
    "FORMAT_VERSION", "save_checkpoint", "load_checkpoint", "resolve_checkpoint_path", "capture_rng_state",
    "restore_rng_state", "remap_state_dict", "init_from_checkpoint", "LoadedModel", "load_for_inference",
    "build_model_from_checkpoint", "check_weights", "resolve_device",
]
