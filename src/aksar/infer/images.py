"""Inference inputs: loading line images safely and expanding `aksar predict` arguments into image lists.

Bad input gets a clear AksarError naming the file: unreadable or corrupt files, empty (zero-size or
blank-dimension) images and images above ``MAX_PIXELS`` (a line image that large is a mistake or a
decompression bomb; the limit is the dataset readers' ``MAX_PIXELS``, changeable with ``max_pixels=``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

from aksar.core.errors import AksarError
from aksar.data.files import MAX_PIXELS, BadImage, decode_image, outside_root_message, read_list, safe_join
from aksar.data.preprocess import to_gray

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm")
LIST_SUFFIXES = (".tsv", ".txt", ".list", ".lst")
PAGE_MAX_PIXELS = 100_000_000  # A0 at 300 dpi is 140 Mpx: a page image beyond this is a mistake or a bomb


def check_image_size(shape: tuple[int, ...], where: str, max_pixels: int = MAX_PIXELS, kind: str = "text line") -> None:
    """Refuse empty images and images with more than ``max_pixels`` pixels (``kind``: what the image should be)."""
    h, w = int(shape[0]), int(shape[1]) if len(shape) > 1 else 0
    if h == 0 or w == 0:
        raise AksarError(f"{where}: empty image ({h}x{w} pixels)")
    if h * w > max_pixels:
        hint = "crop the line first, or raise max_pixels" if kind == "text line" else "raise max_pixels"
        raise AksarError(f"{where}: image of {w}x{h} = {h * w} pixels is above the limit of {max_pixels} "
                         f"pixels for a {kind} ({hint})")


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS, kind: str = "text line") -> np.ndarray:
    """Read an image file as uint8 HxW grayscale; AksarError naming the file when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise AksarError(f"{path}: image file not found")
    try:
        img = decode_image(path, max_pixels)
    except BadImage as exc:
        if exc.reason == "too_large_image":
            hint = "; crop the line first" if kind == "text line" else ""
            raise AksarError(f"{path}: image too large for a {kind} ({exc}){hint}") from None
        raise AksarError(f"{path}: cannot read image ({exc})") from None
    check_image_size(img.shape, str(path), max_pixels, kind)
    return img


def as_gray(image: "str | os.PathLike | Image.Image | np.ndarray", where: str, max_pixels: int = MAX_PIXELS,
            kind: str = "text line") -> np.ndarray:
    """A path, PIL image or array as uint8 HxW grayscale (``to_gray``), refused when empty or above
    ``max_pixels`` (checked before a PIL image is decoded); the one input check of lines and pages."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, max_pixels, kind)
    if isinstance(image, Image.Image):
        check_image_size((image.height, image.width), where, max_pixels, kind)
    gray = to_gray(image, where)
    check_image_size(gray.shape, where, max_pixels, kind)
    return gray


@dataclass(frozen=True)
class InputImage:
    """One input file: ``name`` as the user gave it (for output), ``path`` to read; ``direct``: named by the
    user, not found in a folder or a list (callers may skip an unreadable file only when it is not direct)."""

    name: str
    path: Path
    direct: bool = True


def read_list_file(source: str | Path, allow_outside_root: bool = False) -> list[InputImage]:
    """A list file (``-``: standard input): one image path per line, optionally followed by TAB and text.

    Paths are relative to the list's folder (the working directory for ``-``) and must stay inside it
    unless ``allow_outside_root`` (the dataset readers' ``safe_join``); the name keeps the path as written.
    """
    lines, where, root = read_list(source)
    items = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name = line.split("\t", 1)[0].strip()
        if not name:
            raise AksarError(f"{where}:{lineno}: empty image path")
        target = safe_join(root, name, allow_outside_root)
        if target is None:
            raise AksarError(outside_root_message(f"{where}:{lineno}", name, root))
        items.append(InputImage(name, target, direct=False))
    return items


def gather_files(inputs: Iterable[str | Path], allow_outside_root: bool = False, *,
                 suffixes: Sequence[str] = IMAGE_SUFFIXES, list_suffixes: Sequence[str] = LIST_SUFFIXES,
                 recursive: bool = True, at_lists: bool = False, kind: str = "image",
                 kinds: str = "images") -> list[InputImage]:
    """Expand command-line inputs into files, in order: files as named, folders (their files ending in
    ``suffixes``, sorted; ``recursive`` or not), list files (names ending in ``list_suffixes``, or ``@FILE``
    when ``at_lists``; see :func:`read_list_file`) and ``-`` (a list on standard input). ``kind`` and
    ``kinds`` name what is looked for in the errors."""
    out: list[InputImage] = []
    for raw in inputs:
        text, path = str(raw), Path(raw)
        if text == "-":
            out.extend(read_list_file("-", allow_outside_root))
        elif at_lists and text.startswith("@") and not path.exists():
            listed = Path(text[1:])
            if not listed.is_file():
                raise AksarError(f"{listed}: list file not found")
            out.extend(read_list_file(listed, allow_outside_root))
        elif path.is_dir():
            files = path.rglob("*") if recursive else path.iterdir()
            found = sorted(p for p in files if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                raise AksarError(f"{path}: folder holds no {kinds} ({', '.join(suffixes)})")
            out.extend(InputImage(str(p), p, direct=False) for p in found)
        elif path.suffix.lower() in list_suffixes:
            if not path.is_file():
                raise AksarError(f"{path}: list file not found")
            out.extend(read_list_file(path, allow_outside_root))
        elif path.is_file():
            out.append(InputImage(text, path))
        else:
            raise AksarError(f"{path}: no such {kind}, folder or list file")
    return out


def gather_inputs(inputs: Iterable[str | Path], allow_outside_root: bool = False) -> list[InputImage]:
    """Expand `predict` arguments: image files, folders (images inside, sorted, recursive), list files
    and ``-`` (a list on standard input)."""
    return gather_files(inputs, allow_outside_root)


__all__ = ["MAX_PIXELS", "PAGE_MAX_PIXELS", "InputImage", "check_image_size", "load_image", "as_gray", "read_list_file", "gather_files",
           "gather_inputs", "IMAGE_SUFFIXES", "LIST_SUFFIXES"]
