"""Readers of line datasets made by other tools, on the shared ``PathListDataset`` (same path check,
same counting of dropped entries and bad images):

- tesstrain: ``NAME.gt.txt`` (one line of text) beside the line image ``NAME.png`` / ``NAME.tif``;
- trdg (TextRecognitionDataGenerator, ``--name_format 2``): ``labels.txt`` with ``FILE TEXT`` per line
  (first space separates; a tab is accepted too), images beside it;
- docTR recognition: ``labels.json`` = ``{"img.png": "text", ...}``, images in ``images/`` beside it
  (or beside the JSON when there is no ``images/``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from aksar.core.errors import AksarError
from aksar.data.readers import MAX_PIXELS, LabelFileDataset, PathListDataset

GT_SUFFIX = ".gt.txt"
TESSTRAIN_IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".bin.png", ".nrm.png", ".jpg", ".jpeg")


class TrdgDataset(LabelFileDataset):
    """trdg's ``labels.txt``: ``FILE<space>TEXT`` per line (a tab also separates), paths relative to its folder."""

    separator_help = "expected FILE<space>TEXT"

    @staticmethod
    def _split(line: str) -> tuple[str, str] | None:
        for sep in ("\t", " "):
            if sep in line:
                rel, text = line.split(sep, 1)
                return rel, text
        return None


class DoctrDataset(PathListDataset):
    """docTR ``labels.json`` (``{"image name": "text"}``); ``root``: ``images/`` beside it if present."""

    def __init__(self, labels_json: str | Path, root: str | Path | None = None, allow_outside_root: bool = False,
                 max_pixels: int = MAX_PIXELS) -> None:
        self.label_file = Path(labels_json)
        if root is None:
            images = self.label_file.parent / "images"
            root = images if images.is_dir() else self.label_file.parent
        super().__init__(root, allow_outside_root, max_pixels)
        try:
            data = json.loads(self.label_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AksarError(f"label file not found: {self.label_file}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AksarError(f"{self.label_file}: not a UTF-8 JSON file ({exc})") from None
        if not isinstance(data, dict):
            raise AksarError(f"{self.label_file}: expected a JSON object {{\"image\": \"text\", ...}} (docTR)")
        for rel, text in data.items():
            where = f"{self.label_file}:{rel}"
            if not isinstance(text, str):
                self._drop("malformed_entry", where, f"text is {type(text).__name__}, not a string")
                continue
            self._add(rel, text, where)
        self._sizes_from_metadata(self.root)


class TesstrainDataset(PathListDataset):
    """A tesstrain ground-truth folder: each ``NAME.gt.txt`` names the text of ``NAME.png`` (or ``.tif``...)."""

    def __init__(self, folder: str | Path, allow_outside_root: bool = False, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(folder, allow_outside_root, max_pixels)
        names = sorted(e.name for e in os.scandir(self.root) if e.name.endswith(GT_SUFFIX) and e.is_file())
        if not names:
            raise AksarError(f"{self.root}: no *{GT_SUFFIX} files (not a tesstrain ground-truth folder)")
        for gt in names:
            where = str(self.root / gt)
            stem = gt[: -len(GT_SUFFIX)]
            image = next((stem + s for s in TESSTRAIN_IMAGE_SUFFIXES if (self.root / (stem + s)).exists()), None)
            if image is None:
                self._drop("missing_image", where, f"no {stem}{{{','.join(TESSTRAIN_IMAGE_SUFFIXES)}}}")
                continue
            try:
                lines = (self.root / gt).read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError as exc:
                self._drop("label_not_utf8", where, str(exc))
                continue
            text = "\n".join(lines).strip("\r\n")
            if len([ln for ln in lines if ln.strip()]) > 1:
                self._drop("multi_line_label", where, "a line image needs a one-line text")
                continue
            self._add(image, text, where)


def open_list_file(path: Path, allow_outside_root: bool = False) -> PathListDataset:
    """A list file by name: ``*.json`` docTR, ``labels.txt`` trdg, anything else ``path<TAB>text``."""
    if path.suffix.lower() == ".json":
        return DoctrDataset(path, allow_outside_root=allow_outside_root)
    if path.name == "labels.txt":
        return TrdgDataset(path, allow_outside_root=allow_outside_root)
    return LabelFileDataset(path, allow_outside_root=allow_outside_root)


def open_folder(folder: Path, allow_outside_root: bool = False) -> PathListDataset | None:
    """The docTR, trdg or tesstrain dataset in ``folder``, or None if it holds none of them."""
    if (folder / "labels.json").is_file():
        return DoctrDataset(folder / "labels.json", allow_outside_root=allow_outside_root)
    if (folder / "labels.txt").is_file():
        return TrdgDataset(folder / "labels.txt", allow_outside_root=allow_outside_root)
    if any(e.name.endswith(GT_SUFFIX) for e in os.scandir(folder)):
        return TesstrainDataset(folder, allow_outside_root=allow_outside_root)
    return None


__all__ = ["TrdgDataset", "DoctrDataset", "TesstrainDataset", "open_list_file", "open_folder"]
