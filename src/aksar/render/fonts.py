"""Font discovery and coverage: which installed fonts can draw a script, and which characters they lack.

Fonts are read with HarfBuzz (uharfbuzz): its cmap (``face.unicodes``) is the same table fontTools reads,
about ten times faster, so scanning every system font takes well under a second. fontTools is used only
to explain why a file that HarfBuzz cannot read is broken.
"""
from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from aksar.core.errors import AksarError
from aksar.text.scripts import SCRIPTS, ScriptField, get_script

log = logging.getLogger(__name__)

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")

# Faces left out of discovery by default, matched case-insensitively against the font name ("Family
# Style"), the family (all its styles) or the file name: each script's ``excluded_fonts`` (faces that
# draw letters far from print: ornamental or handwriting) and ``special_purpose_families`` (e.g. SIL
# diagnostic builds). Add fonts back with `exclude_fonts: []` or list them in `fonts:`. See docs/render.md.
# Held-out font families (``Script.heldout_families``) are never used for training
# (``SynthConfig.exclude_heldout``) and are read by the evaluation-set builder for unseen-font evaluation.
HELDOUT_FAMILIES: ScriptField = ScriptField("heldout_families")


def _all_scripts(attr: str) -> tuple[str, ...]:
    return tuple(name for s in SCRIPTS.values() for name in getattr(s, attr))


SPECIAL_PURPOSE_FAMILIES: tuple[str, ...] = _all_scripts("special_purpose_families")
DEFAULT_EXCLUDE: tuple[str, ...] = _all_scripts("excluded_fonts") + SPECIAL_PURPOSE_FAMILIES
# PyPI distributions that ship fonts of a built-in script (`pip install aksar[fonts]`, which `make setup` does):
# their font files are discovered with the system's
PYTHON_FONT_PACKAGES: tuple[str, ...] = tuple(dict.fromkeys(_all_scripts("python_font_packages")))

STYLE_CLASSES = ("regular", "bold", "italic")


def style_class(font: "FontInfo") -> str:
    """``italic`` (italic/oblique, bold ones too), ``bold`` (semibold .. black) or ``regular``."""
    style = font.style.lower()
    if "italic" in style or "oblique" in style:
        return "italic"
    if "bold" in style or "black" in style or "heavy" in style:
        return "bold"
    return "regular"


# A font "has" a script when its cmap covers at least this share of the script's letters and marks.
DEFAULT_MIN_COVERAGE = 0.95


@dataclass(frozen=True)
class FontInfo:
    """One face of one font file (``index`` selects the face inside a .ttc collection)."""

    path: str
    index: int = 0
    family: str = ""
    style: str = ""

    @property
    def name(self) -> str:
        """'Family Style', or just 'Family' for the regular style."""
        if not self.style or self.style.lower() in ("regular", "normal", "book", "roman"):
            return self.family or Path(self.path).stem
        return f"{self.family} {self.style}"

    def __str__(self) -> str:
        return self.name


@dataclass
class FontScan:
    """Everything a discovery run found, including what it left out and why."""

    script: str
    fonts: list[FontInfo] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)      # (path, reason)
    lacking_script: list[tuple[FontInfo, float]] = field(default_factory=list)  # (font, coverage)
    excluded: list[FontInfo] = field(default_factory=list)
    duplicates: list[FontInfo] = field(default_factory=list)
    refused: list[tuple[FontInfo, str]] = field(default_factory=list)  # (font, reason): failed the probe

    @property
    def counts(self) -> Counter:
        return Counter(usable=len(self.fonts), unreadable=len(self.unreadable),
                       lacking_script=len(self.lacking_script), excluded=len(self.excluded),
                       duplicate=len(self.duplicates), refused=len(self.refused))


def system_font_dirs() -> list[Path]:
    """The usual font folders of Linux, macOS and Windows that exist on this machine."""
    home = Path.home()
    candidates = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), home / ".local/share/fonts",
                  home / ".fonts"]
    if sys.platform == "darwin":
        candidates += [Path("/System/Library/Fonts"), Path("/Library/Fonts"), home / "Library/Fonts"]
    if os.name == "nt":
        windir = Path(os.environ.get("WINDIR", r"C:\Windows"))
        candidates += [windir / "Fonts", home / "AppData/Local/Microsoft/Windows/Fonts"]
    return [d for d in candidates if d.is_dir()]


def _font_files(dirs: Iterable[Path]) -> list[Path]:
    """Font files under ``dirs`` (files are taken as given), each real file once, in folder order."""
    files: list[Path] = []
    seen: set[str] = set()
    for d in dirs:
        d = Path(d)
        if d.is_file():
            found = [d]
        elif d.is_dir():
            found = sorted(p for p in d.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
        else:
            raise AksarError(f"font folder not found: {d}")
        for p in found:
            key = os.path.realpath(p)
            if key not in seen:
                seen.add(key)
                files.append(p)
    return files


def package_font_files(packages: Iterable[str] = PYTHON_FONT_PACKAGES) -> list[Path]:
    """Font files that the installed Python distributions ``packages`` ship, in package then path order;
    a package that is not installed is passed by."""
    files: list[Path] = []
    for name in packages:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            log.debug("font package %s is not installed", name)
            continue
        found = (Path(dist.locate_file(f)) for f in dist.files or () if f.suffix.lower() in FONT_SUFFIXES)
        files += sorted(p for p in found if p.is_file())
    return files


@lru_cache(maxsize=1)
def _system_font_files() -> tuple[Path, ...]:
    """Font files of the system folders, then of the Python font packages (listed once per process)."""
    return tuple(_font_files([*system_font_dirs(), *package_font_files()]))


def _face_count(path: str) -> int:
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:4] == b"ttcf" and len(head) == 12:
        return max(1, int.from_bytes(head[8:12], "big"))
    return 1


def _broken_reason(path: str, index: int) -> str:
    """Why a font file cannot be used (asks fontTools for a readable message)."""
    try:
        from fontTools.ttLib import TTFont

        f = TTFont(path, fontNumber=index, lazy=True)
        if "cmap" not in f:
            return "no cmap table"
        f.getBestCmap()
    except Exception as exc:  # fontTools raises many types for corrupt files
        return f"not a readable font ({type(exc).__name__}: {exc})"
    return "not a readable font (HarfBuzz found no glyphs)"


@lru_cache(maxsize=None)
def _load_face(path: str, index: int):
    """(hb.Face, its cmap) -- raises AksarError naming the file if it is not a usable font."""
    import uharfbuzz as hb

    try:
        blob = hb.Blob.from_file_path(path)
    except Exception as exc:
        raise AksarError(f"{path}: cannot read font file ({exc})") from None
    face = hb.Face(blob, index)
    if face.glyph_count == 0:
        raise AksarError(f"{path}: {_broken_reason(path, index)}")
    cmap = frozenset(face.unicodes)
    if not cmap:
        raise AksarError(f"{path}: font has no Unicode cmap")
    return face, cmap


def _names(face) -> tuple[str, str]:
    import uharfbuzz as hb

    ids = hb.OTNameIdPredefined
    family = face.get_name(ids.TYPOGRAPHIC_FAMILY) or face.get_name(ids.FONT_FAMILY) or ""
    style = face.get_name(ids.TYPOGRAPHIC_SUBFAMILY) or face.get_name(ids.FONT_SUBFAMILY) or ""
    return family.strip(), style.strip()


def font_info(path: str | os.PathLike, index: int = 0) -> FontInfo:
    """FontInfo of a font file (AksarError naming the file if unreadable)."""
    path = str(path)
    if not os.path.isfile(path):
        raise AksarError(f"font file not found: {path}")
    face, _ = _load_face(path, index)
    family, style = _names(face)
    return FontInfo(path=path, index=index, family=family or Path(path).stem, style=style)


def font_cmap(font: FontInfo) -> frozenset[int]:
    """Code points the font maps to glyphs (cached per process)."""
    return _load_face(font.path, font.index)[1]


def coverage(font: FontInfo, chars: Iterable[str | int]) -> tuple[list[str], list[str]]:
    """(covered, missing) characters of ``chars`` (each listed once, in first-seen order)."""
    cmap = font_cmap(font)
    covered: list[str] = []
    missing: list[str] = []
    seen: set[str] = set()
    for c in chars:
        ch = chr(c) if isinstance(c, int) else c
        if ch in seen:
            continue
        seen.add(ch)
        (covered if ord(ch) in cmap else missing).append(ch)
    return covered, missing


@lru_cache(maxsize=None)
def script_letters(script: str) -> tuple[str, ...]:
    """The letters and marks (Unicode categories L*, M*) of a script's ranges, less its
    ``optional_letters`` (recent additions that sound fonts may lack)."""
    info = get_script(script)
    out = []
    for rng in info.ranges:
        lo, hi = rng
        for cp in range(int(lo), int(hi) + 1):
            if unicodedata.category(chr(cp))[0] in "LM" and chr(cp) not in info.optional_letters:
                out.append(chr(cp))
    return tuple(out)


def _excluded(font: FontInfo, exclude: Iterable[str]) -> bool:
    keys = {font.name.lower(), font.family.lower(), Path(font.path).name.lower(), Path(font.path).stem.lower()}
    return any(e.strip().lower() in keys for e in exclude if e.strip())


def scan_fonts(script: str, font_dirs: Iterable[str | os.PathLike] = (), include_system: bool = True,
               exclude: Iterable[str] = DEFAULT_EXCLUDE,
               min_coverage: float = DEFAULT_MIN_COVERAGE, probe: bool = True) -> FontScan:
    """Scan folders (given ones first, then the system's and the Python font packages') for fonts of ``script``;
    keeps every reject.
    ``probe``: fonts that fail ``font_probe.probe_font`` (truncated, no outlines, broken shaping) are refused."""
    from aksar.render.font_probe import probe_font  # the probe renders and shapes with this module's fonts

    letters = script_letters(script)
    exclude = tuple(exclude)
    user_files = _font_files(Path(d) for d in font_dirs)
    system_files = list(_system_font_files()) if include_system else []
    user = {str(p) for p in user_files}
    scan = FontScan(script=script)
    seen_names: set[str] = set()
    for path in user_files + [p for p in system_files if str(p) not in user]:
        p = str(path)
        try:
            n_faces = _face_count(p)
        except OSError as exc:
            scan.unreadable.append((p, f"cannot read file ({exc.strerror or exc})"))
            continue
        for index in range(n_faces):
            try:
                info = font_info(p, index)
            except AksarError as exc:
                scan.unreadable.append((p, str(exc).removeprefix(f"{p}: ")))
                continue
            cmap = font_cmap(info)
            share = sum(ord(c) in cmap for c in letters) / max(1, len(letters))
            if share < min_coverage:
                if share > 0 or p in user:  # system fonts with no letter at all belong to other scripts
                    scan.lacking_script.append((info, share))
                continue
            if _excluded(info, exclude):
                scan.excluded.append(info)
            elif info.name.lower() in seen_names:
                scan.duplicates.append(info)
            elif probe and (reason := probe_font(info, script)):
                scan.refused.append((info, reason))
            else:
                seen_names.add(info.name.lower())
                scan.fonts.append(info)
    scan.fonts.sort(key=lambda f: (f.name.lower(), f.path, f.index))
    return scan


def discover_fonts(script: str, font_dirs: Iterable[str | os.PathLike] = (), include_system: bool = True,
                   exclude: Iterable[str] = DEFAULT_EXCLUDE,
                   min_coverage: float = DEFAULT_MIN_COVERAGE) -> list[FontInfo]:
    """Fonts whose cmap covers the script's letters and that pass the probe, sorted by name; unreadable
    and refused fonts are logged."""
    scan = scan_fonts(script, font_dirs, include_system, exclude, min_coverage)
    for path, reason in scan.unreadable:
        log.warning("skipped font %s: %s", path, reason)
    for font, reason in scan.refused:
        log.warning("refused font %s (%s): %s", font.name, font.path, reason)
    if scan.unreadable:
        log.warning("%d unreadable font file(s) skipped", len(scan.unreadable))
    return scan.fonts


def resolve_font(name_or_path: str | os.PathLike, font_dirs: Iterable[str | os.PathLike] = (),
                 script: str | None = None) -> FontInfo:
    """A font by file path (``path`` or ``path#index`` for collections) or by name ('Khmer OS Siemreap',
    'Noto Sans Khmer Bold'; case-insensitive; family name alone picks the regular style). With ``script``,
    a name matches only faces with letters of the script (a legacy-encoded namesake is passed by), and a font
    that fails the probe (``font_probe.probe_font``) is an AksarError giving the reason."""
    font = _resolve_font(name_or_path, font_dirs, script)
    if script is not None:
        from aksar.render.font_probe import probe_font

        reason = probe_font(font, script)
        if reason:
            raise AksarError(f"{font.path}: font {font.name!r} refused for {script}: {reason}")
    return font


def _resolve_font(name_or_path: str | os.PathLike, font_dirs: Iterable[str | os.PathLike],
                  script: str | None = None) -> FontInfo:
    text = str(name_or_path)
    index = 0
    base = text
    if "#" in text and text.rsplit("#", 1)[1].isdigit():
        base, idx = text.rsplit("#", 1)
        index = int(idx)
    looks_like_path = os.sep in base or base.lower().endswith(FONT_SUFFIXES) or os.path.exists(base)
    if looks_like_path:
        if not os.path.isfile(base):
            raise AksarError(f"font file not found: {base}")
        n = _face_count(base)
        if index >= n:
            raise AksarError(f"{base}: face index {index} out of range (file has {n})")
        return font_info(os.path.abspath(base), index)
    wanted = text.strip().lower()
    letters = {ord(c) for c in script_letters(script)} if script else set()
    candidates: list[FontInfo] = []
    user_files = _font_files(Path(d) for d in font_dirs)
    for path in user_files + [p for p in _system_font_files() if p not in user_files]:
        p = str(path)
        try:
            n_faces = _face_count(p)
        except OSError:
            continue
        for i in range(n_faces):
            try:
                info = font_info(p, i)
            except AksarError:
                continue
            names = {info.name.lower(), f"{info.family} {info.style}".strip().lower(), path.stem.lower()}
            if wanted not in names and info.family.lower() != wanted:
                continue
            if letters and letters.isdisjoint(font_cmap(info)):
                continue
            if wanted in names:
                return info
            candidates.append(info)
    if candidates:
        candidates.sort(key=lambda f: (f.name != f.family, len(f.name), f.path))
        return candidates[0]
    raise AksarError(f"font {text!r} not found (give a file path, or a name listed by `aksar fonts --script ...`)")


__all__ = [
    "FontInfo", "FontScan", "DEFAULT_EXCLUDE", "HELDOUT_FAMILIES", "SPECIAL_PURPOSE_FAMILIES", "STYLE_CLASSES",
    "style_class", "DEFAULT_MIN_COVERAGE", "discover_fonts", "scan_fonts",
    "resolve_font", "font_info", "font_cmap", "coverage", "script_letters", "system_font_dirs",
    "package_font_files", "PYTHON_FONT_PACKAGES",
]
