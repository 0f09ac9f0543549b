"""Typed configuration: dataclasses are the one source of defaults for YAML, CLI and Python API.

- ``from_dict(Cls, data)`` builds a (nested) dataclass, rejecting unknown keys and wrong types with an
  error that names the full key (``optimizer.lr: expected float, got 'abc'``).
- ``apply_overrides(data, ["optimizer.lr=0.01"])`` applies PaddleOCR-style ``-o`` overrides (values
  parsed as YAML scalars).
- ``to_dict(obj)`` turns a dataclass back into plain data (for saving the resolved config).
"""
from __future__ import annotations

import dataclasses
import types
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from aksar.core.errors import AksarError

T = TypeVar("T")


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise AksarError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise AksarError(f"{path}: invalid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise AksarError(f"{path}: not UTF-8: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AksarError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides to a nested dict (in place; also returned)."""
    for item in overrides or []:
        if "=" not in item:
            raise AksarError(f"override {item!r}: expected section.key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise AksarError(f"override {item!r}: empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise AksarError(f"override {item!r}: {part!r} is not a section")
            node = nxt
        node[parts[-1]] = value
    return data


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except AksarError as exc:
                errors.append(str(exc))
        raise AksarError(f"{key}: expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise AksarError(f"{key}: expected one of {list(choices)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise AksarError(f"{key}: expected a mapping, got {value!r}")
        return from_dict(tp, value, prefix=key)
    if origin in (list, tuple) or tp in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise AksarError(f"{key}: expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise AksarError(f"{key}: expected {len(args)} items, got {len(value)}")
            return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise AksarError(f"{key}: expected a mapping, got {value!r}")
        args = get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return {k: _convert(v, vt, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise AksarError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise AksarError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise AksarError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise AksarError(f"{key}: expected a string, got {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise AksarError(f"{key}: expected {_type_name(tp)}, got {value!r}")


def from_dict(cls: type[T], data: dict[str, Any] | None, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise AksarError naming the key."""
    data = dict(data or {})
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise AksarError(
            f"unknown config key{'s' if len(unknown) > 1 else ''}: "
            + ", ".join(where + u for u in unknown)
            + f" (known in {prefix or 'top level'}: {', '.join(sorted(names))})"
        )
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _convert(value, hints[name], key)
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise AksarError(f"{prefix or cls.__name__}: {exc}") from None
    return obj


def to_dict(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) from a dataclass tree."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def replace_from_dict(obj: T, data: dict[str, Any] | None, prefix: str = "") -> T:
    """A copy of dataclass ``obj`` with the keys in ``data`` replaced (validated like from_dict)."""
    merged = to_dict(obj)
    _deep_update(merged, data or {})
    return from_dict(type(obj), merged, prefix=prefix)


def _deep_update(base: dict, new: dict) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v


def convert_value(value: Any, tp: Any, key: str) -> Any:
    """``value`` checked and converted to type ``tp`` as ``from_dict`` does; errors name ``key``."""
    return _convert(value, tp, key)


def opt(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = dataclasses.MISSING,
        **metadata: Any) -> Any:
    """A dataclass field with its help text beside it (``metadata["help"]``, shown by the CLI flags)."""
    return dataclasses.field(default=default, default_factory=factory, metadata={"help": help, **metadata})


def dump_yaml(obj: Any) -> str:
    """YAML text of a dataclass tree (for the resolved config in a run directory)."""
    return yaml.safe_dump(to_dict(obj), sort_keys=False, allow_unicode=True)


__all__ = [
    "load_yaml", "apply_overrides", "from_dict", "to_dict", "replace_from_dict", "dump_yaml",
    "convert_value", "opt",
]
