"""Model registry: ``@register_model(name, help=..., **defaults)`` on a model class; ``build_model(name,
num_tokens, **kwargs)``; ``list_models()``.

Each name is a model class plus default kwargs; any kwarg of the class may be overridden. Unknown names
or kwargs raise :class:`AksarError` naming them. ``model.config()`` returns the resolved kwargs, so
``build_model(model.name, model.num_tokens, **model.config())`` rebuilds the architecture.

The registering modules are imported on first use (:data:`MODEL_MODULES`): a new model is its module
(the class, its ``kind`` and its ``@register_model`` lines) plus one line in that tuple.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from aksar.core.errors import AksarError

if TYPE_CHECKING:
    from aksar.models.base import OCRModel

MODEL_MODULES = ("aksar.models.crnn", "aksar.models.seq2seq")


@dataclass(frozen=True)
class ModelSpec:
    """A registered name: the class, its default kwargs and a one-line description."""

    cls: type
    defaults: dict[str, Any] = field(default_factory=dict)
    help: str = ""


MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, help: str = "", **defaults: Any) -> Callable[[type], type]:
    """Class decorator registering ``name`` = the class with ``defaults`` (stackable, one per name)."""

    def deco(cls: type) -> type:
        spec = MODELS.get(name)
        if spec is not None and spec.cls.__qualname__ != cls.__qualname__:
            raise ValueError(f"model name {name!r} is registered twice ({spec.cls.__name__}, {cls.__name__})")
        MODELS[name] = ModelSpec(cls, dict(defaults), help)
        return cls

    return deco


def _load() -> dict[str, ModelSpec]:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return MODELS


def list_models() -> list[str]:
    """Every registered model name, sorted."""
    return sorted(_load())


def model_specs() -> dict[str, ModelSpec]:
    """Registered names -> :class:`ModelSpec` (class, defaults, help), sorted by name."""
    specs = _load()
    return {name: specs[name] for name in sorted(specs)}


def build_model(name: str, num_tokens: int, **kwargs: Any) -> OCRModel:
    """Build a registered model; ``num_tokens`` is the charset size (sets the output layer)."""
    specs = _load()
    if name not in specs:
        raise AksarError(f"model.name: unknown model {name!r}; choose one of {', '.join(sorted(specs))}")
    spec = specs[name]
    allowed = set(inspect.signature(spec.cls.__init__).parameters) - {"self", "num_tokens"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise AksarError(f"model ({name}): unknown option(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(allowed))}")
    model = spec.cls(num_tokens=num_tokens, **{**spec.defaults, **kwargs})
    model.name = name
    return model


__all__ = ["register_model", "build_model", "list_models", "model_specs", "ModelSpec", "MODELS", "MODEL_MODULES"]
