"""`aksar ocr INPUT...`: read whole pages (images, multi-page TIFF, PDF, folders, lists) into text and page formats.

Each input file gives ``DIR/<stem>.<ext>`` per format (``<stem>_<suffix>`` when two inputs share a stem).
The output folder is aksar's: ``ocr_outputs.json`` records kind ``aksar-ocr`` and the files written; a
non-empty folder without it is refused unless ``--overwrite``, and even then a file aksar did not write
is never replaced.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from contextlib import ExitStack
from typing import Any, Callable

from aksar.cli.flags import add_config, resolve
from aksar.core.errors import AksarError
from aksar.infer.config import OCR_FORMATS, OcrConfig

log = logging.getLogger(__name__)

MARKER, KIND = "ocr_outputs.json", "aksar-ocr"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ocr", help="read whole pages: detect lines, recognise, write txt/json/hocr/alto/page/pdf",
                       description="Pages from images, multi-page TIFFs, PDFs, folders (not recursive) and list "
                                   "files (@FILE, or .txt/.lst/.list: one path per line) are read with a text-line "
                                   "detector and a recognizer; each input gives DIR/<stem>.<ext> per format.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="images, PDFs, folders, or list files (- = stdin)")
    add_config(p, OcrConfig, names={"formats": "--format"}, aliases={"output_dir": ["--out-dir"]},
               required=("output_dir",), progress=True,
               fields=["output_dir", "formats", "det", "rec", "dpi", "det_limit_side", "drop_score", "overwrite",
                       "allow_outside_root", "infer.*"])
    p.set_defaults(func=cmd_ocr)


def parse_formats(values: list[str]) -> list[str]:
    """``["txt,json", "pdf"]`` -> ``["txt", "json", "pdf"]`` (each known format once, in order)."""
    out: list[str] = []
    for value in values:
        for fmt in filter(None, (v.strip().lower() for v in value.split(","))):
            if fmt not in OCR_FORMATS:
                raise AksarError(f"--format: unknown format {fmt!r}; expected {', '.join(OCR_FORMATS)}")
            if fmt not in out:
                out.append(fmt)
    if not out:
        raise AksarError(f"--format: give at least one of {', '.join(OCR_FORMATS)}")
    return out


# -- output folder --------------------------------------------------------------------------------------

class OutputFolder:
    """The ``aksar ocr`` output folder: claims it, names files, refuses to replace files it did not write."""

    def __init__(self, out: Path, overwrite: bool, settings: dict[str, Any]) -> None:
        from aksar.core.outputs import claim_output_dir

        previous = claim_output_dir(out, MARKER, KIND, "aksar ocr", "OCR output", overwrite)
        self.out = out
        self.owned: set[str] = set((previous or {}).get("files") or [])
        self.stems: set[str] = set()
        self.settings = settings

    def stem(self, source: str) -> str:
        """A stem for ``source`` not yet used in this run (``scan``, then ``scan_pdf``, ``scan_pdf_2``...)."""
        path = Path(source)
        base = path.stem or "page"
        stem, alt, k = base, f"{base}_{path.suffix.lstrip('.').lower() or 'page'}", 1
        while stem in self.stems:
            stem = alt if k == 1 else f"{alt}_{k}"
            k += 1
        self.stems.add(stem)
        return stem

    def check(self, names: list[str]) -> None:
        """AksarError if one of ``names`` exists in the folder and was not written by aksar ocr."""
        for name in names:
            if (self.out / name).exists() and name not in self.owned:
                raise AksarError(f"{self.out / name} exists and was not written by aksar ocr; move it away or "
                                 "choose another output folder")

    def record(self, files: list[Path]) -> None:
        """Note ``files`` as written by aksar ocr in the marker (creating the folder)."""
        from aksar.core.io import atomic_write_json

        self.owned.update(p.name for p in files)
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.out / MARKER, {"kind": KIND, "settings": self.settings, "files": sorted(self.owned)})


# -- the command ----------------------------------------------------------------------------------------

def _reader(cfg: OcrConfig):
    from aksar.infer.reader import Reader

    i = cfg.infer
    return Reader(det=cfg.det, rec=cfg.rec, threads=i.threads, batch_size=i.batch_size, decoder=i.decoder,
                  beam_width=i.beam_width, lm=i.lm, lm_weight=i.lm_weight, lm_bonus=i.lm_bonus,
                  det_limit_side=cfg.det_limit_side, drop_score=cfg.drop_score, device=i.device)


def _decoding(rec: Any) -> str:
    """How the recognizer decodes, for the summary line."""
    if rec.lm is not None:
        return f"beam search with a language model, weight {rec.lm_weight:g}, bonus {rec.lm_bonus:g}; --lm none: greedy"
    return f"{rec.decoder} decoding, no language model"


def read_source(reader: Any, inputs: Any, src: Any, pdf_path: Path | None, on_page: Callable[[Any], None]) -> Any:
    """Every page of one input read into a Document; with ``pdf_path``, its searchable PDF written page by page
    (kept only if every page was read: an error removes the unfinished file)."""
    from aksar.infer.document import Document
    from aksar.infer.pdf_layer import SearchablePdf

    doc = Document(models=reader.describe())
    with ExitStack() as stack:
        pdf = None
        for p in inputs.pages_of(src):
            if pdf is None and pdf_path is not None:
                pdf = stack.enter_context(SearchablePdf(pdf_path, script=reader.recognizer.script))
            page = reader.read_page(p.image, index=len(doc.pages), source=p.source, source_page=p.page, dpi=p.dpi)
            doc.pages.append(page)
            if pdf is not None:
                pdf.add_page(page, p.image)
            on_page(page)
    return doc


def cmd_ocr(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from aksar.core.config import to_dict
    from aksar.infer.page_inputs import PageInputs
    from aksar.infer.page_outputs import WRITERS, output_names

    cfg = resolve(args)
    formats = parse_formats(cfg.formats)
    inputs = PageInputs.from_inputs(args.inputs, dpi=cfg.dpi, allow_outside_root=cfg.allow_outside_root)
    total = inputs.count_pages()
    out = OutputFolder(Path(cfg.output_dir), cfg.overwrite, {**to_dict(cfg), "formats": formats})
    stems = [out.stem(src.name) for src in inputs.sources]
    out.check([name for src, stem in zip(inputs.sources, stems) for f in formats  # before any work
               for name in ([f"{stem}.pdf"] if f == "pdf" else output_names(f, stem, inputs.counts.get(src.name, 0)))])
    reader = _reader(cfg)  # bad models or settings stop here, before the folder exists
    out.record([])  # the folder and its marker first: what follows is aksar's
    start = time.perf_counter()
    n_pages = n_lines = 0
    with tqdm(total=total, unit="page", desc="ocr", file=sys.stderr, dynamic_ncols=True,
              disable=not args.progress) as bar:
        for src, stem in zip(inputs.sources, stems):
            def on_page(page: Any, name: str = src.name) -> None:
                nonlocal n_pages, n_lines
                n_pages, n_lines = n_pages + 1, n_lines + len(page.lines)
                bar.update(1)
                if not args.progress:
                    log.info("%s page %d: %d lines (%.2f pages/s)", name, page.source_page + 1, len(page.lines),
                             n_pages / max(time.perf_counter() - start, 1e-9))

            pdf_path = out.out / f"{stem}.pdf" if "pdf" in formats else None
            doc = read_source(reader, inputs, src, pdf_path, on_page)
            written = [pdf_path] if pdf_path is not None and doc.pages else []
            if doc.pages:
                for fmt in formats:
                    if fmt != "pdf":
                        written += WRITERS[fmt](doc, out.out, stem)
            out.record(written)
    seconds = time.perf_counter() - start
    for _, reason in inputs.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(f"{n_pages} pages, {n_lines} lines ({reader.stats['empty_lines']} detected lines read as nothing and "
          f"{reader.stats['low_confidence_lines']} below --drop-score {reader.drop_score:g}, dropped), "
          f"{len(inputs.skipped)} input(s) skipped; "
          f"{seconds / max(n_pages, 1):.2f} s per page ({_decoding(reader.recognizer)}); outputs in {out.out}")
    return 0 if n_pages else 1
