"""Safe file access shared by the dataset readers and inference: decoding a line image (corrupt,
truncated and oversized files become ``BadImage`` with a reason), the one check of listed paths
(``safe_join``) and reading a list from a file or standard input.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

from aksar.core.errors import AksarError
from aksar.data.preprocess import to_gray

EXIF_ORIENTATION = 0x0112  # upright as the camera held it: applied, as page inputs and OpenCV do
MAX_PIXELS = 40_000_000  # a text line never needs more; larger images are refused as decompression bombs


class BadImage(Exception):
    """An image that cannot be used; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def decode_image(data: bytes | Path, max_pixels: int = MAX_PIXELS, frame: int = 0) -> np.ndarray:
    """Decode a whole image (file path or bytes; ``frame`` of a multi-frame TIFF, GIF or WebP) to uint8
    grayscale, turned upright by its EXIF orientation; BadImage if it cannot be used."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        src = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else open(data, "rb")
    except FileNotFoundError:
        raise BadImage("missing_image", str(data)) from None
    except OSError as exc:
        raise BadImage("unreadable_image", str(exc)) from None
    with src:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(src) as im:
                    if frame:
                        im.seek(frame)
                    w, h = im.size
                    if w * h > max_pixels:
                        raise BadImage("too_large_image", f"{w}x{h} pixels > {max_pixels}")
                    im.load()
                    if im.getexif().get(EXIF_ORIENTATION, 1) != 1:  # a phone photo stored sideways
                        im = ImageOps.exif_transpose(im)
                    return to_gray(im, f"{im.mode} image")
        except BadImage:
            raise
        except AksarError as exc:  # pixels that do not decode to grayscale (e.g. NaN in a float TIFF)
            raise BadImage("undecodable_image", str(exc)) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BadImage("too_large_image", str(exc)) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:  # PIL.UnidentifiedImageError is an OSError
            reason = "truncated_image" if "truncated" in str(exc) else "corrupt_image"
            raise BadImage(reason, str(exc)) from None


def frame_count(data: bytes) -> int:
    """How many frames (pages) an image holds: 1 for most, more for multi-page TIFF, GIF, WebP; 1 when
    the header cannot be read (decoding then says why)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return max(1, int(getattr(im, "n_frames", 1) or 1))
    except (OSError, SyntaxError, ValueError, EOFError):
        return 1


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header without decoding the pixels."""
    with Image.open(path) as im:
        return im.size


OUTSIDE_ROOT_FLAG = "--allow-outside-root"  # CLI flag (data.allow_outside_root in training configs)


def safe_join(root: Path, rel: str, allow_outside_root: bool = False) -> Path | None:
    """The file a listed path names, or None if refused (THE path check of every list reader).

    ``rel`` must be relative and stay inside ``root`` after resolving ``..`` and symlinks; absolute,
    ``../`` and symlinked-out paths are refused unless ``allow_outside_root`` (absolute paths are then
    used as they are, relative ones joined to ``root``). Empty paths are always refused.
    """
    if not rel:
        return None
    absolute = os.path.isabs(rel) or rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":")
    if allow_outside_root:
        return Path(rel) if absolute else root / rel
    if absolute:
        return None
    root_res = root.resolve()
    full = (root / rel).resolve()
    if full != root_res and root_res not in full.parents:
        return None
    return root / rel


def outside_root_message(where: str, rel: str, root: Path) -> str:
    """One-line error for a listed path refused by ``safe_join``."""
    return (f"{where}: {rel!r} is outside the list's folder {root} (absolute, ../ or a symlink out); "
            f"pass {OUTSIDE_ROOT_FLAG} to read it")


def read_list(source: str | Path) -> tuple[list[str], str, Path]:
    """Lines of a list file, or of standard input for ``-``: ``(lines, name for messages, default root)``.

    The default root is the file's folder (the working directory for ``-``).
    """
    if str(source) == "-":
        import sys

        return sys.stdin.read().splitlines(), "<stdin>", Path(".")
    path = Path(source)
    if not path.is_file():
        raise AksarError(f"label file not found: {path}")
    try:
        return path.read_text(encoding="utf-8").splitlines(), str(path), path.parent
    except UnicodeDecodeError as exc:
        raise AksarError(f"{path}: not UTF-8 ({exc})") from None


__all__ = ["MAX_PIXELS", "BadImage", "decode_image", "image_size", "safe_join", "outside_root_message",
           "read_list", "OUTSIDE_ROOT_FLAG"]
