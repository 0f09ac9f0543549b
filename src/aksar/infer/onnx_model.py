"""Exported ONNX models: metadata keys, loading with onnxruntime, and decoding their outputs in numpy.

An exported file is self-sufficient: its ``metadata_props`` hold everything inference needs
(``META_*`` keys below), so ``Recognizer("model.onnx")`` needs neither torch nor the checkpoint.

Graph contract (written by :mod:`aksar.infer.export`): input ``images`` (float32
``[batch, 1, height, width]``, dynamic batch and width, preprocessed by
``aksar.data.preprocess.to_array_batch`` with ``margin = aksar.pad_margin``) and ``widths`` (int64
``[batch]``, the true widths: the graph stops each line there, so it reads the same in any batch), and
the outputs of ``OCRModel.export_forward``, decoded by the decoder of the model kind
(``aksar.model_kind`` -> :func:`aksar.models.decoders.get_decoder`, the code ``OCRModel.decode`` runs):

- ``ctc``: ``probs`` ``[batch, frames, classes]`` (softmax, blank = 0); frames past
  ``ceil(width / width_stride)`` of each line are padding and are cut before decoding;
- ``char``: ``probs`` ``[batch, tokens]``;
- ``attention``: ``ids`` ``[batch, steps]`` (greedy class ids, EOS = 2) and ``probs`` ``[batch, steps]``.

Loading checks that the output layer has exactly as many classes as the charset needs (charset +
the decoder's ``special_classes``: the last axis of the first output, or ``aksar.num_classes`` for
kinds whose outputs carry no class axis) and refuses the file otherwise. Files exported before the ``widths`` input (CTC and char models) still load; they read a
line slightly differently depending on the batch it is in (a warning says to re-export).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from aksar.core.errors import AksarError
from aksar.data.preprocess import PreprocessConfig
from aksar.models.decoders import Decoded, Decoder, Detailed, detailed, get_decoder
from aksar.models.decoding import LMScorer

log = logging.getLogger(__name__)

META_PREFIX = "aksar."
META_CHARSET = "aksar.charset"          # JSON list of tokens (ids are positions)
META_SCRIPT = "aksar.script"            # script name, "" if unknown
META_PREPROCESS = "aksar.preprocess"    # JSON PreprocessConfig (height, max_width, mean, std, ...)
META_NORMALIZATION = "aksar.normalization"  # how labels and predictions are normalized
META_KIND = "aksar.model_kind"          # ctc | attention | char
META_NAME = "aksar.model_name"          # registry name, e.g. ctc_small
META_KWARGS = "aksar.model_kwargs"      # JSON kwargs of build_model
META_VERSION = "aksar.version"          # aksar version that exported the file
META_WIDTH_STRIDE = "aksar.width_stride"  # input pixels per CTC frame
META_OUTPUTS = "aksar.outputs"          # JSON list of output names in order
META_SOURCE = "aksar.source"            # JSON: checkpoint file name, sha256, step, epoch
META_PARITY = "aksar.parity"            # JSON: result of the export parity check
META_PAD_MARGIN = "aksar.pad_margin"    # background columns each line gets after its width
META_NUM_CLASSES = "aksar.num_classes"  # size of the output layer (charset + special classes)
INPUT_NAME = "images"
WIDTHS_NAME = "widths"  # second input (int64 [batch]) of models whose export_forward takes widths
REQUIRED_META = (META_CHARSET, META_PREPROCESS, META_KIND)


@dataclass
class ModelInfo:
    """What inference needs to know about a model, from a checkpoint or from ONNX metadata."""

    kind: str
    charset: list[str]
    script: str | None
    preprocess: PreprocessConfig
    name: str = ""
    width_stride: int = 4
    pad_margin: int = 0  # to_array_batch(margin=...): 0 for exports older than the widths input
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def decoder(self) -> Decoder:
        """The decoder of ``kind`` (AksarError for an unknown kind)."""
        return get_decoder(self.kind)


def decode_outputs(kind: str, outputs: Sequence[np.ndarray], widths: np.ndarray | None, width_stride: int,
                   method: str = "greedy", beam_width: int = 5, lm: LMScorer | None = None) -> Decoded:
    """Charset ids and confidences from the exported outputs (numpy; the code ``OCRModel.decode`` runs)."""
    return get_decoder(kind).decode_export(outputs, widths, width_stride, method, beam_width, lm)


def _json_meta(meta: dict[str, str], key: str, path: Path) -> Any:
    try:
        return json.loads(meta[key])
    except (KeyError, json.JSONDecodeError) as exc:
        raise AksarError(f"{path}: bad ONNX metadata {key!r} ({exc}); re-export with `aksar export`") from None


def info_from_metadata(meta: dict[str, str], path: Path) -> ModelInfo:
    """ModelInfo from an exported file's ``metadata_props`` (AksarError naming the file and key)."""
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise AksarError(f"{path}: not an aksar ONNX export (metadata lacks {', '.join(missing)}); "
                         "export a checkpoint with `aksar export CHECKPOINT --out model.onnx`")
    charset = _json_meta(meta, META_CHARSET, path)
    if not isinstance(charset, list) or not all(isinstance(t, str) and t for t in charset):
        raise AksarError(f"{path}: metadata {META_CHARSET!r} is not a list of tokens")
    pre = _json_meta(meta, META_PREPROCESS, path)
    from aksar.core.config import from_dict

    preprocess = from_dict(PreprocessConfig, pre, prefix=f"{path}:{META_PREPROCESS}")
    extra = {k[len(META_PREFIX):]: v for k, v in meta.items() if k.startswith(META_PREFIX)}
    return ModelInfo(kind=meta[META_KIND], charset=charset, script=meta.get(META_SCRIPT) or None,
                     preprocess=preprocess, name=meta.get(META_NAME, ""),
                     width_stride=_int_meta(meta, META_WIDTH_STRIDE, 4, path),
                     pad_margin=_int_meta(meta, META_PAD_MARGIN, 0, path), extra=extra)


def _int_meta(meta: dict[str, str], key: str, default: int, path: Path) -> int:
    try:
        return int(meta.get(key, default))
    except ValueError:
        raise AksarError(f"{path}: bad ONNX metadata {key!r} ({meta[key]!r} is not an integer)") from None


def check_classes(session: Any, info: ModelInfo, meta: dict[str, str], path: Path) -> None:
    """AksarError unless the output layer has ``len(charset) + special`` classes (see module doc)."""
    decoder = get_decoder(info.kind, where=str(path))
    want = len(info.charset) + decoder.special_classes
    if not decoder.classes_in_output:
        have = _int_meta(meta, META_NUM_CLASSES, want, path)
        where = META_NUM_CLASSES
    else:
        dim = session.get_outputs()[0].shape[-1]
        have = dim if isinstance(dim, int) else want
        where = f"output {session.get_outputs()[0].name!r}"
    if have != want:
        raise AksarError(f"{path}: charset has {len(info.charset)} tokens but the model has {have} classes "
                         f"({where}; a {info.kind} model needs {want}): the metadata belongs to another model")


def open_session(path: Path, threads: int | None = None) -> tuple[Any, dict[str, str]]:
    """An onnxruntime CPU session for ``path`` and its ``metadata_props`` (AksarError naming the file)."""
    import onnxruntime as ort

    if not path.is_file():
        raise AksarError(f"model file not found: {path}")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for invalid files
        raise AksarError(f"{path}: not a valid ONNX model ({str(exc).strip().splitlines()[0]})") from None
    return session, dict(session.get_modelmeta().custom_metadata_map)


class OnnxModel:
    """An exported model run by onnxruntime (CPU); ``run(batch, widths)`` -> decoded ids and confidences."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        self.path = Path(path)
        self.session, meta = open_session(self.path, threads)
        self.info = info_from_metadata(meta, self.path)
        check_classes(self.session, self.info, meta, self.path)
        self.metadata = meta
        names = [i.name for i in self.session.get_inputs()]
        self.input_name = names[0]
        self.takes_widths = WIDTHS_NAME in names
        if not self.takes_widths:
            log.warning("%s: exported without a widths input: a line may read differently depending on the "
                        "batch; re-export it with `aksar export` to fix that", self.path)

    def forward(self, batch: np.ndarray, widths: np.ndarray) -> list[np.ndarray]:
        """Raw outputs for a preprocessed ``[B, 1, H, W]`` float32 batch and its true widths."""
        feed = {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        if self.takes_widths:
            feed[WIDTHS_NAME] = np.asarray(widths, dtype=np.int64)
        return self.session.run(None, feed)

    def run(self, batch: np.ndarray, widths: np.ndarray, method: str = "greedy", beam_width: int = 5,
            lm: LMScorer | None = None) -> Decoded:
        return self.info.decoder.decode_export(self.forward(batch, widths), widths, self.info.width_stride,
                                               method, beam_width, lm)

    def run_detailed(self, batch: np.ndarray, widths: np.ndarray, method: str = "greedy", beam_width: int = 5,
                     lm: LMScorer | None = None) -> list[Detailed]:
        """As :meth:`run`, with one confidence per decoded token and the best path's confidence where the outputs
        give them (else None)."""
        outputs, dec = [np.asarray(o) for o in self.forward(batch, widths)], self.info.decoder
        lengths = dec.lengths(widths, self.info.width_stride, outputs)
        decoded = dec.decode(outputs, lengths, method, beam_width, lm)
        return detailed(dec, outputs, lengths, decoded)


__all__ = [
    "ModelInfo", "OnnxModel", "decode_outputs", "info_from_metadata", "INPUT_NAME", "WIDTHS_NAME",
    "META_CHARSET", "META_SCRIPT", "META_PREPROCESS", "META_NORMALIZATION", "META_KIND", "META_NAME",
    "META_KWARGS", "META_VERSION", "META_WIDTH_STRIDE", "META_OUTPUTS", "META_SOURCE", "META_PARITY",
    "META_PAD_MARGIN", "META_NUM_CLASSES", "check_classes", "open_session",
]
