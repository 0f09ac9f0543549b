"""Defaults of inference and evaluation (the one source of defaults for the Python API and the CLI).

Kept free of heavy imports so that building the CLI parser stays fast.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class InferConfig:
    """How a Recognizer runs (``aksar predict`` / ``aksar eval`` flags)."""

    decoder: str = "greedy"      # greedy | beam
    beam_width: int = 5
    lm: str | None = None        # character n-gram model (aksar lm build) fused into the beam search;
    #                              "shipped": the one that ships with a shipped model (aksar models)
    lm_weight: float | None = None  # weight of its log probability per token (None: LM_WEIGHT, or the
    #                                 shipped LM's tuned value)
    lm_bonus: float | None = None   # added per emitted token (offsets the LM's preference for short texts)

    batch_size: int = 32
    threads: int | None = None   # onnxruntime intra-op threads / torch.set_num_threads; None = library default
    device: str = "cpu"


LM_WEIGHT, LM_BONUS = 0.4, 1.5     # tuned on Khmer validation lines (docs/inference.md)
SHIPPED_LM = "shipped"


@dataclass
class EvalConfig:
    """Options of ``aksar eval``."""

    worst: int = 30             # worst lines shown in the HTML report
    top_confusions: int = 40    # confusion pairs listed
    max_lines: int | None = None
    segmenter: str = "auto"     # "auto": a word segmenter for the script if one is installed; "none"
    allow_outside_root: bool = False  # list entries may name images outside the list's folder


DECODERS = ("greedy", "beam")

__all__ = ["InferConfig", "EvalConfig", "DECODERS", "LM_WEIGHT", "LM_BONUS", "SHIPPED_LM"]
