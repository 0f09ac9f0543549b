"""Defaults of inference and evaluation (the one source of defaults for the Python API and the CLI).

Kept free of heavy imports so that building the CLI parser stays fast. Help sits beside each field
(``metadata["help"]``, shown by the command's ``--help``).
"""
from __future__ import annotations

from dataclasses import dataclass

from aksar.core.config import opt

LM_WEIGHT, LM_BONUS = 0.4, 1.5     # tuned on Khmer validation lines (docs/inference.md)
SHIPPED_LM = "shipped"   # --lm shipped: the LM that ships with the model (an error if it has none)
AUTO_LM = "auto"         # --lm auto: the shipped LM when the model has one, else none (page reading's default)
NO_LM = "none"           # --lm none: no LM
DECODERS = ("greedy", "beam")
OUTSIDE_ROOT_HELP = "let a list name files outside its folder (absolute, ../ or symlinked paths); refused by default"


LM_HELP = ("character language model (aksar lm build) fused into the beam search (CTC; implies --decoder beam); "
           "'shipped': the one that ships with the model; 'auto': that one if the model ships one; 'none'")
LM_METAVAR = "FILE|shipped|auto|none"


@dataclass
class InferConfig:
    """How a Recognizer runs (``aksar predict`` / ``aksar eval`` flags)."""

    decoder: str = opt("greedy", "greedy, or beam search (CTC: prefix beam search)", choices=DECODERS)
    beam_width: int = opt(16, "hypotheses kept by the beam search")
    lm: str | None = opt(None, LM_HELP, metavar=LM_METAVAR)
    lm_weight: float | None = opt(None, "weight of the LM log probability per token (default: the shipped LM's, "
                                        f"else {LM_WEIGHT})")
    lm_bonus: float | None = opt(None, "score added per emitted token with --lm (offsets the LM's preference for "
                                       f"short texts; default: the shipped LM's, else {LM_BONUS})")
    batch_size: int = opt(32, "lines per batch")
    threads: int | None = opt(None, "CPU threads (onnxruntime intra-op / torch.set_num_threads; default: "
                                    "library default)", metavar="N")
    device: str = opt("cpu", "torch device for checkpoints")


@dataclass
class EvalConfig:
    """Options of ``aksar eval``."""

    worst: int = opt(30, "worst lines (pages, for a detector) shown in the HTML report")
    top_confusions: int = opt(40, "confusion pairs listed")
    max_lines: int | None = opt(None, "evaluate only the first N lines (pages, for a detector)")
    segmenter: str = opt("auto", "word segmenter for the second WER (auto: one for the script if installed)",
                         choices=("auto", "none"))
    allow_outside_root: bool = opt(False, OUTSIDE_ROOT_HELP)


@dataclass
class EvalRunConfig:
    """``aksar eval MODEL DATA``: where the report goes, the evaluation and how the model runs."""

    output_dir: str = opt("eval_report", "where report.json and report.html go", metavar="DIR")
    eval: EvalConfig = opt(factory=EvalConfig, help="evaluation options")
    infer: InferConfig = opt(factory=InferConfig, help="how the model runs")


@dataclass
class PredictConfig:
    """``aksar predict MODEL INPUT...``."""

    out: str | None = opt(None, "write predictions here (default: stdout)", metavar="FILE")
    skip_bad: bool = opt(False, "skip unreadable/empty/huge images (each named on stderr, counted) instead of "
                                "stopping")
    allow_outside_root: bool = opt(False, OUTSIDE_ROOT_HELP)
    infer: InferConfig = opt(factory=InferConfig, help="how the model runs")


@dataclass
class PageInferConfig(InferConfig):
    """How the recognizer of a page reader runs: as :class:`InferConfig`, with the shipped LM by default (on the
    evaluation pages it lowers page CER for both scripts, at about twice the time per page)."""

    lm: str | None = opt(AUTO_LM, LM_HELP, metavar=LM_METAVAR)


OCR_FORMATS = ("txt", "json", "hocr", "alto", "page", "pdf")
DROP_SCORE = 0.1  # page lines read with a lower confidence are left out (Reader, aksar ocr; chosen on tuning pages)


@dataclass
class OcrConfig:
    """``aksar ocr INPUT...``: pages in, text and page formats out."""

    output_dir: str | None = opt(None, "where the outputs go: DIR/<input stem>.<ext>", metavar="DIR")
    formats: list[str] = opt(factory=lambda: ["txt"], help="output formats, several allowed (space or comma "
                             f"separated): {', '.join(OCR_FORMATS)}", metavar="FMT")
    det: str | None = opt(None, "text-line detector: exported .onnx, checkpoint, or a shipped name (default: the "
                                "shipped detector for the recognizer's script)", metavar="MODEL")
    rec: str = opt("khmer", "recognizer: exported .onnx, checkpoint, or a shipped name", metavar="MODEL")
    dpi: float = opt(300.0, "resolution PDFs are rasterized at")
    det_limit_side: int | None = opt(None, "detector input long side in pixels (default: the model's)", metavar="N")
    drop_score: float = opt(DROP_SCORE, "lines read with a confidence below this are left out and counted "
                                        "(specks and rules the detector took for text; 0: keep every line)",
                            metavar="X")
    overwrite: bool = opt(False, "write into a non-empty folder aksar did not make (only ever replacing the "
                                 "files aksar ocr writes)")
    allow_outside_root: bool = opt(False, OUTSIDE_ROOT_HELP)
    infer: PageInferConfig = opt(factory=PageInferConfig, help="how the recognizer runs")


@dataclass
class ExportConfig:
    """``aksar export CHECKPOINT``."""

    out: str | None = opt(None, "the .onnx file to write", metavar="FILE")
    check: bool = opt(True, "check PyTorch/onnxruntime parity of the export")
    atol: float | None = opt(None, "parity tolerance on output probabilities (default: 1e-4)", metavar="X")
    opset: int | None = opt(None, "ONNX opset (default: 17)")


@dataclass
class ServeConfig:
    """``aksar serve``: the models, where it listens and the limits of every request (docs/notes/server.md)."""

    det: str = opt("khmer_det", "text-line detector for POST /ocr: a path or a shipped model's name; 'none': "
                                "serve /recognize only (/ocr answers 503)", metavar="MODEL")
    rec: str = opt("khmer", "recognizer: a path or a shipped model's name", metavar="MODEL")
    lm: str | None = opt(AUTO_LM, LM_HELP.replace("the model", "--rec"), metavar=LM_METAVAR)
    host: str = opt("127.0.0.1", "address to listen on (0.0.0.0: every interface)")
    port: int = opt(8000, "TCP port")
    threads: int | None = opt(1, "onnxruntime intra-op threads per model (shared by all requests)", metavar="N")
    max_concurrency: int = opt(2, "requests read at the same time (each in a worker thread)", metavar="N")
    max_queue: int = opt(16, "requests waiting for a worker; more are refused with 503", metavar="N")
    timeout_s: float = opt(60.0, "seconds a request may take, waiting included (503 while queued, 504 while "
                                 "reading)", metavar="S")
    max_upload_bytes: int = opt(20_000_000, "largest request body in bytes (413)", metavar="BYTES")
    max_pixels: int = opt(40_000_000, "largest image (or PDF page at --dpi) in pixels, checked before decoding "
                                      "(413)", metavar="N")
    max_pages: int = opt(20, "most PDF pages read per request (413)", metavar="N")
    max_files: int = opt(64, "most line images per POST /recognize (413)", metavar="N")
    dpi: float = opt(300.0, "resolution PDF pages are rasterized at")


__all__ = ["InferConfig", "OcrConfig", "OCR_FORMATS", "ServeConfig", "EvalConfig", "EvalRunConfig", "PredictConfig", "ExportConfig", "DECODERS", "LM_WEIGHT",
           "LM_BONUS", "SHIPPED_LM", "AUTO_LM", "NO_LM",
           "PageInferConfig"]
