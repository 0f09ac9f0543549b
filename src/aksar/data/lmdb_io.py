"""Write datasets to LMDB in the PaddleOCR / PARSeq layout (``aksar dataset to-lmdb SRC OUT``).

Keys: ``image-%09d`` (the encoded image file's bytes), ``label-%09d`` (UTF-8 text), both 1-based, and
``num-samples``. Image bytes are copied as they are (no re-encoding) after a full decode check; items
that cannot be read are skipped and counted, so the LMDB holds only usable samples.
"""
from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

from aksar.core.errors import AksarError
from aksar.data.readers import LMDB_NUM_KEY, BadImage, decode_image

log = logging.getLogger(__name__)

COMMIT_EVERY = 1000


def _raw_items(dataset: Any) -> Iterator[tuple[str, Callable[[], tuple[bytes, str]]]]:
    """(where, load -> (image bytes, label)) of every item: a reader dataset by index, tar shards in order
    (their incomplete samples are counted in the stream's ``errors``)."""
    if hasattr(dataset, "raw_in_order"):
        for item in dataset.raw_in_order():
            if item is not None:
                yield item[0], (lambda item=item: (item[1], item[2]))
        return
    for i in range(len(dataset)):
        yield f"item {i}", (lambda i=i: dataset.raw(i))


def write_lmdb(dataset: Any, out_path: str | os.PathLike | Path, *, show_progress: bool = True) -> dict:
    """Copy a reader dataset (``.raw(i) -> (bytes, text)``) or tar shards into a new LMDB folder ``out_path``.

    Written to ``OUT.partial`` and renamed at the end, so ``OUT`` is never half-written.
    Returns ``{"written", "skipped": {reason: count}, "problems": [...]}``.
    """
    import lmdb
    from tqdm import tqdm

    out = Path(out_path)
    if out.exists():
        raise AksarError(f"{out} already exists; choose a new output folder")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    map_size = 1 << 30
    env = lmdb.open(str(tmp), map_size=map_size, subdir=True, lock=True)
    skipped: Counter = Counter()
    problems: list[str] = []
    written = 0
    pending: list[tuple[bytes, bytes]] = []

    def flush() -> None:
        nonlocal map_size
        while True:
            try:
                with env.begin(write=True) as txn:
                    for k, v in pending:
                        txn.put(k, v)
                    txn.put(LMDB_NUM_KEY, str(written).encode())
                break
            except lmdb.MapFullError:
                map_size *= 2
                env.set_mapsize(map_size)
        pending.clear()

    try:
        total = getattr(dataset, "num_samples", None) or len(dataset)
        for where, load in tqdm(_raw_items(dataset), total=total, desc="to-lmdb", unit="img",
                                disable=not show_progress):
            try:
                data, text = load()
                decode_image(data, dataset.max_pixels)
            except BadImage as exc:
                skipped[exc.reason] += 1
                problems.append(f"{where}: {exc}")
                continue
            except (OSError, UnicodeDecodeError) as exc:
                skipped["unreadable"] += 1
                problems.append(f"{where}: {exc}")
                continue
            if not text:
                skipped["empty_label"] += 1
                problems.append(f"{where}: empty label")
                continue
            written += 1
            pending.append((b"image-%09d" % written, data))
            pending.append((b"label-%09d" % written, text.encode("utf-8")))
            if len(pending) >= 2 * COMMIT_EVERY:
                flush()
        flush()
    finally:
        env.close()
    tmp.rename(out)
    for p in problems[:20]:
        log.warning("skipped %s", p)
    errors = getattr(dataset, "errors", Counter())
    return {"output": str(out), "written": written, "skipped": dict(skipped + errors),
            "problems": list(getattr(dataset, "problems", [])) + problems}


__all__ = ["write_lmdb"]
