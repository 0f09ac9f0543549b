"""What the evaluation sets are made of: held-out and training fonts, corpus test lines, and UI strings
from the gettext catalogs (``.mo``) installed on the machine (a text domain training never sees)."""
from __future__ import annotations

import gettext
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import regex

from aksar.core.errors import AksarError
from aksar.core.io import sha256_file
from aksar.core.rng import rng_for
from aksar.render.fonts import HELDOUT_FAMILIES, SPECIAL_PURPOSE_FAMILIES, FontInfo, discover_fonts
from aksar.text.normalize import normalize
from aksar.text.scripts import ScriptField, get_script, script_share

# The held-out families (never used in training, only in the held-out evaluation sets), the
# special-purpose builds (neither training nor evaluation) and the Debian packages of the held-out fonts
# are each script's (``aksar.text.scripts``); ``EXCLUDED_FAMILIES``: {script: the special-purpose builds}.
EXCLUDED_FAMILIES: dict[str, tuple[str, ...]] = {script: SPECIAL_PURPOSE_FAMILIES for script in HELDOUT_FAMILIES}
FONT_PACKAGES: ScriptField = ScriptField("font_packages")


def _family_of(name: str, families: tuple[str, ...]) -> str | None:
    """The longest of ``families`` that ``name`` ('Family' or 'Family Style') belongs to."""
    low = name.lower()
    for fam in sorted(families, key=len, reverse=True):
        f = fam.lower()
        if low == f or low.startswith(f + " "):
            return fam
    return None


def split_fonts(script: str) -> tuple[list[FontInfo], list[FontInfo]]:
    """(training fonts, held-out fonts) of ``script``; AksarError if a held-out family is not installed."""
    heldout_fams = HELDOUT_FAMILIES.get(script, ())
    excluded = {f.lower() for f in EXCLUDED_FAMILIES.get(script, ())}
    training, heldout = [], []
    for font in discover_fonts(script):
        if font.family.lower() in excluded:
            continue
        (heldout if font.family in heldout_fams else training).append(font)
    missing = sorted(set(heldout_fams) - {f.family for f in heldout})
    if missing:
        raise AksarError(f"held-out font families not installed: {', '.join(missing)} "
                         f"(apt-get install {get_script(script).font_packages})")
    if not training:
        raise AksarError(f"no training fonts of {script} installed (see `aksar fonts --script {script}`)")
    return training, heldout


def pango_fonts(script: str, heldout: list[FontInfo], available: tuple[str, ...]) -> list[tuple[str, FontInfo]]:
    """(Pango font name, the family's regular face for the shaping gate) of every held-out face that
    ``text2image`` offers (``available``); the excluded SIL builds are left out."""
    fams = HELDOUT_FAMILIES.get(script, ())
    regular = {}
    for f in heldout:
        if f.family not in regular or f.name == f.family:
            regular[f.family] = f
    out = []
    for name in available:
        fam = _family_of(name, fams)
        if fam is None or _family_of(name, EXCLUDED_FAMILIES.get(script, ())) or fam not in regular:
            continue
        out.append((name, regular[fam]))
    if not out:
        raise AksarError(f"text2image offers none of the held-out fonts {', '.join(fams)}")
    return out


def corpus_candidates(lines: list[str], seed: int, key: str, min_length: int, max_length: int
                      ) -> Iterator[tuple[int, str]]:
    """(position in the split, text): lines of the allowed length in an order seeded by ``key``, once each."""
    for j in rng_for(seed, "evalset", key, "order").permutation(len(lines)):
        text = lines[int(j)]
        if min_length <= len(text) <= max_length:
            yield int(j), text


# -- gettext catalogs ------------------------------------------------------------------------------

_FORMAT = regex.compile(r"%[-+ #0-9.*]*[a-zA-Z%]|%\(\w+\)|\$\{?\w+|\{\w*\}|<[^>]*>|\\[nt]|&\w+;|_\p{L}|&\p{L}")


def mo_files(locale_dir: str | Path, language: str) -> list[Path]:
    """The ``.mo`` catalogs of ``language`` under ``locale_dir`` (``<lang>/LC_MESSAGES/*.mo``), sorted."""
    folder = Path(locale_dir) / language / "LC_MESSAGES"
    return sorted(folder.glob("*.mo")) if folder.is_dir() else []


def mo_strings(path: Path) -> list[str]:
    """The translated strings of one catalog, line by line, in catalog order (header entry left out)."""
    try:
        with open(path, "rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
    except (OSError, UnicodeDecodeError) as exc:
        raise AksarError(f"{path}: unreadable gettext catalog ({exc})") from None
    out = []
    for msgid, msgstr in catalog.items():
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        if key == "" or not isinstance(msgstr, str):
            continue
        out.extend(msgstr.split("\n"))
    return out


def domain_texts(script: str, locale_dir: str | Path, min_length: int, max_length: int
                 ) -> tuple[list[str], dict]:
    """Distinct UI strings of ``script``'s language from the catalogs, normalized and filtered; and a
    report: sources (file, sha256, lines kept) and dropped lines per reason."""
    language = get_script(script).language
    files = mo_files(locale_dir, language)
    if not files:
        raise AksarError(f"{Path(locale_dir) / language / 'LC_MESSAGES'}: no .mo catalogs "
                         "(apt-get install iso-codes, or give --locale-dir)")
    kept: dict[str, None] = {}
    dropped: Counter = Counter()
    sources = []
    for path in files:
        n = 0
        for raw in mo_strings(path):
            text = normalize(raw, script)
            if not text:
                continue
            reason = ("format_or_markup" if _FORMAT.search(raw) else
                      "low_script_share" if script_share(text, script) < 0.5 else
                      "too_short" if len(text) < min_length else
                      "too_long" if len(text) > max_length else
                      "duplicate" if text in kept else None)
            if reason:
                dropped[reason] += 1
                continue
            kept[text] = None
            n += 1
        sources.append({"file": path.name, "sha256": sha256_file(path), "lines_kept": n})
    return sorted(kept), {"locale_dir": str(locale_dir), "language": language, "sources": sources,
                          "dropped": dict(sorted(dropped.items()))}


__all__ = ["HELDOUT_FAMILIES", "EXCLUDED_FAMILIES", "split_fonts", "pango_fonts", "corpus_candidates",
           "mo_files", "mo_strings", "domain_texts"]
