"""Settings of the commands that have no config class of their own elsewhere (their flags come from here).

Each class is one command's ``--config`` YAML mapping; help sits beside each field (``opt``). Commands
with a library config use it directly: ``generate`` (GenerateConfig), ``valset`` (ValsetConfig),
``evalset build`` (EvalsetConfig), ``train`` (TrainConfig), ``eval``/``predict``/``export``
(aksar.infer.config).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aksar.core.config import opt
from aksar.render.fonts import DEFAULT_MIN_COVERAGE
from aksar.render.renderer import RenderConfig
from aksar.render.synth import SynthConfig
from aksar.text.corpus import CorpusConfig

CORPUS_DIR = "data/processed"
DEFAULT_EXTRA = list(CorpusConfig().charset_extra)


@dataclass
class CorpusBuildConfig:
    """``aksar corpus build``: inputs, output folder and the corpus filters (section ``corpus``)."""

    preset: str | None = opt(None, "built-in corpus (input; with or without --input)")
    input: list[str] = opt(factory=list, help="UTF-8 text files, one line per line (input)", metavar="FILE")
    output_dir: str = opt(CORPUS_DIR, "where to write the corpus", metavar="DIR")
    script: str | None = opt(None, "target script (default: the preset's, else detected from the input files)")
    corpus: CorpusConfig = opt(factory=CorpusConfig, help="filters and split (script is set from --script)")


@dataclass
class CorpusStatsConfig:
    corpus_dir: str = opt(CORPUS_DIR, "a built corpus")


@dataclass
class CharsetBuildConfig:
    input: list[str] = opt(factory=list, help="text files, or corpus directories (their train/val/test.txt)",
                           metavar="FILE_OR_DIR")
    out: str | None = opt(None, "dictionary file to write", metavar="FILE")
    extra: list[str] = opt(factory=lambda: list(DEFAULT_EXTRA), help="extra token sets")
    min_count: int = opt(1, "drop characters seen fewer times")
    script: str | None = opt(None, "adds this script's digits to the digits set")


@dataclass
class CharsetAuditConfig:
    charset: str | None = opt(None, "dictionary file", metavar="FILE")
    input: list[str] = opt(factory=list, help="text files, or corpus directories (their train/val/test.txt)",
                           metavar="FILE_OR_DIR")
    top: int = opt(50, "list at most this many characters")
    out: str | None = opt(None, "also write the full report here as JSON", metavar="FILE")
    strict: bool = opt(False, "exit 1 if any character is missing")


@dataclass
class LmBuildConfig:
    input: list[str] = opt(factory=list, help="text files, or corpus directories (their train.txt only: val and "
                                              "test score models)", metavar="FILE_OR_DIR")
    out: str | None = opt(None, "model file to write (.json.gz)", metavar="FILE")
    order: int = opt(5, "n-gram order")
    min_count: int = opt(2, "prune n-grams of order 3 and up seen fewer times")


@dataclass
class FontsConfig:
    script: str | None = opt(None, "script name")
    font_dir: list[str] = opt(factory=list, help="extra folders (or font files) searched before the system "
                                                 "fonts", metavar="DIR")
    system: bool = opt(True, "search the system font folders")
    charset: str | None = opt(None, "measure coverage of this charset instead of the script's letters",
                              metavar="FILE")
    all: bool = opt(False, "also list fonts left out by the default exclude list")
    min_coverage: float = opt(DEFAULT_MIN_COVERAGE, "share of the script's letters a font must have")


@dataclass
class RenderLineConfig:
    """``aksar render TEXT``."""

    font: str | None = opt(None, "font name or file (path#index for .ttc)", metavar="NAME_OR_PATH")
    out: str | None = opt(None, "output image", metavar="PNG")
    script: str | None = opt(None, "script (default: detected from the text)")
    font_size: int = opt(RenderConfig.font_size, "pixels per em")
    height: int | None = opt(None, "scale the result to this height (default: keep font resolution)")
    augment: bool = opt(False, "apply the default augmentation")
    seed: int = opt(0, "seed of --augment")


@dataclass
class PreviewConfig:
    """``aksar preview``; --config also takes a synth config or a training config (its data section)."""

    preset: str | None = opt(None, "corpus preset (default: a training --config's data.preset)")
    corpus: str | None = opt(None, "a built corpus directory (uses train.txt; wins over a preset)", metavar="DIR")
    num_samples: int = opt(32, "number of samples")
    columns: int = opt(4, "columns of the sheet")
    out: str | None = opt(None, "the contact sheet to write", metavar="PNG")
    seed: int = opt(0, "seed of the lines, fonts and augmentation")
    augment: bool = opt(True, "augment the samples")
    font_policy: Literal["random", "hash"] = opt("random", "font choice per line")
    max_text_length: int | None = opt(None, "longest line in characters (default: the corpus as is)")
    text_mix: dict[str, float] | None = opt(None, "kinds of text and their shares, as in training (data.text_mix)")
    synth: SynthConfig = opt(factory=SynthConfig, help="fonts, rendering, augmentation (-o render.height=48 "
                                                       "means synth.render.height)")


@dataclass
class DatasetStatsConfig:
    charset: str | None = opt(None, "charset.txt for coverage (default: found next to the data/corpus)",
                              metavar="FILE")


@dataclass
class ToLmdbConfig:
    src: str | None = opt(None, "labels.tsv folder or list file, pre-generated split, or LMDB")
    output_dir: str | None = opt(None, "new LMDB folder")


@dataclass
class ModelShowConfig:
    name: str | None = opt(None, "model name or alias")


@dataclass
class ModelCardConfig:
    """``aksar models card ONNX``."""

    name: str | None = opt(None, "model name, e.g. khmer_rec_v7")
    output_dir: str | None = opt(None, "the model's folder, e.g. src/aksar/zoo/khmer_rec_v7", metavar="DIR")
    alias: list[str] = opt(factory=list, help="other names, e.g. khmer")
    checkpoint: str | None = opt(None, "the checkpoint it was exported from (config, corpus, fonts, steps)")
    eval_json: list[str] = opt(factory=list, help="`aksar eval` report.json files (SET names the evaluation "
                                                  "set)", metavar="[SET=]REPORT")
    train_config: str | None = opt(None, "the training config that retrains it, e.g. "
                                         "configs/khmer_rec_ship.yaml", metavar="YAML")
    hardware: str | None = opt(None, "e.g. '1x H100'")
    hours: float | None = opt(None, "training wall-clock hours")
    limit: list[str] = opt(factory=list, help="known limits")
    task: Literal["recognition", "detection"] = opt("recognition", "what the model does")
    script: str | None = opt(None, "the script it reads (default: the export's, else the checkpoint's preset)")
    lm: str | None = opt(None, "a character language model (aksar lm build) shipped with the model: "
                               "predict/eval --model NAME --lm shipped", metavar="FILE")
    lm_weight: float | None = opt(None, "its tuned weight (default: the built-in one)")
    lm_bonus: float | None = opt(None, "its tuned per-token bonus")


__all__ = ["CorpusBuildConfig", "CorpusStatsConfig", "CharsetBuildConfig", "CharsetAuditConfig", "LmBuildConfig",
           "FontsConfig", "RenderLineConfig", "PreviewConfig", "DatasetStatsConfig", "ToLmdbConfig", "ModelShowConfig",
           "ModelCardConfig"]
