"""Character n-gram language model for CTC beam search (shallow fusion), built from a corpus.

Interpolated Witten-Bell smoothing over code points, with a line-start context:

    P(w | h) = (c(h w) + T(h) P(w | h')) / (c(h) + T(h))     (h' = h without its first character)

where ``c(h)`` counts the characters seen after ``h`` and ``T(h)`` the distinct ones; the lowest order
interpolates with a uniform distribution over the vocabulary plus one unknown character, so no
character has zero probability. Higher-order n-grams (and their contexts) seen fewer than
``min_count`` times are pruned, and the context counts are taken after pruning, so a pruned
continuation is scored by the lower orders and every distribution still sums to one.

Stored as gzipped JSON (``aksar lm build``), read back without pickle. Version 2 keeps the n-grams of each
length as one string (the keys side by side, cut back at that length) beside a list of counts, which
loads about twice as fast as version 1's one JSON object per n-gram (still read).

``CharLM.scorer(charset, weight, bonus)`` gives the callable that ``ctc_prefix_beam_search`` adds to
a prefix's log score each time a token is appended: ``weight * log P(token | prefix) + bonus``.
"""
from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_bytes

FORMAT = "aksar-charlm"
BOS = "\n"  # line start (lines never contain a newline)


class CharLM:
    """An interpolated Witten-Bell character n-gram model (see module doc)."""

    def __init__(self, order: int, grams: dict[str, int], contexts: dict[str, tuple[int, int]],
                 vocab: Sequence[str]) -> None:
        self.order = order
        self.grams = grams
        self.contexts = contexts
        self.vocab = sorted(vocab)
        self._uniform = 1.0 / (len(self.vocab) + 1)

    # -- building ------------------------------------------------------------------------------------
    @classmethod
    def build(cls, lines: Iterable[str], order: int = 5, min_count: int = 2) -> "CharLM":
        """Count n-grams of orders 1..``order`` over ``lines`` (each starts with a line-start context)."""
        if order < 1:
            raise AksarError(f"order: must be >= 1, got {order}")
        if min_count < 1:
            raise AksarError(f"min_count: must be >= 1, got {min_count}")
        counts: Counter[str] = Counter()
        for line in lines:
            line = line.rstrip("\n")
            if not line:
                continue
            padded = BOS * (order - 1) + line
            for n in range(1, order + 1):
                start = order - n  # n-grams whose last character is a real one
                counts.update(padded[i:i + n] for i in range(start, len(padded) - n + 1))
        if not counts:
            raise AksarError("no text to build a language model from")
        grams = {g: c for g, c in counts.items() if len(g) <= 2 or c >= min_count}
        totals: Counter[str] = Counter()
        types: Counter[str] = Counter()
        for gram, c in grams.items():
            totals[gram[:-1]] += c
            types[gram[:-1]] += 1
        contexts = {h: (totals[h], types[h]) for h in totals}
        vocab = [g for g in grams if len(g) == 1]
        return cls(order, grams, contexts, vocab)

    # -- scoring -------------------------------------------------------------------------------------
    def logp(self, context: str, char: str) -> float:
        """Natural log of P(``char`` | the last ``order - 1`` characters of BOS-padded ``context``)."""
        n = self.order - 1
        h = (BOS * n + context[-n:])[-n:] if n else ""
        return math.log(self._prob(h, char))

    def _prob(self, h: str, w: str) -> float:
        p = self._uniform
        for k in range(len(h) + 1):  # lowest order first: "" then the longer suffixes of h
            ctx = h[len(h) - k:] if k else ""
            total_types = self.contexts.get(ctx)
            if total_types is None:
                break  # a longer context was pruned or never seen: keep the lower-order estimate
            total, types = total_types
            p = (self.grams.get(ctx + w, 0) + types * p) / (total + types)
        return p

    def line_logp(self, text: str) -> float:
        """Log probability of a whole line (sum over its characters)."""
        return sum(self.logp(text[:i], ch) for i, ch in enumerate(text))

    def scorer(self, charset: Sequence[str], weight: float, bonus: float = 0.0) -> "LMScore":
        """``f(prefix_ids, token_id) -> weight * log P(token | prefix) + bonus`` over charset ids."""
        return LMScore(self, list(charset), weight, bonus)

    # -- storage -------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the model as version 2 (see module doc); the same model always gives the same bytes."""
        data = {"format": FORMAT, "version": 2, "order": self.order, "vocab": self.vocab,
                "grams": _by_length({g: (c,) for g, c in self.grams.items()}, ("counts",)),
                "contexts": _by_length(self.contexts, ("totals", "types"))}
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
        atomic_write_bytes(Path(path), gzip.compress(raw, mtime=0))

    @classmethod
    def load(cls, path: str | Path) -> "CharLM":
        path = Path(path)
        try:
            data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
        except FileNotFoundError:
            raise AksarError(f"{path}: language model not found") from None
        except (OSError, EOFError, ValueError) as exc:
            raise AksarError(f"{path}: not an aksar language model ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AksarError(f"{path}: not an aksar language model (format is not {FORMAT!r})")
        version = data.get("version")
        if version not in (1, 2):
            raise AksarError(f"{path}: language model version {version!r}; this aksar reads versions 1 and 2")
        try:
            if version == 1:
                grams = {g: int(c) for g, c in data["grams"].items()}
                contexts = {h: (int(v[0]), int(v[1])) for h, v in data["contexts"].items()}
            else:
                grams, contexts = {}, {}
                for keys, (counts,) in _from_length(data["grams"], ("counts",)):
                    grams.update(zip(keys, counts))
                for keys, (totals, types) in _from_length(data["contexts"], ("totals", "types")):
                    contexts.update(zip(keys, zip(totals, types)))
            return cls(int(data["order"]), grams, contexts, list(data["vocab"]))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise AksarError(f"{path}: malformed language model ({exc!r})") from None


def _by_length(table: dict[str, tuple[int, ...]], fields: tuple[str, ...]) -> dict[str, dict]:
    """``{key: values}`` as ``{str(len): {"keys": the keys of that length joined, field: [values]}}``."""
    groups: dict[int, list[str]] = {}
    for key in sorted(table):
        groups.setdefault(len(key), []).append(key)
    return {str(n): {"keys": "".join(keys), **{f: [table[k][i] for k in keys] for i, f in enumerate(fields)}}
            for n, keys in groups.items()}


def _from_length(groups: dict[str, dict], fields: tuple[str, ...]) -> Iterator[tuple[list[str], list[list[int]]]]:
    """The inverse of :func:`_by_length`: each group's keys and value lists; ValueError when they disagree."""
    for length, group in groups.items():
        n, joined = int(length), group["keys"]
        values = [group[f] for f in fields]
        count = len(values[0])
        if not isinstance(joined, str) or n < 0 or len(joined) != n * count or any(len(v) != count for v in values):
            raise ValueError(f"n-grams of length {length}: {len(joined)} key characters for {count} entries")
        if any(type(x) is not int for v in values for x in v):
            raise ValueError(f"n-grams of length {length}: counts must be integers")
        yield ([joined[i:i + n] for i in range(0, len(joined), n)] if n else [""] * count), values


SCORE_CACHE_ENTRIES = 2_000_000  # LMScore's cache stops growing here: about 400 MB of (tail, token) keys


class LMScore:
    """The fusion term of a CharLM over charset ids, cached per (trailing ids, token) (the one cache of
    LM scores). ``context``: how many trailing ids of a prefix it reads (the decoder passes only those)."""

    def __init__(self, lm: CharLM, charset: list[str], weight: float, bonus: float) -> None:
        self.lm, self.charset, self.weight, self.bonus = lm, charset, weight, bonus
        self.context = max(0, lm.order - 1)
        self.max_term = bonus if weight >= 0 else math.inf  # log P <= 0: the largest term it can give
        self._cache: dict[tuple[tuple[int, ...], int], float] = {}

    def __call__(self, prefix: tuple[int, ...], token: int) -> float:
        tail = prefix[-self.context:] if self.context else ()
        key = (tail, token)
        cached = self._cache.get(key)
        if cached is None:
            context = "".join(self.charset[i] for i in tail)
            total = 0.0
            for ch in self.charset[token]:
                total += self.lm.logp(context, ch)
                context += ch
            cached = self.weight * total + self.bonus
            if len(self._cache) < SCORE_CACHE_ENTRIES:
                self._cache[key] = cached
        return cached


__all__ = ["CharLM", "LMScore", "SCORE_CACHE_ENTRIES"]
