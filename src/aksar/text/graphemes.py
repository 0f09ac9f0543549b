"""Grapheme clusters for Khmer and Thai (the units of grapheme-level error rates).

- Khmer: a base (consonant or independent vowel), its subscripts (COENG + consonant, any number),
  then its dependent vowels and signs. Pre-base vowels are stored after the consonant and belong to
  its cluster, although they are drawn to its left.
- Thai: a consonant with its above/below vowels, tone marks and other signs; a following SARA AM
  (U+0E33) joins it. Leading vowels (U+0E40-U+0E44) and following spacing vowels (SARA A, SARA AA,
  LAKKHANGYAO) are clusters of their own.
- Anything else: Unicode extended grapheme clusters.
"""
from __future__ import annotations

import regex

_KHMER = "[\u1780-\u17b3](?:\u17d2[\u1780-\u17b3]?|[\u17b6-\u17d1\u17d3\u17dd\u200c\u200d])*"
_THAI = "[\u0e01-\u0e2e](?:[\u0e31\u0e34-\u0e3a\u0e47-\u0e4e])*\u0e33?"
_CLUSTER_RE = regex.compile(f"{_KHMER}|{_THAI}|\\X", regex.V1)


def clusters(text: str) -> list[str]:
    """``text`` split into grapheme clusters; ``"".join(clusters(t)) == t``."""
    return _CLUSTER_RE.findall(text)


__all__ = ["clusters"]
