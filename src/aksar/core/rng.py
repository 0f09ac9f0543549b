"""Deterministic random streams keyed by (seed, names and numbers).

Every random decision in aksar draws from ``rng_for(seed, ...)`` with a key that says what it is for,
e.g. ``rng_for(42, "train", index)`` or ``rng_for(seed, "epoch", epoch, "sample", index)``, so a result
depends only on its key, never on worker count, process or call order.
"""
from __future__ import annotations

import numpy as np

from aksar.core.io import stable_hash


def _entropy(part: int | str) -> int:
    if isinstance(part, bool):
        return int(part)
    if isinstance(part, int):
        return part & 0xFFFFFFFFFFFFFFFF
    return stable_hash(str(part))


def rng_for(seed: int, *key: int | str) -> np.random.Generator:
    """A numpy Generator determined only by ``seed`` and ``key``."""
    return np.random.default_rng(np.random.SeedSequence([_entropy(seed), *(_entropy(k) for k in key)]))


def seed_int(seed: int, *key: int | str) -> int:
    """A 63-bit integer seed derived from ``seed`` and ``key`` (for torch/random)."""
    return int(rng_for(seed, *key).integers(0, 2**63 - 1))


def weighted_choice(weights: "dict[str, float]", rng: np.random.Generator) -> str:
    """A key of ``weights`` drawn with probability proportional to its value (one uniform draw)."""
    u = rng.random() * sum(weights.values())
    for key, w in weights.items():
        u -= w
        if u < 0:
            return key
    return next(k for k, w in reversed(weights.items()) if w > 0)
