"""Training text beyond the corpus's sentences, so a model learns the script rather than the corpus.

``DomainText(script, lines, allowed=None, max_length=None).generate(kind, rng)`` draws one line of:

- ``random_clusters``: orthographic clusters built from the script's cluster grammar (base, subscripts,
  vowels, signs in canonical order), grouped into pseudo-words: shapes cleanly, means nothing;
- ``numbers``: dates, prices, phone numbers, percentages, times, reference numbers, in the script's
  digits or Latin digits, between a few corpus words;
- ``mixed``: technical/legal-looking lines: section numbers, corpus words, Latin tokens, punctuation;
- ``shuffled``: corpus words (or cluster runs, for lines without spaces) of a few lines, reshuffled.

Everything is drawn from the Generator passed in (deterministic for a seed) and normalised like corpus
text. ``allowed``: the characters a line may use (a charset); inventories are filtered by it up front, so
no line holds a character the model cannot output. Translation catalogs and iso-codes are not used (they
are the held-out evaluation domain).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from aksar.core.errors import AksarError
from aksar.text.graphemes import clusters
from aksar.text.normalize import normalize
from aksar.text.scripts import SCRIPTS, get_script

KINDS = ("corpus", "random_clusters", "numbers", "mixed", "shuffled")


_LATIN_TOKENS = ("ID No. PDF USB Wi-Fi GPS COVID-19 ISO 9001 HTTP Email: Tel: Fax: Ref. Art. Sec. Vol. pp. "
                 "etc. e.g. CPU RAM GB MB API SMS ATM VAT Ltd. Co. Inc. ASEAN UNDP WHO km kg cm mm Annex A B C "
                 "Page Form Version v2.1 OK N/A Total Code Box Ltd Dr. Mr. Mrs. Prof. Fig. Table").split()
_PUNCT = ["(", ")", ",", ";", ":", "-", "/", "\"", "'", ".", "?", "!", "«", "»", "–", "[", "]"]


def check_text_mix(mix: dict[str, float] | None) -> dict[str, float]:
    """The mix (default: corpus only) without zero weights; AksarError naming ``data.text_mix`` if invalid."""
    mix = dict(mix or {"corpus": 1.0})
    unknown = set(mix) - set(KINDS)
    if unknown:
        raise AksarError(f"data.text_mix: unknown text domain(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(KINDS)}")
    if any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise AksarError(f"data.text_mix: weights must be >= 0 with a positive sum, got {mix}")
    return {k: float(w) for k, w in mix.items() if w > 0}


class DomainText:
    """Seeded line generators of several text domains for one script (see module docstring)."""

    def __init__(self, script: str, lines: Sequence[str], allowed: Iterable[str] | None = None,
                 max_length: int | None = None) -> None:
        self.info = get_script(script)
        if self.info.random_cluster is None or self.info.words is None:
            known = sorted(n for n, s in SCRIPTS.items() if s.random_cluster and s.words)
            raise AksarError(f"text domains: no cluster grammar for script {script!r} ({', '.join(known)})")
        self.script = script
        self.lines = list(lines)
        self.max_length = max_length
        self.allowed = set(allowed) if allowed is not None else None
        self._words: list[str] | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_words"] = None
        return state

    # -- inventories -------------------------------------------------------------------------------
    def ok(self, text: str) -> bool:
        return self.allowed is None or all(c in self.allowed or c == " " for c in text)

    def _pick(self, rng: np.random.Generator, items: Sequence[str]) -> str:
        items = [t for t in items if self.ok(t)] or [""]
        return items[int(rng.integers(len(items)))]

    @property
    def words(self) -> list[str]:
        """Corpus words (lines without spaces: runs of 2-6 clusters), from up to 20,000 lines."""
        if self._words is None:
            step = max(1, len(self.lines) // 20000)
            words: list[str] = []
            for i, line in enumerate(self.lines[::step]):
                parts = line.split()
                if len(parts) < 3:
                    cl = clusters(line.replace(" ", ""))
                    parts, k = [], 0
                    while k < len(cl):
                        n = 2 + (i + k) % 5
                        parts.append("".join(cl[k:k + n]))
                        k += n
                words.extend(p for p in parts if self.ok(p))
            self._words = words or [self.info.sample]
        return self._words

    def _word(self, rng: np.random.Generator) -> str:
        return self.words[int(rng.integers(len(self.words)))]

    def _digits(self, rng: np.random.Generator, number: str, native: bool) -> str:
        if native and self.info.digits:
            number = number.translate(str.maketrans("0123456789", self.info.digits))
        return number if self.ok(number) else number.translate(str.maketrans(self.info.digits, "0123456789"))

    # -- generators --------------------------------------------------------------------------------
    def generate(self, kind: str, rng: np.random.Generator) -> str:
        """One normalised line of ``kind`` (``corpus`` is not generated here)."""
        gen = {"random_clusters": self._random_clusters, "numbers": self._numbers, "mixed": self._mixed,
               "shuffled": self._shuffled}.get(kind)
        if gen is None:
            raise AksarError(f"text_mix: unknown text domain {kind!r}; known: {', '.join(KINDS)}")
        limit = self.max_length or 80
        target = int(rng.integers(max(4, limit // 4), limit + 1))
        parts: list[str] = []
        length = 0
        for _ in range(200):  # parts filtered out by ``allowed`` come back empty
            if length >= target:
                break
            part = gen(rng)
            if not part or not self.ok(part):  # a template word or symbol outside ``allowed``
                continue
            if parts and length + 1 + len(part) > limit:
                break
            parts.append(part)
            length += len(part) + (len(parts) > 1)
        text = normalize(" ".join(parts), self.script)
        if len(text) > limit:  # one part longer than the limit: cut at a cluster boundary
            out = ""
            for cl in clusters(text):
                if len(out) + len(cl) > limit:
                    break
                out += cl
            text = out.strip()
        return text

    def _cluster(self, rng: np.random.Generator) -> str:
        out = self.info.random_cluster(self._pick, rng)
        return out if self.ok(out) else ""

    def _random_clusters(self, rng: np.random.Generator) -> str:
        return "".join(self._cluster(rng) for _ in range(int(rng.integers(1, 6))))

    def _number(self, rng: np.random.Generator) -> str:
        w = self.info.words
        native = bool(rng.random() < 0.5)
        kind = int(rng.integers(7))
        d = lambda s: self._digits(rng, s, native)  # noqa: E731
        if kind == 0:
            day, month, year = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(1950, 2040))
            if w.era_offset and rng.random() < 0.5:
                year += w.era_offset
            if rng.random() < 0.5:
                return d(f"{day:02d}/{month:02d}/{year}")
            return f"{w.date[0]}{d(str(day))} {w.date[1]}{w.months[month - 1]} {w.date[2]}{d(str(year))}"
        if kind == 1:
            value = int(rng.integers(1, 10 ** int(rng.integers(2, 8))))
            amount = f"{value:,}" + (f".{int(rng.integers(100)):02d}" if rng.random() < 0.4 else "")
            cur = self._pick(rng, w.currency)
            return f"{w.price} {d(amount)} {cur}".strip()
        if kind == 2:
            code = w.phone_code
            if rng.random() < 0.5:
                num = f"0{int(rng.integers(10, 99))} {int(rng.integers(100, 999))} {int(rng.integers(1000, 9999))}"
            else:
                num = f"{code} {int(rng.integers(10, 99))}-{int(rng.integers(100, 999))}-{int(rng.integers(100, 999))}"
            return f"{w.phone} {d(num)}"
        if kind == 3:
            pct = f"{rng.uniform(0, 100):.{int(rng.integers(0, 3))}f}"
            return d(pct) + ("%" if rng.random() < 0.7 and self.ok("%") else f" {w.percent}")
        if kind == 4:
            return f"{w.time} {d(f'{int(rng.integers(0, 24))}:{int(rng.integers(0, 60)):02d}')}"
        if kind == 5:
            return f"{w.number} {d(f'{int(rng.integers(1, 9999))}/{int(rng.integers(1990, 2040))}')}"
        return d(str(int(rng.integers(0, 10 ** int(rng.integers(1, 7))))))

    def _numbers(self, rng: np.random.Generator) -> str:
        part = self._number(rng)
        return part if rng.random() < 0.7 else f"{self._word(rng)} {part}"

    def _mixed(self, rng: np.random.Generator) -> str:
        u = rng.random()
        if u < 0.15:  # a section number
            w = self.info.words
            nums = ".".join(str(int(rng.integers(1, 30))) for _ in range(int(rng.integers(1, 4))))
            sec = self._pick(rng, w.section) + " " if rng.random() < 0.5 else ""
            return sec + self._digits(rng, nums, bool(rng.random() < 0.4)) + self._pick(rng, [".", ":", ")"])
        if u < 0.45:
            token = self._pick(rng, _LATIN_TOKENS)
            if rng.random() < 0.3:
                token = f"{token}-{int(rng.integers(1, 999))}"
            return token
        if u < 0.6:
            p = self._pick(rng, _PUNCT)
            if p and p in "([«\"'":
                close = {"(": ")", "[": "]", "«": "»", "\"": "\"", "'": "'"}[p]
                return f"{p}{self._word(rng)}{close}" if self.ok(close) else self._word(rng)
            return self._word(rng) + p
        return self._word(rng)

    def _shuffled(self, rng: np.random.Generator) -> str:
        return self._word(rng)


__all__ = ["DomainText", "KINDS", "check_text_mix"]
