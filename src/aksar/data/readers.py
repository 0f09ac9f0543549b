"""Readers for line-image datasets on disk: label lists (``labels.tsv`` / PaddleOCR lists), the
pre-generated layout of ``aksar generate`` and LMDB (PaddleOCR / PARSeq layout); other tools' formats
(tesstrain, trdg, docTR) are in ``formats``, built on ``PathListDataset``.

Every dataset item is ``{"image": uint8 HxW, "text": str, "meta": dict}``. A bad item never crashes an
epoch: paths escaping the dataset root are refused when the list is read; missing, unreadable,
truncated or oversized (decompression bomb) images make ``__getitem__`` return ``None`` (``Collate``
drops it and counts it) and are counted in ``.errors`` with the file named in ``.problems``.
"""
from __future__ import annotations

import io
import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from PIL import Image

from aksar.core.errors import AksarError
from aksar.data.files import (MAX_PIXELS, OUTSIDE_ROOT_FLAG, BadImage, decode_image, image_size,
                              outside_root_message, read_list, safe_join)
from aksar.data.preprocess import PreprocessConfig, target_width

log = logging.getLogger(__name__)

MAX_PROBLEMS = 1000  # named problems kept per dataset (all are counted)
LMDB_NUM_KEY = b"num-samples"


class _ImageDataset:
    """Shared parts: counting problems, item construction, widths."""

    def __init__(self, max_pixels: int = MAX_PIXELS) -> None:
        self.errors: Counter = Counter()
        self.problems: list[str] = []
        self.dropped = 0  # entries dropped while listing (not in len(); counted in errors)
        self.max_pixels = max_pixels

    def _problem(self, reason: str, where: str, detail: str = "") -> None:
        self.errors[reason] += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {reason}" + (f" ({detail})" if detail else ""))
        log.warning("skipped %s: %s%s", where, reason, f" ({detail})" if detail else "")

    def _drop(self, reason: str, where: str, detail: str = "") -> None:
        """A listed entry that never becomes an item (bad line, path refused, image missing)."""
        self.dropped += 1
        self._problem(reason, where, detail)

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def __iter__(self) -> Iterator[dict[str, Any] | None]:
        for i in range(len(self)):
            yield self[i]

    def texts(self) -> list[str]:
        return [self.text(i) for i in range(len(self))]

    def text(self, i: int) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _sizes_from_metadata(self, folder: Path) -> None:
        """Image sizes recorded in ``folder/metadata.json`` (generate/valset), so widths need no file reads."""
        self._known_sizes: dict[str, tuple[int, int]] = {}
        meta = folder / "metadata.json"
        if not meta.is_file():
            return
        try:
            samples = json.loads(meta.read_text(encoding="utf-8")).get("samples", [])
            self._known_sizes = {s["image_path"]: (int(s["width"]), int(s["height"])) for s in samples}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self._known_sizes = {}

    def _rel(self, i: int) -> str | None:
        return None

    def widths(self, cfg: PreprocessConfig | None = None) -> list[int]:
        """Each item's width after the height resize (metadata or image headers; unreadable -> max_width)."""
        cfg = cfg or PreprocessConfig()
        known = getattr(self, "_known_sizes", {})
        out = []
        for i in range(len(self)):
            try:
                rel = self._rel(i)
                w, h = known[rel] if rel in known else self.size(i)
                out.append(target_width(h, w, cfg)[0])
            except Exception:  # a bad image is counted when it is read; here it only needs a bucket
                out.append(cfg.max_width)
        return out

    def size(self, i: int) -> tuple[int, int]:  # pragma: no cover - overridden
        raise NotImplementedError


class PathListDataset(_ImageDataset):
    """Items listed as (image path, text) pairs with paths relative to ``root``; the shared part of every
    list reader (labels.tsv, PaddleOCR, trdg, docTR, tesstrain). Empty texts and refused paths (see
    ``safe_join``) are dropped and counted."""

    def __init__(self, root: str | Path, allow_outside_root: bool = False, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(max_pixels)
        self.root = Path(root)
        self.allow_outside_root = allow_outside_root
        self.items: list[tuple[str, str]] = []
        self._paths: list[Path] = []

    def _add(self, rel: str, label: str, where: str) -> None:
        if not label:
            self._drop("empty_label", where)
            return
        full = safe_join(self.root, rel, self.allow_outside_root)
        if full is None:
            self._drop("path_outside_root", where, f"{rel}; pass {OUTSIDE_ROOT_FLAG} to read it")
            return
        self.items.append((rel, label))
        self._paths.append(full)

    def __len__(self) -> int:
        return len(self.items)

    def _rel(self, i: int) -> str | None:
        return self.items[i][0]

    def text(self, i: int) -> str:
        return self.items[i][1]

    def path(self, i: int) -> Path:
        return self._paths[i]

    def size(self, i: int) -> tuple[int, int]:
        return image_size(self.path(i))

    def raw(self, i: int) -> tuple[bytes, str]:
        """The image file's bytes and the label (for copying into LMDB without re-encoding)."""
        return self.path(i).read_bytes(), self.items[i][1]

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        rel, label = self.items[i]
        try:
            img = decode_image(self.path(i), self.max_pixels)
        except BadImage as exc:
            self._problem(exc.reason, str(self.path(i)), str(exc))
            return None
        return {"image": img, "text": label, "meta": {"path": rel, "index": i}}


class LabelFileDataset(PathListDataset):
    """A label list: one ``relative/path<TAB>text`` per line (PaddleOCR lists, ``labels.tsv``); ``-`` reads
    the list from standard input.

    Paths are relative to ``root`` (default: the list file's directory, the working directory for
    ``-``). Lines without a separator or with an empty text, and refused paths, are dropped and counted.
    """

    separator_help = "expected path<TAB>text"

    def __init__(self, label_file: str | Path, root: str | Path | None = None, max_pixels: int = MAX_PIXELS,
                 allow_outside_root: bool = False) -> None:
        lines, name, default_root = read_list(label_file)
        super().__init__(root if root is not None else default_root, allow_outside_root, max_pixels)
        self.label_file = Path(label_file) if name != "<stdin>" else None
        for lineno, line in enumerate(lines, 1):
            line = line.rstrip("\r")
            if not line.strip():
                continue
            where = f"{name}:{lineno}"
            pair = self._split(line)
            if pair is None:
                self._drop("malformed_line", where, self.separator_help)
                continue
            self._add(pair[0], pair[1], where)
        self._sizes_from_metadata(self.root)

    @staticmethod
    def _split(line: str) -> tuple[str, str] | None:
        return tuple(line.split("\t", 1)) if "\t" in line else None  # type: ignore[return-value]


class PregeneratedDataset(_ImageDataset):
    """One split of the ``aksar generate`` layout: ``root/split/{images,labels}/split_NNNNNN.{png,txt}``.

    Pairs are found by listing ``labels/`` (the label is written last, so a label marks a finished
    pair); a label without its image is skipped and counted.
    """

    def __init__(self, root: str | Path, split: str, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(max_pixels)
        self.root = Path(root)
        self.split = split
        self.split_dir = self.root / split
        labels_dir = self.split_dir / "labels"
        if not labels_dir.is_dir():
            raise AksarError(f"not a pre-generated split (no labels/ folder): {self.split_dir}")
        self.stems: list[str] = []
        images_dir = self.split_dir / "images"
        for entry in sorted(os.scandir(labels_dir), key=lambda e: e.name):
            if not entry.name.endswith(".txt") or entry.name.startswith("."):
                continue
            stem = entry.name[:-4]
            if not (images_dir / f"{stem}.png").is_file():
                self._drop("missing_image", str(images_dir / f"{stem}.png"))
                continue
            self.stems.append(stem)
        self._sizes_from_metadata(self.split_dir)

    def __len__(self) -> int:
        return len(self.stems)

    def _rel(self, i: int) -> str | None:
        return f"images/{self.stems[i]}.png"

    def path(self, i: int) -> Path:
        return self.split_dir / "images" / f"{self.stems[i]}.png"

    def label_path(self, i: int) -> Path:
        return self.split_dir / "labels" / f"{self.stems[i]}.txt"

    def text(self, i: int) -> str:
        return self.label_path(i).read_text(encoding="utf-8").rstrip("\r\n")

    def size(self, i: int) -> tuple[int, int]:
        return image_size(self.path(i))

    def raw(self, i: int) -> tuple[bytes, str]:
        return self.path(i).read_bytes(), self.text(i)

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        try:
            label = self.text(i)
        except (OSError, UnicodeDecodeError) as exc:
            self._problem("unreadable_label", str(self.label_path(i)), str(exc))
            return None
        if not label:
            self._problem("empty_label", str(self.label_path(i)))
            return None
        try:
            img = decode_image(self.path(i), self.max_pixels)
        except BadImage as exc:
            self._problem(exc.reason, str(self.path(i)), str(exc))
            return None
        return {"image": img, "text": label, "meta": {"path": f"images/{self.stems[i]}.png", "index": i,
                                                      "split": self.split}}


class LmdbDataset(_ImageDataset):
    """LMDB in the PaddleOCR / PARSeq layout: ``num-samples``, ``image-%09d`` and ``label-%09d`` (1-based).

    The environment is opened lazily per process (safe with DataLoader workers).
    """

    def __init__(self, path: str | Path, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(max_pixels)
        self.path_ = Path(path)
        if not (self.path_ / "data.mdb").is_file():
            raise AksarError(f"not an LMDB folder (no data.mdb): {self.path_}")
        self._env = None
        self._pid = None
        with self._txn() as txn:
            raw = txn.get(LMDB_NUM_KEY)
        if raw is None:
            raise AksarError(f"{self.path_}: LMDB has no 'num-samples' key")
        try:
            self.num_samples = int(raw.decode())
        except ValueError:
            raise AksarError(f"{self.path_}: 'num-samples' is not an integer: {raw!r}") from None

    def _txn(self):
        import lmdb

        if self._env is not None and self._pid != os.getpid():
            self._env.close()  # inherited through fork: never use it in this process
            self._env = None
        if self._env is None:
            self._env = lmdb.open(str(self.path_), readonly=True, lock=False, readahead=False, meminit=False,
                                  max_readers=64)
            self._pid = os.getpid()
        return self._env.begin(write=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_env"] = None
        state["_pid"] = None
        return state

    def __len__(self) -> int:
        return self.num_samples

    def _get(self, i: int) -> tuple[bytes | None, bytes | None]:
        with self._txn() as txn:
            return txn.get(b"image-%09d" % (i + 1)), txn.get(b"label-%09d" % (i + 1))

    def text(self, i: int) -> str:
        label = self._get(i)[1]
        return label.decode("utf-8") if label is not None else ""

    def raw(self, i: int) -> tuple[bytes, str]:
        img, label = self._get(i)
        if img is None or label is None:
            raise BadImage("missing_image" if img is None else "missing_label", f"image-{i + 1:09d}")
        return img, label.decode("utf-8")

    def size(self, i: int) -> tuple[int, int]:
        img = self._get(i)[0]
        if img is None:
            raise BadImage("missing_image")
        with Image.open(io.BytesIO(img)) as im:
            return im.size

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        where = f"{self.path_}:image-{i + 1:09d}"
        img_bytes, label = self._get(i)
        if img_bytes is None:
            self._problem("missing_image", where)
            return None
        if label is None:
            self._problem("missing_label", f"{self.path_}:label-{i + 1:09d}")
            return None
        try:
            text = label.decode("utf-8")
        except UnicodeDecodeError:
            self._problem("label_not_utf8", f"{self.path_}:label-{i + 1:09d}")
            return None
        try:
            img = decode_image(img_bytes, self.max_pixels)
        except BadImage as exc:
            self._problem(exc.reason, where, str(exc))
            return None
        return {"image": img, "text": text, "meta": {"key": f"image-{i + 1:09d}", "index": i}}


def open_dataset(path: str | Path, split: str | None = None, allow_outside_root: bool = False) -> _ImageDataset:
    """Open a dataset, detecting its kind.

    - ``-``: a label list read from standard input (paths relative to the working directory);
    - a file: a label list (``relative/path<TAB>text``, paths relative to the file's folder); a trdg
      ``labels.txt`` (``name text``) or a docTR ``*.json`` (``{"img.png": "text"}``);
    - a folder with ``data.mdb``: LMDB; with ``labels.tsv``: that list (the validation set, exports);
    - a split folder of the pre-generated layout (``images/`` + ``labels/``): that split;
    - a folder with docTR ``labels.json``, trdg ``labels.txt``, or tesstrain ``*.gt.txt`` line files;
    - a pre-generated root (``train/``, ``val/``...): give ``split`` (or open ``ROOT/SPLIT``);
    - WebDataset tar shards (a folder of ``*.tar`` / ``index.json``, ``a_{000000..000009}.tar``, one ``.tar``):
      a ``ShardStream``, an iterable dataset for training only.

    ``allow_outside_root`` lets list entries name files outside the list's folder (see ``safe_join``).
    """
    from aksar.data import formats
    from aksar.data.shards import is_shard_spec

    if str(path) == "-":
        return LabelFileDataset("-", allow_outside_root=allow_outside_root)
    if is_shard_spec(path):
        from aksar.data.webdataset import ShardStream

        return ShardStream(path)  # a stream for training (aksar.data.webdataset), not a map-style reader
    p = Path(path)
    if p.is_file():
        return formats.open_list_file(p, allow_outside_root)
    if not p.is_dir():
        raise AksarError(f"dataset not found: {p}")
    if (p / "data.mdb").is_file():
        return LmdbDataset(p)
    if split is not None and (p / split / "labels").is_dir():
        return PregeneratedDataset(p, split)
    if (p / "labels.tsv").is_file():
        return LabelFileDataset(p / "labels.tsv", allow_outside_root=allow_outside_root)
    if (p / "labels").is_dir() and (p / "images").is_dir():
        return PregeneratedDataset(p.parent, p.name)
    found = formats.open_folder(p, allow_outside_root)
    if found is not None:
        return found
    splits = sorted(d.name for d in p.iterdir() if (d / "labels").is_dir())
    if splits:
        raise AksarError(f"{p} is a pre-generated root with splits {', '.join(splits)}: "
                         f"open one of them, e.g. {p / splits[0]}")
    raise AksarError(f"{p}: not a dataset (expected labels.tsv, data.mdb, images/ + labels/, labels.json "
                     "(docTR), labels.txt (trdg) or *.gt.txt line files (tesstrain))")


__all__ = [
    "PathListDataset", "LabelFileDataset", "PregeneratedDataset", "LmdbDataset", "open_dataset", "decode_image",
    "BadImage", "safe_join", "outside_root_message", "read_list", "OUTSIDE_ROOT_FLAG", "MAX_PIXELS",
]
