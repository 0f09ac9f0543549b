"""Grapheme clusters: the units of grapheme-level error rates.

Each registered script with a ``cluster`` pattern defines its own clusters (Khmer: a base, its
subscripts and its vowels and signs; Thai and Lao: a consonant with its marks and a following SARA AM;
Myanmar: a base with its stacks, medials, vowels and signs; see each script's module). Anything else:
Unicode extended grapheme clusters.
"""
from __future__ import annotations

from functools import lru_cache

import regex

from aksar.text.scripts.base import SCRIPTS, generation


@lru_cache(maxsize=4)
def _cluster_re(_generation: int) -> regex.Pattern:
    patterns = [s.cluster for s in SCRIPTS.values() if s.cluster]
    return regex.compile("|".join([*patterns, "\\X"]), regex.V1)


def clusters(text: str) -> list[str]:
    """``text`` split into grapheme clusters; ``"".join(clusters(t)) == t``."""
    return _cluster_re(generation()).findall(text)


__all__ = ["clusters"]
