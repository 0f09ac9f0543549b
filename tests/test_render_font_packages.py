"""Fonts shipped by PyPI packages (the `fonts` extra, installed by `make setup`) are discovered with the
system's: khmer-ocr-ocm's Khmer faces, Google's Thai families; its duplicate Khmer OS and its legacy-encoded
inscription fonts are passed by, and a name resolves to the face that has the script."""
from __future__ import annotations

import importlib.metadata
from pathlib import Path

from aksar.render.fonts import (FONT_SUFFIXES, PYTHON_FONT_PACKAGES, font_cmap, package_font_files,
                                resolve_font, scan_fonts)
from aksar.text.scripts import get_script

KHMER_PACKAGE_FAMILIES = {"AKbalthom KhmerBasic", "Angkor", "Khmer Moul", "Khmer OS Apsara"}


def _package_root(name: str) -> Path:
    return Path(importlib.metadata.distribution(name).locate_file("")).resolve()


def test_every_script_package_is_listed_once_and_installed():
    named = [p for s in ("khmer", "thai") for p in get_script(s).python_font_packages]
    assert set(named) <= set(PYTHON_FONT_PACKAGES) and len(PYTHON_FONT_PACKAGES) == len(set(PYTHON_FONT_PACKAGES))
    for name in PYTHON_FONT_PACKAGES:
        files = package_font_files([name])
        assert files, f"{name} ships no font file (is the `fonts` extra installed?)"
        assert all(f.is_file() and f.suffix.lower() in FONT_SUFFIXES for f in files)
        assert files == sorted(files)


def test_a_package_that_is_not_installed_is_passed_by():
    assert package_font_files(["aksar-no-such-font-package"]) == []
    assert package_font_files(["aksar-no-such-font-package", "fontpkg-sarabun"]) == package_font_files(
        ["fontpkg-sarabun"])


def test_khmer_discovery_takes_the_package_faces_and_passes_by_the_rest():
    scan = scan_fonts("khmer")
    root = _package_root("khmer-ocr-ocm")
    from_package = [f for f in scan.fonts if Path(f.path).resolve().is_relative_to(root)]
    assert {f.family for f in from_package} == KHMER_PACKAGE_FAMILIES
    # its own Khmer OS is a duplicate of the Debian one, which discovery keeps
    dup = [f for f in scan.duplicates if Path(f.path).resolve().is_relative_to(root)]
    assert [f.family for f in dup] == ["Khmer OS"]
    kept = next(f for f in scan.fonts if f.name == "Khmer OS")
    assert not Path(kept.path).resolve().is_relative_to(root)
    # the inscription fonts have no Khmer code point: neither usable nor reported as lacking coverage
    inscription = [p for p in package_font_files(["khmer-ocr-ocm"]) if "inscription" in p.parts]
    assert inscription
    listed = {str(Path(f.path)) for f in scan.fonts} | {str(Path(f.path)) for f, _ in scan.lacking_script}
    assert not listed & {str(p) for p in inscription}


def test_thai_discovery_takes_the_google_families():
    families = {f.family for f in scan_fonts("thai").fonts}
    assert {"Chakra Petch", "Kanit", "Prompt", "Sarabun"} <= families


def test_a_name_resolves_to_the_face_with_the_script():
    # khmer-ocr-ocm ships a legacy-encoded inscription font named Angkor beside the Unicode Angkor
    font = resolve_font("Angkor", script="khmer")
    assert ord("ក") in font_cmap(font)
    assert "inscription" not in Path(font.path).parts
