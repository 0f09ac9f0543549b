"""Building a text corpus: read, normalize, filter, dedupe, split by a stable hash, write.

``build_corpus`` writes ``train.txt``, ``val.txt``, ``test.txt`` (one normalized line each),
``charset.txt`` (dictionary file built from all kept lines) and ``stats.json`` (what was kept,
what was dropped and why, where the invalid UTF-8 lines are).

The split of a line depends only on the line: ``stable_hash(line) / 2**64`` below ``test_fraction``
-> test, below ``test_fraction + val_fraction`` -> val, else train. Adding lines never moves the
existing ones between splits.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import regex

from aksar.core.config import to_dict
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_json, atomic_write_text, stable_hash
from aksar.text.charset import Charset
from aksar.text.normalize import normalize
from aksar.text.presets import preset_lines, preset_script
from aksar.text.scripts import get_script, script_share
from aksar.text.textfile import iter_file_lines

SPLITS = ("train", "val", "test")
DROP_REASONS = ("invalid_utf8", "blank", "invisible_only", "too_short", "too_long",
                "low_script_share", "private_use", "duplicate")
# Private-use, unassigned and surrogate code points: no standard font can draw them.
_PRIVATE_USE_RE = regex.compile(r"[\p{Co}\p{Cn}\p{Cs}]")
MAX_LOCATIONS = 100  # invalid-UTF-8 locations listed in stats.json (all are counted)


@dataclass
class CorpusConfig:
    """Corpus filters and split. Lengths count code points of the normalized line."""

    script: str = "khmer"
    min_length: int = 1
    max_length: int = 120
    min_script_share: float = 0.5
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    dedupe: bool = True
    max_lines: int | None = None          # stop reading once this many lines are kept
    charset_extra: list[str] = field(default_factory=lambda: ["digits", "latin", "punct"])

    def __post_init__(self) -> None:
        get_script(self.script)
        if self.min_length < 1 or self.max_length < self.min_length:
            raise AksarError(f"corpus: need 1 <= min_length <= max_length, got {self.min_length}, "
                             f"{self.max_length}")
        if not 0.0 <= self.min_script_share <= 1.0:
            raise AksarError(f"corpus.min_script_share must be within [0, 1], got {self.min_script_share}")
        if (self.val_fraction < 0 or self.test_fraction < 0
                or self.val_fraction + self.test_fraction >= 1.0):
            raise AksarError("corpus: val_fraction and test_fraction must be >= 0 and sum to less than 1, "
                             f"got {self.val_fraction} and {self.test_fraction}")
        if self.max_lines is not None and self.max_lines < 1:
            raise AksarError(f"corpus.max_lines must be >= 1, got {self.max_lines}")


def split_of(line: str, cfg: CorpusConfig) -> str:
    """The split of a (normalized) line: depends only on the line and the two fractions."""
    u = stable_hash(line) / 2.0**64
    if u < cfg.test_fraction:
        return "test"
    if u < cfg.test_fraction + cfg.val_fraction:
        return "val"
    return "train"


def check_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """The input paths, after checking that each is a readable file (AksarError naming it)."""
    paths = [Path(p) for p in inputs]
    for p in paths:
        if not p.exists():
            raise AksarError(f"input file not found: {p}")
        if not p.is_file():
            raise AksarError(f"input is not a file: {p}")
    return paths


def input_lines(inputs: Iterable[str | Path]) -> Iterator[tuple[str, int, str | None]]:
    """``(source, line_number, text)`` for every line of the input files (text None: invalid UTF-8)."""
    for p in check_inputs(inputs):
        for lineno, text in iter_file_lines(p):
            yield str(p), lineno, text


def filter_lines(records: Iterable[tuple[str, int, str | None]], cfg: CorpusConfig,
                 dropped: Counter | None = None, invalid: list[str] | None = None) -> Iterator[str]:
    """Normalized lines that pass the filters of ``cfg`` (deduplicated if ``cfg.dedupe``).

    Each dropped line is counted in ``dropped`` under its reason (``DROP_REASONS``); the
    ``file:line`` of invalid UTF-8 lines go to ``invalid`` (up to MAX_LOCATIONS).
    """
    dropped = Counter() if dropped is None else dropped
    seen: set[str] = set()
    script, lo, hi, share = cfg.script, cfg.min_length, cfg.max_length, cfg.min_script_share
    for source, lineno, raw in records:
        if raw is None:
            dropped["invalid_utf8"] += 1
            if invalid is not None and len(invalid) < MAX_LOCATIONS:
                invalid.append(f"{source}:{lineno}")
            continue
        line = normalize(raw)
        if not line:
            dropped["blank" if not raw.strip() else "invisible_only"] += 1
            continue
        n = len(line)
        if n < lo:
            dropped["too_short"] += 1
            continue
        if n > hi:
            dropped["too_long"] += 1
            continue
        if share > 0 and script_share(line, script) < share:
            dropped["low_script_share"] += 1
            continue
        if _PRIVATE_USE_RE.search(line):
            dropped["private_use"] += 1
            continue
        if cfg.dedupe:
            if line in seen:
                dropped["duplicate"] += 1
                continue
            seen.add(line)
        yield line


def build_corpus(inputs: list[Path] | None, cfg: CorpusConfig, output_dir: str | Path,
                 preset: str | None = None, progress: bool = False) -> dict:
    """Build a corpus directory from input files and/or a preset; returns the stats (also in stats.json).

    With a preset, its script replaces ``cfg.script``. ``progress`` shows a tqdm bar on stderr.
    """
    if not inputs and not preset:
        raise AksarError("no corpus input: give a preset or at least one input file")
    if preset:
        script = preset_script(preset)
        if script != cfg.script:
            cfg = CorpusConfig(**{**to_dict(cfg), "script": script})

    def records() -> Iterator[tuple[str, int, str | None]]:
        if preset:
            yield from preset_lines(preset)
        if inputs:
            yield from input_lines(inputs)

    check_inputs(inputs or [])  # a missing file fails before the (possibly long) preset is read

    start = time.perf_counter()
    read = 0

    def counted() -> Iterator[tuple[str, int, str | None]]:
        nonlocal read
        for rec in records():
            read += 1
            yield rec

    stream: Iterable = counted()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(stream, desc=f"corpus {preset or 'input'}", unit=" lines", mininterval=0.5,
                   dynamic_ncols=True)
        stream = bar

    dropped: Counter = Counter({r: 0 for r in DROP_REASONS})
    invalid: list[str] = []
    splits: dict[str, list[str]] = {s: [] for s in SPLITS}
    kept = 0
    truncated = False
    for line in filter_lines(stream, cfg, dropped, invalid):
        splits[split_of(line, cfg)].append(line)
        kept += 1
        if cfg.max_lines is not None and kept >= cfg.max_lines:
            truncated = True
            break
    if bar is not None:
        bar.close()
    if kept == 0:
        raise AksarError(
            f"empty corpus: no line was kept out of {read} read "
            f"(dropped: {', '.join(f'{k} {v}' for k, v in dropped.items() if v) or 'none'}); "
            f"check --script (now {cfg.script}) and the length/script-share filters"
        )

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, lines in splits.items():
        atomic_write_text(out / f"{name}.txt", "".join(line + "\n" for line in lines))
    all_lines = [line for name in SPLITS for line in splits[name]]
    charset = Charset.build(all_lines, extra=cfg.charset_extra, script=cfg.script)
    charset.save(out / "charset.txt")
    lengths = [len(line) for line in all_lines]
    stats = {
        "script": cfg.script,
        "preset": preset,
        "inputs": [str(p) for p in inputs or []],
        "config": to_dict(cfg),
        "lines_read": read,
        "kept": kept,
        "splits": {name: len(lines) for name, lines in splits.items()},
        "dropped": dict(dropped),
        "dropped_total": sum(dropped.values()),
        "invalid_utf8_locations": invalid,
        "stopped_at_max_lines": truncated,
        "length": {"min": min(lengths), "max": max(lengths), "mean": round(sum(lengths) / len(lengths), 2)},
        "charset_size": len(charset),
        "charset_fingerprint": charset.fingerprint(),
        "corpus_hash": corpus_hash(out),
        "seconds": round(time.perf_counter() - start, 2),
    }
    atomic_write_json(out / "stats.json", stats)
    return stats


def read_split(corpus_dir: str | Path, split: str) -> list[str]:
    """The lines of ``corpus_dir/<split>.txt`` (AksarError naming the path if it is missing)."""
    if split not in SPLITS:
        raise AksarError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    path = Path(corpus_dir) / f"{split}.txt"
    if not path.is_file():
        raise AksarError(f"corpus split not found: {path} (build it with `aksar corpus build`)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AksarError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    return [line for line in text.split("\n") if line]


def read_stats(corpus_dir: str | Path) -> dict:
    """The stats.json of a corpus directory."""
    path = Path(corpus_dir) / "stats.json"
    if not path.is_file():
        raise AksarError(f"corpus stats not found: {path} (build the corpus with `aksar corpus build`)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AksarError(f"{path}: invalid JSON ({exc})") from None


def corpus_script(corpus_dir: str | Path) -> str:
    """The script recorded in ``corpus_dir/stats.json``."""
    stats = read_stats(corpus_dir)
    script = stats.get("script")
    if not isinstance(script, str):
        raise AksarError(f"{Path(corpus_dir) / 'stats.json'}: no 'script' key")
    return get_script(script).name


def corpus_hash(corpus_dir: str | Path) -> str:
    """sha256 (hex) over the three split files (names and bytes): equal corpora, equal hashes."""
    h = hashlib.sha256()
    for name in SPLITS:
        path = Path(corpus_dir) / f"{name}.txt"
        if not path.is_file():
            raise AksarError(f"corpus split not found: {path}")
        data = path.read_bytes()
        h.update(f"{name}.txt\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


__all__ = ["CorpusConfig", "build_corpus", "filter_lines", "check_inputs", "input_lines", "split_of", "read_split",
           "read_stats", "corpus_script", "corpus_hash", "SPLITS", "DROP_REASONS"]
