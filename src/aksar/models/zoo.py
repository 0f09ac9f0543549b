"""Shipped models: ONNX recognizers (later detectors) carried as package data, found by name.

A shipped model is a folder ``<zoo>/<name>/`` holding ``model.onnx``, ``card.json`` (its metadata:
name, aliases, task, script, file, size, sha256, config, corpus, fonts, training, metrics, limits, and
``changes`` made after training when there are any) and ``card.md`` (the card rendered for people). Zoo folders searched, first match wins: the folders
in ``$AKSAR_MODELS_DIR`` (``os.pathsep``-separated), then ``src/aksar/zoo`` (package data).

``resolve_model("khmer")`` -> the verified ``model.onnx`` of the model called or aliased ``khmer``;
a path that exists is returned as is, so every ``MODEL`` argument takes a path or a name.
It lives with the models, below training, so ``model.init_from`` takes a shipped model's name from
the CLI, YAML and the Python API alike; cards are written by :mod:`aksar.infer.model_card`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from aksar.core.errors import AksarError
from aksar.core.io import sha256_file

MODELS_DIR_ENV = "AKSAR_MODELS_DIR"
BUILTIN_DIR = Path(__file__).resolve().parents[1] / "zoo"
CARD_JSON, CARD_MD, MODEL_FILE, LM_FILE = "card.json", "card.md", "model.onnx", "lm.json.gz"
REQUIRED_KEYS = ("name", "task", "script", "file", "sha256", "size")
TASKS = ("recognition", "detection")


@dataclass(frozen=True)
class ZooModel:
    """One shipped model, as its ``card.json`` describes it."""

    name: str
    task: str
    script: str
    file: Path
    size: int
    sha256: str
    aliases: tuple[str, ...] = ()
    config: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.file.parent

    def shipped_lm(self) -> tuple[Path, float | None, float | None]:
        """(verified LM file, tuned weight, tuned bonus) of the language model shipped with this model."""
        lm = self.card.get("lm")
        if not isinstance(lm, dict) or "file" not in lm:
            raise AksarError(f"shipped model {self.name} has no language model (--lm shipped); give --lm FILE")
        path = self.folder / str(lm["file"])
        _check_file(self.name, path, lm.get("size"), lm.get("sha256"), self.folder / CARD_JSON)
        return path, lm.get("weight"), lm.get("bonus")

    def summary(self) -> dict[str, Any]:
        """The listing row (``aksar models --format json``)."""
        return {"name": self.name, "aliases": list(self.aliases), "task": self.task, "script": self.script,
                "file": str(self.file), "size": self.size, "sha256": self.sha256, "config": self.config,
                "metrics": self.metrics}


def zoo_dirs(dirs: Sequence[str | os.PathLike] | None = None) -> list[Path]:
    """The zoo folders searched: ``dirs`` if given, else ``$AKSAR_MODELS_DIR`` then the package's."""
    if dirs is not None:
        return [Path(d) for d in dirs]
    env = [Path(p) for p in os.environ.get(MODELS_DIR_ENV, "").split(os.pathsep) if p]
    return [*env, BUILTIN_DIR]


def read_card(card_path: Path) -> ZooModel:
    """The ZooModel of a ``card.json`` (AksarError naming the file and key if it is malformed)."""
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AksarError(f"{card_path}: unreadable model card ({exc})") from None
    if not isinstance(card, dict):
        raise AksarError(f"{card_path}: a model card is a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise AksarError(f"{card_path}: model card lacks {', '.join(missing)}")
    if card["task"] not in TASKS:
        raise AksarError(f"{card_path}: task: expected one of {', '.join(TASKS)}, got {card['task']!r}")
    aliases = card.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise AksarError(f"{card_path}: aliases: expected a list of names")
    try:
        size = int(card["size"])
    except (TypeError, ValueError):
        raise AksarError(f"{card_path}: size: expected a number of bytes, got {card['size']!r}") from None
    return ZooModel(name=str(card["name"]), task=card["task"], script=str(card["script"]),
                    file=card_path.parent / str(card["file"]), size=size, sha256=str(card["sha256"]),
                    aliases=tuple(aliases), config=card.get("config"), metrics=dict(card.get("metrics") or {}),
                    card=card)


def list_models(dirs: Sequence[str | os.PathLike] | None = None) -> list[ZooModel]:
    """Every shipped model (sorted by name); a name shadowed by an earlier zoo folder is skipped."""
    found: dict[str, ZooModel] = {}
    for d in zoo_dirs(dirs):
        for card_path in sorted(d.glob(f"*/{CARD_JSON}")) if d.is_dir() else []:
            model = read_card(card_path)
            found.setdefault(model.name, model)
    return sorted(found.values(), key=lambda m: m.name)


def _names(models: list[ZooModel]) -> str:
    return ", ".join(f"{m.name} ({', '.join(m.aliases)})" if m.aliases else m.name for m in models) or "none installed"


def find_model(name: str, dirs: Sequence[str | os.PathLike] | None = None) -> ZooModel:
    """The shipped model called or aliased ``name`` (AksarError listing the names otherwise)."""
    models = list_models(dirs)
    for m in models:
        if m.name == name:
            return m
    for m in models:
        if name in m.aliases:
            return m
    raise AksarError(f"unknown model {name!r}; shipped models: {_names(models)}")


def _check_file(name: str, path: Path, size: Any, sha256: Any, card: Path) -> None:
    if not path.is_file():
        raise AksarError(f"shipped model {name}: {path} is missing; reinstall aksar")
    if path.stat().st_size != size or sha256_file(path) != sha256:
        raise AksarError(f"shipped model {name}: {path} is damaged (size or sha256 differs from {card}); "
                         "reinstall aksar")


def verify(model: ZooModel) -> Path:
    """``model.file`` after checking its size and sha256 against the card (AksarError if damaged)."""
    _check_file(model.name, model.file, model.size, model.sha256, model.folder / CARD_JSON)
    return model.file


def resolve_model(name_or_path: str | os.PathLike, dirs: Sequence[str | os.PathLike] | None = None) -> Path:
    """A model path: an existing path as is, else the verified file of the shipped model of that name."""
    path = Path(name_or_path)
    if path.exists():
        return path
    name = str(name_or_path)
    if os.sep in name or "/" in name or path.suffix:
        raise AksarError(f"model not found: {path}")
    return verify(find_model(name, dirs))


def default_detector(script: str | None, dirs: Sequence[str | os.PathLike] | None = None) -> ZooModel:
    """The first shipped model (by name) with task ``detection`` for ``script`` (AksarError naming --det if none)."""
    for m in list_models(dirs):
        if m.task == "detection" and m.script == script:
            return m
    raise AksarError(f"no shipped text-line detector for script {script!r}; give a detector with --det "
                     "(an exported .onnx, a checkpoint, or a shipped detection model's name)")


def _shipped(name_or_path: str | os.PathLike, dirs: Sequence[str | os.PathLike] | None) -> ZooModel | None:
    """The ZooModel of a shipped model's name or of the ``model.onnx`` in a zoo folder; None for another path."""
    path = Path(name_or_path)
    if path.exists():
        card = path.parent / CARD_JSON if path.is_file() else path / CARD_JSON
        return read_card(card) if card.is_file() else None
    return find_model(str(name_or_path), dirs)


def shipped_lm(name_or_path: str | os.PathLike, dirs: Sequence[str | os.PathLike] | None = None,
               ) -> tuple[Path, float | None, float | None]:
    """(verified file, tuned weight, tuned bonus) of the language model shipped with model ``name_or_path``
    (a shipped model's name, or the ``model.onnx`` in a zoo folder)."""
    model = _shipped(name_or_path, dirs)
    if model is None:
        raise AksarError(f"{name_or_path}: not a shipped model, so it has no shipped language model; give --lm FILE")
    return model.shipped_lm()


def has_shipped_lm(name_or_path: str | os.PathLike, dirs: Sequence[str | os.PathLike] | None = None) -> bool:
    """Whether model ``name_or_path`` is a shipped model whose card lists a language model (``--lm auto``)."""
    model = _shipped(name_or_path, dirs)
    return model is not None and isinstance(model.card.get("lm"), dict)


__all__ = ["ZooModel", "list_models", "find_model", "default_detector", "verify", "resolve_model", "shipped_lm",
           "has_shipped_lm", "read_card", "zoo_dirs", "MODELS_DIR_ENV", "BUILTIN_DIR", "CARD_JSON", "CARD_MD",
           "MODEL_FILE", "LM_FILE", "TASKS"]
