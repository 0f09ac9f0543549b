"""Valid orthography: turn any decoded string into one that shapes without a dotted circle.

``valid_orthography(text, script=None, confidences=None) -> (text, repaired)`` is THE post-processing
of every prediction (``Recognizer``, ``aksar eval`` and validation during training): the text is
``normalize``d and every cluster a shaper would draw on a dotted circle is repaired, by the ``repair``
hook of each registered script whose characters it holds (Khmer: HarfBuzz's Khmer syllable grammar;
Thai and Lao: one vowel mark, then one tone mark or sign, per consonant; Myanmar: HarfBuzz's syllable
order; see each script's module and ``aksar.text.scripts.repair``).

Marks are first put in canonical order; a mark that still does not fit its cluster is dropped,
keeping the most likely reading: with per-character ``confidences`` (aligned with ``text``) the
marks are admitted most confident first, else in reading order (the first one stays). Marks with no
base (line start, after a space, after another script's letter) and COENG without a consonant are
dropped. ``repaired`` is True when characters were dropped or moved beyond what ``normalize`` does.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import regex

from aksar.text.normalize import invisible_chars, normalize
from aksar.text.scripts.base import SCRIPTS, Repaired, ScriptField, generation, get_script

# Combining marks that follow nothing able to carry them (start, space, punctuation), any script.
_ORPHAN_MARKS = regex.compile(r"(?<![\p{L}\p{N}\p{M}\p{Cf}])\p{M}+")

# {script: its repair function}, live over the registry.
SCRIPT_REPAIRS: ScriptField = ScriptField("repair")
RepairFn = Callable[[str, Sequence[float]], Repaired]


@lru_cache(maxsize=4)
def _repairs(_generation: int) -> tuple[tuple[Callable[[str], object], RepairFn], ...]:
    """(has the script's characters, its repair) of every registered script with a repair."""
    return tuple((s.char_re.search, s.repair) for s in SCRIPTS.values() if s.repair is not None)


def is_valid(text: str) -> bool:
    """True if ``text`` (normalized) holds no cluster a shaper would draw on a dotted circle."""
    return valid_orthography(text)[0] == text


def valid_orthography(text: str, script: str | None = None, confidences: Sequence[float] | None = None,
                      ) -> tuple[str, bool]:
    """``normalize(text)`` made valid orthography; returns ``(text, repaired)`` (see module doc).

    ``confidences``: one per character of ``text`` (e.g. per-character probabilities of a decoder).
    The repair of every registered script applies to that script's characters, whatever ``script``
    says (it is only checked to be a known script name).
    """
    if script is not None:
        get_script(script)
    if confidences is not None and len(confidences) != len(text):
        raise ValueError(f"confidences: {len(confidences)} values for {len(text)} characters")
    plain = normalize(text)
    confs = list(confidences) if confidences is not None else [1.0] * len(text)
    invisible = invisible_chars()
    if any(ch in invisible for ch in text):  # drop them in lockstep with their confidences
        keep = [i for i, ch in enumerate(text) if ch not in invisible]
        text, confs = "".join(text[i] for i in keep), [confs[i] for i in keep]
    for _ in range(3):  # normalize can recompose marks into a new conflict: repair again
        fixed, confs = _drop_orphans(text, confs)
        for has_chars, repair in _repairs(generation()):
            if has_chars(fixed):
                fixed, confs = repair(fixed, confs)
        fixed = normalize(fixed)
        if fixed == text:
            break
        text, confs = fixed, [1.0] * len(fixed)
    return text, text != plain


def _drop_orphans(text: str, confs: list[float]) -> Repaired:
    if not _ORPHAN_MARKS.search(text):
        return text, confs
    drop = {i for m in _ORPHAN_MARKS.finditer(text) for i in range(m.start(), m.end())}
    keep = [i for i in range(len(text)) if i not in drop]
    return "".join(text[i] for i in keep), [confs[i] for i in keep]


__all__ = ["valid_orthography", "is_valid", "SCRIPT_REPAIRS"]
