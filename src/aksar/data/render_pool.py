"""Rendering text lines to PNG bytes in worker processes: the pool ``generate``, ``valset`` and
``evalset`` share.

Each sample is keyed (``rng_for(seed, *key_prefix, ident)``), so its bytes do not depend on the number
of workers or on the order results arrive in.
"""
from __future__ import annotations

import io
import multiprocessing as mp
from typing import Any, Iterator

import numpy as np

from aksar.core.rng import rng_for

CHUNK = 16  # samples per worker task


def default_synth() -> Any:
    from aksar.render.synth import SynthConfig

    return SynthConfig()




def encode_png(img: np.ndarray) -> bytes:
    """Deterministic PNG bytes of a uint8 grayscale image (fixed settings, no timestamps)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8), mode="L").save(
        buf, format="PNG", compress_level=6, optimize=False)
    return buf.getvalue()


def jsonable(obj: Any) -> Any:
    """Plain JSON data from augmentation records (numpy scalars/arrays, tuples)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


_WORKER: dict[str, Any] = {}


def _init_worker(script: str, synth_cfg: Any) -> None:
    from aksar.render.image_ops import one_thread_per_worker
    from aksar.render.synth import Synthesizer

    one_thread_per_worker()
    _WORKER["synth"] = Synthesizer(script, synth_cfg)


def _render_one(key: tuple, text: str, seed: int, font_policy: str, augment: bool,
                ) -> tuple[bytes, dict] | None:
    synth = _WORKER["synth"]
    sample = synth.synthesize(text, rng_for(seed, *key), font_policy=font_policy, augment=augment)
    if sample is None:
        return None
    h, w = sample.image.shape[:2]
    meta = {"text": sample.text, "font": sample.font, "width": int(w), "height": int(h),
            "augment": jsonable(sample.augment)}
    return encode_png(sample.image), meta


def _render_chunk(task: tuple) -> list[tuple[Any, tuple[bytes, dict] | None]]:
    key_prefix, seed, font_policy, augment, items = task
    return [(ident, _render_one((*key_prefix, ident), text, seed, font_policy, augment)) for ident, text in items]


def process_pool(workers: int, initializer: Any, initargs: tuple) -> Any:
    """A multiprocessing pool of render workers (fork where the platform has it), OpenCV kept to one thread
    in the parent before the fork and in each worker (``one_thread_per_worker``)."""
    from aksar.render.image_ops import one_thread_per_worker

    one_thread_per_worker()
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    return mp.get_context(method).Pool(workers, initializer=initializer, initargs=initargs)


class RenderPool:
    """Renders ``(ident, text)`` items with a Synthesizer per worker process (or in-process)."""

    def __init__(self, script: str, synth_cfg: Any, workers: int) -> None:
        self.workers = workers
        self.pool = None
        if workers > 0:
            self.pool = process_pool(workers, _init_worker, (script, synth_cfg))
        else:
            _init_worker(script, synth_cfg)

    def render(self, key_prefix: tuple, seed: int, font_policy: str, augment: bool,
               items: list[tuple[Any, str]], ordered: bool = False,
               ) -> Iterator[tuple[Any, tuple[bytes, dict] | None]]:
        tasks = [(key_prefix, seed, font_policy, augment, items[i:i + CHUNK]) for i in range(0, len(items), CHUNK)]
        if self.pool is None:
            for t in tasks:
                yield from _render_chunk(t)
            return
        mapper = self.pool.imap if ordered else self.pool.imap_unordered
        for results in mapper(_render_chunk, tasks):
            yield from results

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def __enter__(self) -> "RenderPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def synth_fonts(script: str, synth_cfg: Any) -> list[str]:
    """Names of the fonts the synthesizer will use (for metadata)."""
    from aksar.render.synth import Synthesizer

    return [f.name for f in Synthesizer(script, synth_cfg).fonts]


def progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", dynamic_ncols=True, smoothing=0.1, mininterval=0.5)


def resolve_workers(workers: int | None) -> int:
    from aksar.data.onthefly import worker_count

    return worker_count(workers)
