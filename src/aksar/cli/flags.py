"""One way from a config dataclass to a command's flags (every ``aksar`` command is declared through here).

``add_config(parser, Cls, ...)`` gives a command

- ``--config FILE``: a YAML mapping of ``Cls``'s fields (nested sections as nested mappings);
- ``-o KEY=VALUE``: one value (repeatable, dotted keys: ``-o synth.render.height=48``); a key ``Cls`` does
  not have is a one-line error naming it;
- one flag per field (``max_length`` -> ``--max-length``; booleans ``--x/--no-x``; lists take several
  values), typed, with the field's default and help in ``--help``;
- ``-v/--verbose`` and ``-q/--quiet``, which also work after the subcommand;
- ``--format`` (``formats=``) and ``--progress/--no-progress`` (``progress=True``): how the command reports,
  never part of the config.

``resolve(args)`` builds the ``Cls`` instance. Precedence, lowest first: the dataclass defaults <
``--config FILE`` < ``-o KEY=VALUE`` < flags typed on the command line (as kraken puts a config file under
the flags and PaddleOCR puts ``-o`` over the file). A flag that is not typed changes nothing.
Help text: ``metadata["help"]`` of the field (``aksar.core.config.opt``), else the ``helps`` table of the
command. Old spellings stay as hidden aliases (``aliases={"random_seed": ["--random-seed"]}``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from aksar.core.config import apply_overrides, convert_value, from_dict, load_yaml, replace_from_dict, to_dict
from aksar.core.errors import AksarError

log = logging.getLogger("aksar.cli")
SPEC = "_config_spec"  # attribute of the parsed args that holds the command's ConfigSpec
HIDE = argparse.SUPPRESS


@dataclass
class Flag:
    key: str    # dotted config key
    dest: str   # attribute in the parsed args (set only when typed)
    flag: str   # its spelling, e.g. --max-length


@dataclass
class ConfigSpec:
    cls: type
    command: str
    flags: list[Flag]
    load: Callable[[str], dict]
    required: tuple[str, ...]
    section: str | None          # -o keys not of cls but of this section are meant for it
    key_aliases: dict[str, str]  # first part of a key -> its real name (train: global -> run)


def _optional(tp: Any) -> tuple[Any, bool]:
    """(type without None, whether None is allowed)."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(get_args(tp))
    return tp, False


def fields_of(cls: type) -> dict[str, tuple[Any, Any, Any]]:
    """name -> (type hint, default or MISSING, metadata) of the init fields of dataclass ``cls``."""
    hints = get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        out[f.name] = (hints[f.name], default, f.metadata)
    return out


def _section(tp: Any, default: Any) -> type | None:
    """The dataclass a field holds as a section (``Any`` fields by their default), else None."""
    tp = _optional(tp)[0]
    if dataclasses.is_dataclass(tp):
        return tp
    if tp is Any and dataclasses.is_dataclass(default) and not isinstance(default, type):
        return type(default)
    return None


def lookup(cls: type, key: str, where: str) -> tuple[Any, Any, Any] | None:
    """(type, default, metadata) of dotted ``key`` in ``cls`` (None under a free-form mapping);
    an unknown key is an AksarError naming it."""
    node: type = cls
    parts = key.split(".")
    for i, part in enumerate(parts):
        known = fields_of(node)
        done = ".".join(parts[:i + 1])
        if part not in known:
            inside = f" in {'.'.join(parts[:i])}" if i else ""
            raise AksarError(f"{where}: unknown key {done!r} (known{inside}: {', '.join(known)})")
        tp, default, meta = known[part]
        if i == len(parts) - 1:
            return tp, default, meta
        sub = _section(tp, default)
        if sub is None:
            base = _optional(tp)[0]
            if base is Any or base is dict or get_origin(base) is dict:
                return None
            raise AksarError(f"{where}: {done!r} is a value, not a section")
        node = sub
    return None


def check_data(cls: type, data: dict, where: str, prefix: str = "") -> None:
    """Every key of a (nested) mapping is a field of ``cls``; errors name ``where`` and the key."""
    for k, v in data.items():
        key = f"{prefix}{k}"
        found = lookup(cls, key, where)
        if found and isinstance(v, dict) and _section(found[0], found[1]):
            check_data(cls, v, where, prefix=f"{key}.")


def _show(default: Any) -> str:
    if default is None:
        return "none"
    if isinstance(default, (list, tuple)):
        return " ".join(map(str, default)) or "none"
    return str(default)


def _converter(tp: Any, nullable: bool, flag: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if nullable and text.lower() in ("none", "null"):
            return None
        if tp is str:
            return text
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        try:
            return convert_value(value, tp, flag)
        except AksarError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = getattr(tp, "__name__", "value")
    return parse


def _arg_kwargs(tp: Any, flag: str) -> dict[str, Any] | None:
    """argparse keywords of a field type; None for what only --config/-o can set (sections, mappings)."""
    base, nullable = _optional(tp)
    origin = get_origin(base)
    if base is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is Literal:
        choices = list(get_args(base))
        item = str if all(isinstance(c, str) for c in choices) else type(choices[0])
        return {"choices": choices, "type": _converter(item, nullable, flag)}
    if origin in (list, tuple) or base in (list, tuple):
        args = get_args(base)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {"nargs": len(args), "type": _converter(args[0], False, flag)}
        item = args[0] if args else str
        if get_origin(item) is Literal:
            return {"nargs": "*", "action": "extend", "choices": list(get_args(item)), "type": str}
        return {"nargs": "*", "action": "extend", "type": _converter(item, False, flag)}
    if base in (str, int, float):
        return {"type": _converter(base, nullable, flag)}
    return None


def _metavar(key: str, tp: Any, flag: str) -> str | tuple[str, ...]:
    base = _optional(tp)[0]
    args = get_args(base)
    if get_origin(base) is tuple and len(args) == 2 and args[-1] is not Ellipsis:
        return ("MIN", "MAX")
    if key.endswith("_dir"):
        return "DIR"
    return {int: "N", float: "X"}.get(base, flag[2:].upper().replace("-", "_"))


def _dest(key: str) -> str:
    return "cfg__" + key.replace(".", "__")


def _expand(cls: type, fields: list[str] | None, exclude: tuple[str, ...]) -> list[str]:
    """Keys to make flags of: ``fields`` (``section.*``: every flaggable field of a section) or all."""
    keys: list[str] = []
    for item in fields if fields is not None else ["*"]:
        if item == "*" or item.endswith(".*"):
            prefix = item[:-1]
            node = cls if item == "*" else _section(*lookup(cls, item[:-2], "flags")[:2])
            for name, (tp, _, _) in fields_of(node).items():
                if _arg_kwargs(tp, name) is not None:
                    keys.append(prefix + name)
        else:
            keys.append(item)
    return [k for k in keys if k not in exclude]


def add_common(p: argparse.ArgumentParser) -> None:
    """-v/-q on a subcommand (default SUPPRESS keeps what was given before the subcommand)."""
    p.add_argument("-v", "--verbose", action="store_true", default=HIDE, help="debug logging")
    p.add_argument("-q", "--quiet", action="store_true", default=HIDE, help="warnings and errors only")


def add_config(p: argparse.ArgumentParser, cls: type, *, fields: list[str] | None = None,
               exclude: tuple[str, ...] = (), names: dict[str, str] | None = None,
               aliases: dict[str, list[str]] | None = None, helps: dict[str, str] | None = None,
               choices: dict[str, Any] | None = None, metavars: dict[str, str] | None = None,
               positional: dict[str, str] | None = None, required: tuple[str, ...] = (),
               load: Callable[[str], dict] = load_yaml, section: str | None = None,
               key_aliases: dict[str, str] | None = None, formats: tuple[str, ...] = (),
               progress: bool = False, config_flag: str = "--config") -> None:
    """Add --config, -o, one flag per field of ``cls`` and the common flags to ``p`` (see module doc).

    ``names``: flag spelling per key (default ``--last-part``); ``positional``: key -> METAVAR for a field
    given as an optional positional; ``required``: keys that must end up set (from any layer)."""
    names, aliases, helps = names or {}, aliases or {}, helps or {}
    choices, metavars, positional = choices or {}, metavars or {}, positional or {}
    flags: list[Flag] = []
    group = p.add_argument_group("settings (--config FILE < -o KEY=VALUE < these flags)")
    for key in _expand(cls, fields, exclude):
        tp, default, meta = lookup(cls, key, "flags")
        dest = _dest(key)
        flag = names.get(key) or "--" + key.rsplit(".", 1)[-1].replace("_", "-")
        kwargs = _arg_kwargs(tp, flag)
        if kwargs is None:
            raise TypeError(f"{cls.__name__}.{key}: no flag for type {tp}")
        if key in choices or meta.get("choices"):
            kwargs["choices"] = list(choices.get(key) or meta["choices"])
        text = (meta.get("help") or helps.get(key, "")).replace("%", "%%")
        if "default" not in text and key not in required:
            shown = (flag if default else "--no-" + flag[2:]) if _optional(tp)[0] is bool else _show(default)
            text = f"{text} (default: {shown})".strip()
        if key in positional:
            kwargs["nargs"] = "*" if kwargs.get("nargs") == "*" else "?"
            kwargs.pop("action", None)
            group.add_argument(dest, metavar=positional[key], default=HIDE, help=text, **kwargs)
        else:
            if kwargs.get("action") is not argparse.BooleanOptionalAction and "choices" not in kwargs:
                kwargs["metavar"] = metavars.get(key) or meta.get("metavar") or _metavar(key, tp, flag)
            group.add_argument(flag, dest=dest, default=HIDE, help=text, **kwargs)
            for alias in aliases.get(key, []):
                group.add_argument(alias, dest=dest, default=HIDE, help=HIDE, **kwargs)
        flags.append(Flag(key, dest, positional.get(key) or flag))
    if config_flag:
        p.add_argument(config_flag, dest="config_file", metavar="FILE",
                       help=f"YAML with the settings of this command ({cls.__name__}); flags and -o win over it")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="set one setting, dotted keys for sections (repeatable), e.g. -o "
                        f"{flags[0].key if flags else 'key'}=VALUE; wins over --config")
    if formats:
        add_format(p, formats)
    if progress:
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                       help="progress bar on stderr (default: --progress)")
    add_common(p)
    p.set_defaults(**{SPEC: ConfigSpec(cls, p.prog, flags, load, tuple(required), section,
                                       dict(key_aliases or {}))})


def add_format(p: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    """``--format`` (first choice is the default); ``--json`` stays as a hidden alias of ``--format json``."""
    p.add_argument("--format", choices=formats, default=formats[0], help=f"output format (default: {formats[0]})")
    if "json" in formats and "--json" not in p._option_string_actions:
        p.add_argument("--json", dest="format", action="store_const", const="json", default=HIDE, help=HIDE)


def _key(spec: ConfigSpec, key: str) -> str:
    first, _, rest = key.partition(".")
    first = spec.key_aliases.get(first, first)
    key = f"{first}.{rest}" if rest else first
    if spec.section and first not in fields_of(spec.cls):
        known = fields_of(_section(*fields_of(spec.cls)[spec.section][:2]))
        if first in known:
            key = f"{spec.section}.{key}"
    return key


def overrides(args: argparse.Namespace) -> list[str]:
    """``-o`` items (keys checked) then the typed flags, as ``key=value`` overrides in precedence order."""
    spec: ConfigSpec = getattr(args, SPEC)
    out = []
    for item in args.override:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            example = spec.flags[0].key if spec.flags else "key"
            raise AksarError(f"-o {item!r}: expected KEY=VALUE, e.g. -o {example}=...")
        key = _key(spec, key.strip())
        lookup(spec.cls, key, f"-o {item}")
        out.append(f"{key}={value}")
    for f in spec.flags:
        if hasattr(args, f.dest):
            out.append(f"{f.key}={json.dumps(getattr(args, f.dest), ensure_ascii=False)}")
    return out


def given(args: argparse.Namespace, key: str) -> Any:
    """The value of ``key``'s flag if it was typed on the command line, else None."""
    return getattr(args, _dest(key), None)


def load_config_file(args: argparse.Namespace) -> dict:
    """The ``--config`` mapping (keys checked, errors name the file), or {}."""
    spec: ConfigSpec = getattr(args, SPEC)
    path = getattr(args, "config_file", None)
    if not path:
        return {}
    data = spec.load(path)
    check_data(spec.cls, data, str(path))
    try:
        _build(spec.cls, dict(data))
    except AksarError as exc:
        raise AksarError(f"{path}: {exc}") from None
    return data


def _build(cls: type, data: dict) -> Any:
    cfg = from_dict(cls, data)
    for name, (tp, default, _) in fields_of(cls).items():  # Any-typed sections (e.g. synth) by their default
        value = getattr(cfg, name)
        if tp is Any and dataclasses.is_dataclass(default) and isinstance(value, dict):
            setattr(cfg, name, replace_from_dict(default, value, prefix=name))
    return cfg


def resolve(args: argparse.Namespace, data: dict | None = None) -> Any:
    """The command's config: defaults < --config (or ``data``) < -o < typed flags; required keys checked."""
    spec: ConfigSpec = getattr(args, SPEC)
    data = load_config_file(args) if data is None else data
    cfg = _build(spec.cls, apply_overrides(data, overrides(args)))
    for key in spec.required:
        value: Any = cfg
        for part in key.split("."):
            value = getattr(value, part)
        if value is None or value == "" or value == []:
            flag = next((f.flag for f in spec.flags if f.key == key), key)
            raise AksarError(f"{spec.command}: {flag} is required (or {key} in --config, or -o {key}=...)")
    log.debug("%s settings: %s", spec.command, json.dumps(to_dict(cfg), ensure_ascii=False, default=str))
    return cfg


__all__ = ["add_config", "add_common", "add_format", "resolve", "overrides", "load_config_file", "given",
           "check_data", "lookup", "fields_of", "ConfigSpec", "SPEC"]
