"""Resumable, shardable keyed jobs: what ``generate`` and ``pages`` share.

Index ``i`` of a split writes its files (atomic renames), then one journal line
(``{split}/.journal/<run>.jsonl``). An index is done when its files are complete and its journal line
exists; a killed run leaves at most temp files and orphans, which the next run's scan deletes before it
renders those indices again. Shard ``i/N`` handles the indices with ``index % N == i``.
"""
from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from aksar.core.errors import AksarError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
Files = tuple[tuple[str, str], ...]  # (folder, suffix) of each file an index writes


def check_splits(splits: Iterable[str], key: str = "splits") -> None:
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise AksarError(f"{key}: unknown split(s) {', '.join(unknown)} (known: {', '.join(SPLITS)})")


def run_id(shard_i: int, shard_n: int) -> str:
    """A unique journal name for this run of this shard."""
    return f"shard{shard_i}of{shard_n}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def parse_shard(shard: str | None) -> tuple[int, int]:
    """``"i/N"`` -> (i, N); None -> (0, 1)."""
    if shard is None or shard == "":
        return 0, 1
    try:
        i, n = (int(x) for x in shard.split("/"))
    except ValueError:
        raise AksarError(f"--shard {shard!r}: expected i/N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise AksarError(f"--shard {shard!r}: need 0 <= i < N")
    return i, n


def stem(split: str, index: int) -> str:
    return f"{split}_{index:06d}"


def png_complete(path: Path) -> bool:
    """True if ``path`` is a PNG whose last chunk (IEND) is present (i.e. not truncated)."""
    try:
        with open(path, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                return False
            f.seek(-12, os.SEEK_END)
            return f.read(12) == PNG_END
    except OSError:
        return False


def read_journals(split_dir: Path) -> dict[int, dict]:
    """Latest journal record per index (torn last lines from a kill are ignored)."""
    records: dict[int, dict] = {}
    jdir = split_dir / ".journal"
    if not jdir.is_dir():
        return records
    for path in sorted(jdir.glob("*.jsonl")):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.endswith("\n"):
                    continue  # torn write
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get("index"), int):
                    records[rec["index"]] = rec
    return records


def _clean_temp_files(folder: Path, split: str, indices: set[int]) -> int:
    """Remove temp files (``.NAME.XXXX.tmp`` from atomic writes) left by killed runs for ``indices``."""
    n = 0
    if folder.is_dir():
        prefix = f".{split}_"
        for p in folder.iterdir():
            name = p.name
            if name.startswith(prefix) and name.endswith(".tmp"):
                digits = name[len(prefix):].split(".", 1)[0]
                if digits.isdigit() and int(digits) in indices:
                    p.unlink(missing_ok=True)
                    n += 1
    return n


def scan_split(split_dir: Path, split: str, indices: Iterable[int], repair: bool = True,
               files: Files = (("images", ".png"), ("labels", ".txt")),
               ) -> tuple[set[int], dict[int, dict], int]:
    """(indices done, journal records, broken files removed) for ``indices`` of a split.

    ``files``: the (folder, suffix) of each file an index writes (``pages`` writes images and PAGE-XML).
    An index is done when it has all of them (PNGs complete) and a journal line, or a journal line saying
    it was skipped and none of them. With ``repair`` the files of unfinished indices (orphans, truncated
    PNGs, temp files) are deleted; without it (checking other shards' progress) nothing is touched.
    """
    indices = set(indices)
    folders = [split_dir / folder for folder, _ in files]
    removed = sum(_clean_temp_files(f, split, indices) for f in folders) if repair else 0
    journal = read_journals(split_dir)
    present = [{p.name for p in os.scandir(f)} if f.is_dir() else set() for f in folders]
    done: set[int] = set()
    for i in sorted(indices):
        s = stem(split, i)
        rec = journal.get(i)
        names = [f"{s}{suffix}" for _, suffix in files]
        have = [name in names_present for name, names_present in zip(names, present)]
        if rec is not None and rec.get("skipped") and not any(have):
            done.add(i)
            continue
        if (all(have) and rec is not None and not rec.get("skipped")
                and all(png_complete(f / n) for f, n in zip(folders, names) if n.endswith(".png"))):
            done.add(i)
            continue
        if repair:
            for name, folder, there in zip(names, folders, have):
                if there:
                    (folder / name).unlink(missing_ok=True)
                    removed += 1
    return done, journal, removed


class SplitJob:
    """The indices of one split this shard still has to write, their journal and the final check.

    Creating it makes the folders and scans (repairing what a killed run left): ``done``, ``removed``
    and ``todo`` (this shard's indices not done, in order).
    """

    def __init__(self, split_dir: Path, split: str, n: int, shard: tuple[int, int], files: Files, run: str) -> None:
        self.split_dir, self.split, self.n, self.files, self.run = split_dir, split, n, files, run
        self.shard_n = shard[1]
        for folder, _ in files:
            (split_dir / folder).mkdir(parents=True, exist_ok=True)
        (split_dir / ".journal").mkdir(exist_ok=True)
        self.mine = range(shard[0], n, shard[1])
        self.done, _, self.removed = scan_split(split_dir, split, self.mine, files=files)
        self.todo = [i for i in self.mine if i not in self.done]

    @contextmanager
    def journal(self) -> Iterator[Callable[[dict], None]]:
        """``record(rec)``: append one journal line (after the index's files are written) and flush it."""
        with open(self.split_dir / ".journal" / f"{self.run}.jsonl", "a", encoding="utf-8") as f:
            def record(rec: dict) -> None:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                f.flush()

            yield record

    def finish(self) -> tuple[set[int], dict[int, dict]]:
        """Indices of the whole split done (by any shard) and the journal records, once this shard is through."""
        if self.shard_n == 1:
            return self.done | set(self.todo), read_journals(self.split_dir)
        done, journal, _ = scan_split(self.split_dir, self.split, range(self.n), repair=False, files=self.files)
        return done, journal


def claim_job_output(out: Path, marker: str, kind: str, command: str, what: str, overwrite: bool,
                     settings: dict, own_file: Callable[[str], bool], legacy: Callable[[dict], dict | None] | None = None,
                     legacy_key: str | None = None) -> dict | None:
    """Refuse a folder ``command`` did not create and a resume with other ``settings`` (each differing key
    named); with ``overwrite``, delete only the files ``own_file`` says the command wrote. Returns the
    previous marker (None when starting afresh)."""
    from aksar.core.outputs import claim_output_dir, remove_own_files

    previous = claim_output_dir(out, marker, kind, command, what, overwrite, legacy_key=legacy_key)
    if previous is not None and not overwrite:
        old = previous.get("settings") or (legacy(previous) if legacy else None)
        diffs = settings_differences(old, settings) if old is not None else ["settings: not recorded"]
        if diffs:
            raise AksarError(f"{out} holds output of `{command}` with other settings; resuming would mix them: "
                             f"{'; '.join(diffs)}. Use the same settings, another --output-dir, or --overwrite to "
                             "delete what it wrote and start again")
        return previous
    if overwrite:
        n = remove_own_files(out, own_file)
        log.info("--overwrite: deleted %d files of a previous `%s` in %s", n, command, out)
    return None


def _flat(d: object, prefix: str = "") -> dict[str, object]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, object] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def settings_differences(old: dict, new: dict) -> list[str]:
    """``key: old != new`` for every setting that differs (nested keys dotted)."""
    a, b = _flat(old), _flat(new)
    return [f"{k}: {a.get(k, '<unset>')!r} (existing) != {b.get(k, '<unset>')!r} (this run)"
            for k in sorted(set(a) | set(b)) if a.get(k, "<unset>") != b.get(k, "<unset>")]
