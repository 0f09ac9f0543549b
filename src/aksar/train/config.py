"""Training configuration: one dataclass tree, the single source of defaults for YAML, CLI and Python.

YAML sections (``global`` is accepted as an alias of ``run``, PaddleOCR style)::

    task:           name (recognition; a name registered in aksar.train.tasks), options (the task's own)
    run:            seed, device, precision, epochs, max_steps, max_minutes, output_dir, ...
    model:          name, kwargs, init_from (fine-tune; a different charset keeps shared characters)
    data:           preset, corpus_dir, charset, samples_per_epoch, batch_size, synth, preprocess, ...
    loss:           name (auto|ctc|ce|focal|focal_ctc|focal_ce), label_smoothing, gamma, alpha
    optimizer:      name (adam|adamw|sgd), lr, weight_decay, grad_clip, accumulate_steps, ...
    scheduler:      name (none|steplr|cosine|plateau|onecycle), warmup_steps, ...
    checkpoint:     every_n_epochs, keep_last
    early_stopping: patience, min_delta, metric, mode, restore_best, target (target_cer)
    logging:        log_every_steps, tensorboard, num_samples
    distill:        teacher, weight, temperature (knowledge distillation from a trained checkpoint)

``load_config(path, overrides)`` reads YAML, applies ``-o section.key=value`` overrides and validates:
unknown keys, wrong types and invalid numbers (``validate_config``) are AksarErrors naming the key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aksar.core.config import apply_overrides, from_dict, load_yaml
from aksar.core.errors import AksarError
from aksar.data.preprocess import PreprocessConfig
from aksar.render.synth import SynthConfig
from aksar.text.corpus import CorpusConfig


@dataclass
class TaskConfig:
    """What is trained (YAML ``task: recognition`` or a ``task`` section); see :mod:`aksar.train.tasks`."""

    name: str = "recognition"
    options: dict[str, Any] = field(default_factory=dict)  # settings of the task itself


@dataclass
class RunConfig:
    """Run-wide settings (YAML section ``run`` or ``global``)."""

    output_dir: str = "runs/default"
    seed: int = 42
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["fp32", "fp16", "bf16"] = "fp32"  # fp16/bf16: autocast on CUDA only
    epochs: int = 10
    max_steps: int | None = None  # stop after this many optimizer steps (across resumes)
    max_minutes: float | None = None  # wall-clock budget of one invocation; stops with a checkpoint
    val_every_steps: int = 0  # 0 = only at the end of each epoch
    val_every_epochs: int = 1
    deterministic: bool = True  # torch.use_deterministic_algorithms (warn only) + cudnn deterministic
    cudnn_benchmark: bool = False  # only used when deterministic is false
    threads: int | None = None  # torch CPU threads (None: torch default)
    overwrite: bool = False  # start afresh in an output_dir that already holds checkpoints
    replan_after_steps: int = 30  # with max_minutes: fit the LR schedule to the budget after N steps (0: off)

    def __post_init__(self) -> None:
        dev = self.device
        if not (dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit())):
            raise AksarError(f"run.device: expected auto, cpu, cuda or cuda:N, got {dev!r}")


@dataclass
class ModelConfig:
    """Which architecture (``aksar.models.build_model`` name and keyword arguments)."""

    name: str = "ctc_small"
    kwargs: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = None  # checkpoint to fine-tune from (weights only; charset may differ)


@dataclass
class DataConfig:
    """Training data (on the fly from a corpus, or a dataset on disk) and the fixed validation set."""

    preset: str | None = None  # a built-in corpus (aksar.text.presets.PRESETS) to build data.corpus_dir from if missing
    corpus_dir: str = "data/processed"
    corpus: CorpusConfig = field(default_factory=CorpusConfig)  # used when the corpus is built
    charset: str | None = None  # charset file; default corpus_dir/charset.txt
    train_dataset: str | None = None  # a dataset on disk (labels file, pregenerated dir, LMDB, webdataset shards) instead
    allow_outside_root: bool = False  # dataset lists may name images outside their folder (absolute paths)
    samples_per_epoch: int = 10000  # on-the-fly samples per epoch (all ranks together)
    max_text_length: int | None = None  # on the fly: longest line in characters (None: corpus as is)
    # on the fly: share of each text domain (aksar.text.domains: corpus, random_clusters, numbers, mixed,
    # shuffled); the default is the corpus alone
    text_mix: dict[str, float] = field(default_factory=lambda: {"corpus": 1.0})
    batch_size: int | str = 32  # or "auto" (CUDA: largest batch that fits, with a margin)
    val_batch_size: int = 64
    num_workers: int = 2
    pin_memory: bool = True  # CUDA only
    val_dir: str = "data/validation_fixed"
    val_samples: int = 6400  # size of the validation set when it has to be built
    val_seed: int = 42
    val_augment: bool = False  # augment the validation set when it has to be built
    val_max_samples: int | None = None  # validate on the first N only (None: all)
    synth: SynthConfig = field(default_factory=SynthConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, str) and self.batch_size != "auto":
            raise AksarError(f"data.batch_size: expected an integer or 'auto', got {self.batch_size!r}")
        from aksar.text.domains import check_text_mix

        check_text_mix(self.text_mix)

    def charset_path(self) -> Path:
        return Path(self.charset) if self.charset else Path(self.corpus_dir) / "charset.txt"


@dataclass
class LossConfig:
    """Loss by name; ``auto`` = ``ctc`` for CTC models, ``ce`` for attention models."""

    name: Literal["auto", "ctc", "ce", "focal", "focal_ctc", "focal_ce"] = "auto"
    label_smoothing: float = 0.0  # ce
    gamma: float = 2.0  # focal
    alpha: float = 1.0  # focal
    zero_infinity: bool = True  # ctc

    def resolve(self, family: str) -> dict[str, Any]:
        """The ``aksar.models.build_loss`` mapping for a model of ``family`` ("ctc" or "ce")."""
        name = self.name
        if name == "auto":
            name = family
        if name == "focal":
            name = f"focal_{family}"
        if name in ("ctc", "focal_ctc"):
            params: dict[str, Any] = {"zero_infinity": self.zero_infinity}
        else:
            params = {"label_smoothing": self.label_smoothing} if name == "ce" else {}
        if name.startswith("focal"):
            params.update(gamma=self.gamma, alpha=self.alpha)
        return {"name": name, **params}


@dataclass
class OptimizerConfig:
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9  # sgd
    nesterov: bool = False  # sgd
    grad_clip: float | None = 5.0  # max gradient norm (None: off)
    accumulate_steps: int = 1  # micro-batches per optimizer step


@dataclass
class SchedulerConfig:
    """Learning-rate schedule; all step counts are optimizer steps (epochs converted)."""

    name: Literal["none", "steplr", "cosine", "plateau", "onecycle"] = "cosine"
    warmup_steps: int = 0  # cosine: linear warm-up
    warmup_epochs: float = 0.0  # cosine: added to warmup_steps
    min_lr: float = 0.0  # cosine floor; plateau floor
    step_size_epochs: float = 10.0  # steplr
    gamma: float = 0.5  # steplr / plateau factor
    patience: int = 3  # plateau: validations without CER improvement
    max_lr: float | None = None  # onecycle (default optimizer.lr)
    pct_start: float = 0.3  # onecycle


@dataclass
class CheckpointConfig:
    every_n_epochs: int = 0  # also keep checkpoints/epoch_NNNN.pt every N epochs (0: off)
    keep_last: int = 3  # how many epoch_NNNN.pt to keep
    save_every_steps: int = 0  # also refresh latest.pt every N steps (0: at validations/epoch ends)


@dataclass
class EarlyStoppingConfig:
    patience: int | None = None  # validations without improvement before stopping (None: off)
    min_delta: float = 0.0
    metric: str | None = None  # a metric of the task (recognition: cer, accuracy, loss); None: its main one
    mode: Literal["auto", "min", "max"] = "auto"  # auto: as the task says (max for accuracy, min for CER)
    restore_best: bool = True  # end with the best weights loaded
    target: float | None = None  # stop as soon as the task's main metric reaches this (CER <=, hmean >=)
    target_cer: float | None = None  # the same on CER (recognition; kept for older configs)


@dataclass
class LoggingConfig:
    log_every_steps: int = 20
    tensorboard: bool = True
    num_samples: int = 8  # sample predictions per validation (console, JSONL, TensorBoard)
    train_samples_every: int = 5  # TensorBoard: augmented training samples at the first step and every
    # N validations (0: first step only)


@dataclass
class DistillConfig:
    """YAML section ``distill``: teach the model being trained with a trained teacher checkpoint."""

    teacher: str | None = None   # checkpoint (.pt or run directory) of the teacher; None: no distillation
    weight: float = 0.5          # share of the distillation term in the loss, in [0, 1]
    temperature: float = 2.0     # softmax temperature of both distributions (> 0)


@dataclass
class TrainConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)

    def __post_init__(self) -> None:
        from aksar.train.validate_config import validate_config

        validate_config(self)


def config_from_dict(data: dict[str, Any], overrides: list[str] | None = None) -> TrainConfig:
    """Validate a plain dict (``global`` renamed to ``run``, ``task: NAME`` read as ``task.name``) with
    ``-o`` overrides applied."""
    data = dict(data)
    if isinstance(data.get("task"), str):
        data["task"] = {"name": data["task"]}
    if "global" in data:
        if "run" in data:
            raise AksarError("config has both 'global' and 'run' sections; use one")
        data["run"] = data.pop("global")
    overrides = [("run" + o[6:]) if o.startswith("global.") else o for o in (overrides or [])]
    apply_overrides(data, overrides)
    if isinstance(data.get("task"), str):
        data["task"] = {"name": data["task"]}
    return from_dict(TrainConfig, data)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (``None``: defaults), apply overrides, validate."""
    data = load_yaml(path) if path is not None else {}
    try:
        return config_from_dict(data, overrides)
    except AksarError as exc:
        raise AksarError(f"{path}: {exc}" if path is not None else str(exc)) from None


__all__ = [
    "TrainConfig", "TaskConfig", "RunConfig", "ModelConfig", "DataConfig", "LossConfig", "OptimizerConfig",
    "SchedulerConfig", "CheckpointConfig", "EarlyStoppingConfig", "LoggingConfig", "DistillConfig",
    "load_config", "config_from_dict",
]
