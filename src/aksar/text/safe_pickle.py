"""Loading a pickled list of strings without running code from the file."""
from __future__ import annotations

import io
import pickle
from pathlib import Path

from aksar.core.errors import AksarError


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Refuses every global (class or function) reference, so no object of the file can run code."""

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only list and str are allowed")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused a persistent id: only list and str are allowed")


def load_str_list(path: str | Path) -> list[str]:
    """The list of str pickled in ``path``; anything else is refused with an AksarError naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AksarError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        obj = _NoGlobalsUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # any malformed or refused pickle
        raise AksarError(f"{path}: not a pickled list of strings ({exc})") from None
    if not isinstance(obj, list):
        raise AksarError(f"{path}: expected a pickled list of strings, got {type(obj).__name__}")
    for i, item in enumerate(obj):
        if not isinstance(item, str):
            raise AksarError(f"{path}: item {i} is {type(item).__name__}, expected str")
    return obj


__all__ = ["load_str_list"]
