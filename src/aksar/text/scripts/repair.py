"""Shared machinery of the script modules' ``repair`` hooks (see ``aksar.text.orthography``).

A script describes its clusters with regexes; ``repair_spans`` keeps each valid cluster and reduces
each invalid one to its most likely valid form: marks are admitted most confident first (ties: reading
order), each one kept only if the cluster stays valid; marks with no base are dropped.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import regex

from aksar.text.normalize import normalize
from aksar.text.scripts.base import Repaired

Units = list[tuple[str, list[float]]]  # (unit text, confidences of its characters)


def char_units(cluster: str, confs: Sequence[float]) -> Units:
    """Every character after the base is one unit."""
    return [(ch, [confs[i]]) for i, ch in enumerate(cluster) if i]


def repair_spans(text: str, confs: Sequence[float], span_re: regex.Pattern,
                 units_of: Callable[[str, Sequence[float]], Units], key: Callable[[str], int],
                 valid: Callable[[str], bool]) -> Repaired:
    """Each base-led span of ``text`` (group ``c`` of ``span_re``) reduced to its most likely valid
    form; spans without a base dropped. ``key`` ranks units (a valid cluster lists them by rank)."""
    out: list[str] = []
    out_confs: list[float] = []
    pos = 0
    for m in span_re.finditer(text):
        out.append(text[pos:m.start()])
        out_confs += confs[pos:m.start()]
        pos = m.end()
        cluster = m.group("c")
        if cluster is None:  # marks with no base
            continue
        if valid(cluster):  # (a cluster that normalize breaks is caught by the next round)
            out.append(cluster)
            out_confs += confs[m.start():m.end()]
            continue
        units = units_of(cluster, confs[m.start():m.end()])
        # admit the most confident units first (ties: reading order), keep each that leaves it valid
        order = sorted(range(len(units)), key=lambda i: -sum(units[i][1]) / len(units[i][1]))
        kept: list[int] = []
        for i in order:
            trial = sorted([*kept, i], key=lambda j: (key(units[j][0]), j))
            if valid(normalize(cluster[0] + "".join(units[j][0] for j in trial))):
                kept = trial
        out.append(cluster[0] + "".join(units[j][0] for j in kept))
        out_confs += [confs[m.start()], *(c for j in kept for c in units[j][1])]
    out.append(text[pos:])
    out_confs += confs[pos:]
    return "".join(out), out_confs


def text_ok_regex(syllable: regex.Pattern, marks: str) -> regex.Pattern:
    """The fast path of ``grammar_repair``: a line whose every base starts a ``syllable`` that no mark
    follows, and that has no mark outside one (``marks``: a character-class body).

    The group and the repeat are possessive: a base also matches the ``[^marks]`` branch, and with
    backtracking a line that fails near its end was retried in 2**bases ways (a 60-character prediction
    with a stacked vowel at its end never returned). Without backtracking a syllable's first match is
    kept; a line it rejects that a longer syllable would have accepted only takes ``repair_spans``,
    which leaves valid clusters as they are.
    """
    return regex.compile(f"(?>{syllable.pattern}(?![{marks}])|[^{marks}])*+")


def grammar_repair(text: str, confs: Sequence[float], ok_text: regex.Pattern, span_re: regex.Pattern,
                   syllable: regex.Pattern, units_of: Callable[[str, Sequence[float]], Units],
                   key: Callable[[str], int]) -> Repaired:
    """``repair_spans`` behind a fast path: a text that ``ok_text`` fully matches is returned as is."""
    if ok_text.fullmatch(text):
        return text, list(confs)
    return repair_spans(text, confs, span_re, units_of, key, lambda s: syllable.fullmatch(s) is not None)


__all__ = ["Units", "char_units", "repair_spans", "text_ok_regex", "grammar_repair"]
