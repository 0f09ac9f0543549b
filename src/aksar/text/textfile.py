"""Reading UTF-8 text files line by line without losing track of bad bytes."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aksar.core.errors import AksarError


def iter_file_lines(path: str | Path) -> Iterator[tuple[int, str | None]]:
    """Yield ``(line_number, text)`` for each line of ``path`` (1-based, line ending removed).

    ``text`` is None for a line that is not valid UTF-8, so the caller can count and report it.
    A missing file or a directory raises AksarError naming it.
    """
    path = Path(path)
    if not path.exists():
        raise AksarError(f"input file not found: {path}")
    if not path.is_file():
        raise AksarError(f"input is not a file: {path}")
    try:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    yield lineno, None
                    continue
                yield lineno, text.rstrip("\r\n")
    except OSError as exc:
        raise AksarError(f"cannot read {path}: {exc.strerror or exc}") from None


__all__ = ["iter_file_lines"]
