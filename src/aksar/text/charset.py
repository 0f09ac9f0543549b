"""The token set of a recognizer, stored as a PaddleOCR-compatible dictionary file.

File format: UTF-8, one token per line, token id = 0-based line position; a line holding one space
is the space token; tokens may be several code points (matched longest first by ``tokenize``).
"""
from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_text, sha256_bytes
from aksar.text.scripts import get_script

# Named extra token sets for Charset.build.
EXTRA_SETS: dict[str, str] = {
    "digits": string.digits,
    "latin": string.ascii_letters,
    "punct": string.punctuation + " ",
}


def extra_tokens(name: str, script: str | None = None) -> str:
    """The characters of an extra set; ``digits`` also gives the script's own digits."""
    try:
        chars = EXTRA_SETS[name]
    except KeyError:
        raise AksarError(f"unknown charset extra {name!r}; known: {', '.join(EXTRA_SETS)}") from None
    if name == "digits" and script:
        chars += get_script(script).digits
    return chars


def describe_char(ch: str) -> str:
    """``U+17D2 KHMER SIGN COENG`` style description of a token."""
    codes = " ".join(f"U+{ord(c):04X}" for c in ch)
    names = " + ".join(unicodedata.name(c, "?") for c in ch)
    return f"{codes} {names}"


class Charset:
    """An ordered set of unique, non-empty tokens; a token's id is its position."""

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        seen: dict[str, int] = {}
        for i, tok in enumerate(tokens):
            if not isinstance(tok, str) or not tok:
                raise AksarError(f"charset token {i}: empty or not a string: {tok!r}")
            if "\n" in tok or "\r" in tok:
                raise AksarError(f"charset token {i}: contains a line break: {tok!r}")
            if tok in seen:
                raise AksarError(f"charset token {i}: duplicate of token {seen[tok]} ({describe_char(tok)})")
            seen[tok] = i
        self._tokens = tuple(tokens)
        self._index = seen
        multi = sorted((t for t in tokens if len(t) > 1), key=len, reverse=True)
        self._multi_re = (
            re.compile("|".join(map(re.escape, multi)) + "|.", re.S) if multi else None
        )

    # --- basic container protocol -------------------------------------------------------------
    @property
    def tokens(self) -> tuple[str, ...]:
        return self._tokens

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __iter__(self):
        return iter(self._tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Charset) and other._tokens == self._tokens

    def __hash__(self) -> int:
        return hash(self._tokens)

    def __repr__(self) -> str:
        return f"Charset({len(self)} tokens, {self.fingerprint()[:12]})"

    def index(self, token: str) -> int:
        return self._index[token]

    # --- files --------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Charset":
        """Read a dictionary file (errors name ``file:line``)."""
        path = Path(path)
        if not path.is_file():
            raise AksarError(f"charset file not found: {path}")
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise AksarError(f"{path}:{line}: charset file is not valid UTF-8") from None
        if text.startswith("\ufeff"):
            text = text[1:]
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        tokens: list[str] = []
        seen: dict[str, int] = {}
        for lineno, line in enumerate(lines, 1):
            tok = line[:-1] if line.endswith("\r") else line
            if not tok:
                raise AksarError(f"{path}:{lineno}: empty line in charset file (the space token is a line "
                                 "holding one space)")
            if tok in seen:
                raise AksarError(f"{path}:{lineno}: duplicate token {tok!r} (first on line {seen[tok]})")
            seen[tok] = lineno
            tokens.append(tok)
        if not tokens:
            raise AksarError(f"{path}: charset file has no tokens")
        return cls(tokens)

    def save(self, path: str | Path) -> None:
        """Write the dictionary file (one token per line, atomically)."""
        atomic_write_text(path, "".join(t + "\n" for t in self._tokens))

    @classmethod
    def build(cls, texts: Iterable[str], extra: Sequence[str] = ("digits", "latin", "punct"),
              min_count: int = 1, script: str | None = None) -> "Charset":
        """Every character of ``texts`` seen at least ``min_count`` times, plus the ``extra`` sets.

        Tokens are single code points sorted by code point, so the same inputs give the same file.
        ``script`` adds that script's digits to the ``digits`` set.
        """
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(text)
        chars = {c for c, n in counts.items() if n >= min_count}
        for name in extra:
            chars.update(extra_tokens(name, script))
        chars -= {"\n", "\r"}
        if not chars:
            raise AksarError("cannot build a charset from empty text")
        return cls(sorted(chars))

    # --- text <-> ids -------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into tokens, longest match first; unknown characters come out alone."""
        if self._multi_re is None:
            return list(text)
        return self._multi_re.findall(text)

    def unknown(self, text: str) -> list[str]:
        """The characters of ``text`` not covered by the charset (each once, in order of appearance)."""
        return list(dict.fromkeys(t for t in self.tokenize(text) if t not in self._index))

    def encode(self, text: str, on_unknown: str = "error") -> list[int]:
        """Token ids of ``text``; unknown characters raise AksarError (``"error"``) or are dropped (``"skip"``)."""
        if on_unknown not in ("error", "skip"):
            raise ValueError(f"on_unknown must be 'error' or 'skip', got {on_unknown!r}")
        ids = []
        index = self._index
        for tok in self.tokenize(text):
            i = index.get(tok)
            if i is None:
                if on_unknown == "error":
                    missing = ", ".join(describe_char(c) for c in self.unknown(text))
                    raise AksarError(f"text {text[:40]!r} has characters missing from the charset: {missing}")
                continue
            ids.append(i)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The text of token ids (AksarError for an id outside the charset)."""
        ids = [int(i) for i in ids]
        tokens = self._tokens
        bad = [i for i in ids if not 0 <= i < len(tokens)]
        if bad:
            raise AksarError(f"token ids outside the charset of {len(tokens)} tokens: {bad[:10]}")
        return "".join(tokens[i] for i in ids)

    def fingerprint(self) -> str:
        """sha256 (hex) of the token list; equal charsets give equal fingerprints."""
        return sha256_bytes("\n".join(self._tokens).encode("utf-8"))


def audit_charset(texts: Iterable[str], charset: Charset) -> dict:
    """Characters of ``texts`` missing from ``charset``, with counts.

    Returns ``{"lines", "chars", "lines_with_missing", "missing_chars", "missing": [{"char",
    "codepoints", "name", "count", "lines"}, ...]}`` sorted by count, most frequent first.
    """
    counts: Counter[str] = Counter()
    line_counts: Counter[str] = Counter()
    n_lines = n_chars = bad_lines = 0
    for text in texts:
        n_lines += 1
        toks = charset.tokenize(text)
        n_chars += len(toks)
        missing = [t for t in toks if t not in charset]
        if missing:
            bad_lines += 1
            counts.update(missing)
            line_counts.update(set(missing))
    return {
        "lines": n_lines,
        "chars": n_chars,
        "lines_with_missing": bad_lines,
        "missing_chars": sum(counts.values()),
        "missing": [
            {"char": c, "codepoints": " ".join(f"U+{ord(x):04X}" for x in c),
             "name": " + ".join(unicodedata.name(x, "?") for x in c), "count": n, "lines": line_counts[c]}
            for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }


__all__ = ["Charset", "audit_charset", "EXTRA_SETS", "extra_tokens", "describe_char"]
