"""Model registry: ``@register_model(name, help=..., **defaults)`` on a model class; ``build_model(name,
num_tokens, **kwargs)``; ``list_models(task=...)``.

A class's ``task`` attribute (default ``"recognition"``) says what it does: recognizers take
``num_tokens`` (the charset size), detection models (``task = "detection"``, e.g. ``db_mobilenet``) take
none: ``build_model("db_tiny")``. ``list_models()`` / ``model_specs()`` list the recognizers unless
``task`` names another task or is None (every model).

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

MODEL_MODULES = ("aksar.models.crnn", "aksar.models.seq2seq", "aksar.models.det_db")
RECOGNITION = "recognition"


@dataclass(frozen=True)
class ModelSpec:
    """A registered name: the class, its default kwargs and a one-line description."""

    cls: type
    defaults: dict[str, Any] = field(default_factory=dict)
    help: str = ""

    @property
    def task(self) -> str:
        """``recognition`` or ``detection`` (the class's ``task`` attribute)."""
        return str(getattr(self.cls, "task", RECOGNITION))


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


def list_models(task: str | None = RECOGNITION) -> list[str]:
    """Registered model names of ``task`` (None: every task), sorted."""
    return sorted(model_specs(task))


def model_specs(task: str | None = RECOGNITION) -> dict[str, ModelSpec]:
    """Registered names of ``task`` (None: all) -> :class:`ModelSpec` (class, defaults, help), sorted."""
    specs = _load()
    return {name: specs[name] for name in sorted(specs) if task is None or specs[name].task == task}


def model_task(name: str) -> str:
    """The task of a registered model name (AksarError for an unknown name)."""
    specs = _load()
    if name not in specs:
        raise AksarError(f"model.name: unknown model {name!r}; choose one of {', '.join(sorted(specs))}")
    return specs[name].task


def build_model(name: str, num_tokens: int | None = None, **kwargs: Any) -> OCRModel:
    """Build a registered model; ``num_tokens`` is the charset size of a recognizer (sets the output
    layer); detection models take none."""
    specs = _load()
    task = model_task(name)
    spec = specs[name]
    if task != RECOGNITION and num_tokens is not None:
        raise AksarError(f"model ({name}): a {task} model takes no charset (num_tokens); "
                         f"recognizers: {', '.join(list_models())}")
    if task == RECOGNITION and num_tokens is None:
        raise AksarError(f"model ({name}): a recognizer needs num_tokens (the charset size)")
    allowed = set(inspect.signature(spec.cls.__init__).parameters) - {"self", "num_tokens"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise AksarError(f"model ({name}): unknown option(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(allowed))}")
    tokens = {} if task != RECOGNITION else {"num_tokens": num_tokens}
    model = spec.cls(**tokens, **{**spec.defaults, **kwargs})
    model.name = name
    return model


__all__ = ["register_model", "build_model", "list_models", "model_specs", "model_task", "RECOGNITION", "ModelSpec", "MODELS", "MODEL_MODULES"]
