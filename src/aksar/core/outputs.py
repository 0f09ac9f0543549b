"""Output folders aksar owns: recognising its own output by the ``kind`` its metadata file records,
refusing folders it did not create, and deleting only the files it writes itself."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable

from aksar.core.errors import AksarError

_TEMP = re.compile(r"^\.(?P<name>.+)\.[^./]+\.tmp$")  # atomic_write_* temporary files


def read_marker(folder: Path, marker: str) -> dict[str, Any] | None:
    """The JSON object in ``folder/marker``, or None if missing or unreadable."""
    try:
        data = json.loads((folder / marker).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def claim_output_dir(out: Path, marker: str, kind: str, command: str, what: str, overwrite: bool,
                     legacy_key: str | None = None) -> dict[str, Any] | None:
    """Check that ``command`` may write into ``out`` (``what`` it makes, for the message); returns the previous marker data if ``out`` holds
    this kind of output (``kind`` recorded in ``out/marker``, or ``legacy_key`` present), else None.

    A missing or empty folder is free. Any other folder is refused with an AksarError, unless
    ``overwrite`` (then only the command's own files may be deleted there, see ``remove_own_files``).
    """
    if out.exists() and not out.is_dir():
        raise AksarError(f"{out} is a file, not an output folder")
    if not out.is_dir() or not any(out.iterdir()):
        return None
    meta = read_marker(out, marker)
    if meta is not None and (meta.get("kind") == kind or (legacy_key is not None and legacy_key in meta
                                                          and "kind" not in meta)):
        return meta
    if overwrite:
        return None
    raise AksarError(f"{out} is not empty and is not {what} made by `{command}` (no {marker} with kind "
                     f"{kind!r}); choose another output folder, or pass --overwrite to replace only the files "
                     f"{command} writes there")


def remove_own_files(folder: Path, owned: Callable[[str], bool]) -> int:
    """Delete the files under ``folder`` whose relative POSIX path ``owned`` accepts (and the temporary
    files of their atomic writes); nothing else, folders included. Returns how many were deleted."""
    n = 0
    if not folder.is_dir():
        return n
    for dirpath, _, files in os.walk(folder):
        base = Path(dirpath)
        rel_dir = base.relative_to(folder).as_posix()
        for name in files:
            tmp = _TEMP.match(name)
            candidate = tmp.group("name") if tmp else name
            rel = candidate if rel_dir == "." else f"{rel_dir}/{candidate}"
            if owned(rel):
                (base / name).unlink()
                n += 1
    return n


__all__ = ["read_marker", "claim_output_dir", "remove_own_files"]
