"""``Recognizer``: text lines from images with a checkpoint (PyTorch) or an exported ``.onnx`` model.

    from aksar import Recognizer
    rec = Recognizer("model.onnx", threads=1)          # or "runs/x/checkpoints/best.pt", or "khmer"
    for p in rec.predict(["line1.png", "line2.png"]):
        print(p.text, p.confidence)

ONNX models run with onnxruntime and numpy only (torch is not imported). Both back ends see the same
batches (lines sorted by width, so padding is limited and identical) and decode with the same numpy
rules, so a checkpoint and its export give the same texts. Every line gets the model's ``pad_margin``
of background after it and the model stops at its true width, so a line reads the same alone or in
any batch (any ``batch_size``).

Every prediction is valid orthography: decoded text goes through ``aksar.text.orthography.valid_orthography``
(``normalize`` like the labels, then clusters that would shape with a dotted circle repaired: marks
with no base, a COENG with no consonant, marks that do not fit their cluster are dropped or
reordered; ``Prediction.repaired`` says so). Training validation and ``aksar eval`` use the same step.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from PIL import Image

from aksar.core.errors import AksarError
from aksar.data.preprocess import pad_batch, resize_lines
from aksar.infer.config import AUTO_LM, DECODERS, LM_BONUS, LM_WEIGHT, NO_LM, SHIPPED_LM, InferConfig
from aksar.infer.images import MAX_PIXELS, as_gray
from aksar.infer.onnx_model import ModelInfo, OnnxModel
from aksar.models.zoo import has_shipped_lm, resolve_model, shipped_lm
from aksar.models.decoders import Detailed, detailed
from aksar.models.decoding import LMScorer
from aksar.text.charlm import CharLM
from aksar.text.orthography import valid_orthography

ImageLike = str | os.PathLike | np.ndarray | Image.Image


@dataclass(frozen=True)
class Prediction:
    """One recognised line: normalized ``text`` and a ``confidence`` in [0, 1]."""

    text: str
    confidence: float
    repaired: bool = False  # marks were dropped or moved to make the decoded text valid orthography
    char_confidences: tuple[float, ...] | None = None  # one per character of text (CTC, attention, char)
    path_confidence: float | None = None  # CTC: the greedy reading's confidence (0: it reads nothing), whatever
    #                                        decoded the text; what the page reader's drop_score tests


def is_onnx_file(path: Path) -> bool:
    """ONNX by suffix; otherwise a PyTorch checkpoint (a zip file or a run directory)."""
    if path.suffix.lower() == ".onnx":
        return True
    if path.is_dir() or path.suffix.lower() in (".pt", ".pth", ".ckpt"):
        return False
    return path.is_file() and not zipfile.is_zipfile(path)


class _TorchModel:
    """A checkpoint run with PyTorch: ``model.forward`` + ``model.decode`` (the training validation path)."""

    def __init__(self, path: Path, device: str, threads: int | None) -> None:
        import torch

        from aksar.models.weights import load_for_inference, resolve_device

        if threads:
            torch.set_num_threads(int(threads))
        self.torch = torch
        self.device = resolve_device(device, key="device")
        loaded = load_for_inference(path, self.device)
        self.model = loaded.model
        self.info = ModelInfo(kind=self.model.kind, charset=list(loaded.charset.tokens), script=loaded.script,
                              preprocess=loaded.preprocess, name=str(loaded.info.get("model_name") or ""),
                              width_stride=int(getattr(self.model, "width_stride", 4)),
                              pad_margin=int(self.model.pad_margin), extra=loaded.info)

    def run_detailed(self, batch: np.ndarray, widths: np.ndarray, method: str = "greedy", beam_width: int = 5,
                     lm: LMScorer | None = None) -> list[Detailed]:
        """(ids, confidence, per token, best path's) of each line, as ``OnnxModel.run_detailed``."""
        torch = self.torch
        with torch.inference_mode():
            out = self.model(torch.from_numpy(batch).to(self.device), torch.from_numpy(widths).to(self.device))
            decoded = self.model.decode(out, method=method, beam_width=beam_width, lm=lm)
            arrays, lengths = self.model.decoder_inputs(out)
            return detailed(self.model.output_decoder, [np.asarray(a) for a in arrays], lengths, decoded)


class Recognizer:
    """Recognise text lines with a checkpoint (``.pt`` or a run directory), an exported ``.onnx`` or a
    shipped model's name (``Recognizer("khmer")``, see ``aksar models``).

    ``threads`` sets onnxruntime's intra-op threads (or ``torch.set_num_threads``); ``decoder`` is
    ``greedy`` or ``beam`` (``beam_width``): CTC prefix beam search runs in numpy for both back ends;
    attention beam search needs the checkpoint (an exported attention model decodes greedily in its
    graph). ``lm``: a character language model (``aksar lm build``; a path, a ``CharLM``, ``"shipped"``
    for the one that ships with a shipped model, ``"auto"`` for that one when the model ships one, or
    ``"none"``) fused into the CTC beam search with ``lm_weight`` and
    ``lm_bonus`` per token (default: the shipped LM's tuned values, else ``LM_WEIGHT``/``LM_BONUS``); it
    implies ``decoder="beam"``.
    Images larger than ``max_pixels`` are refused with an error naming them.
    """

    def __init__(self, model_path: str | os.PathLike, device: str = InferConfig.device,
                 threads: int | None = InferConfig.threads, decoder: str = InferConfig.decoder,
                 beam_width: int = InferConfig.beam_width, batch_size: int = InferConfig.batch_size,
                 max_pixels: int = MAX_PIXELS, lm: str | os.PathLike | CharLM | None = InferConfig.lm,
                 lm_weight: float | None = InferConfig.lm_weight, lm_bonus: float | None = InferConfig.lm_bonus,
                 ) -> None:
        if decoder not in DECODERS:
            raise AksarError(f"decoder: expected one of {', '.join(DECODERS)}, got {decoder!r}")
        if beam_width < 1:
            raise AksarError(f"beam_width: must be >= 1, got {beam_width}")
        if batch_size < 1:
            raise AksarError(f"batch_size: must be >= 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise AksarError(f"threads: must be >= 1, got {threads}")
        self.path = resolve_model(model_path)  # a path, or a shipped model's name (sha256 verified)
        self.decoder = decoder
        self.beam_width = beam_width
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        if is_onnx_file(self.path):
            if device != "cpu":
                raise AksarError(f"{self.path}: ONNX models run on the CPU here (device={device!r})")
            self.backend = "onnx"
            self._model: OnnxModel | _TorchModel = OnnxModel(self.path, threads)
        else:
            self.backend = "torch"
            self._model = _TorchModel(self.path, device, threads)
        self.info: ModelInfo = self._model.info
        self.lm: CharLM | None = None
        self._lm_scorer: LMScorer | None = None
        where = f"{self.path} ({self.info.kind} model)"
        if isinstance(lm, str) and lm in (AUTO_LM, NO_LM):
            lm = SHIPPED_LM if lm == AUTO_LM and has_shipped_lm(model_path) and self.info.decoder.takes_lm else None
        if lm is not None:
            self.info.decoder.check("beam", lm, where)  # the decoder takes a language model
            if isinstance(lm, str) and lm == SHIPPED_LM:
                lm, tuned_weight, tuned_bonus = shipped_lm(model_path)
                lm_weight = tuned_weight if lm_weight is None else lm_weight
                lm_bonus = tuned_bonus if lm_bonus is None else lm_bonus
            self.lm = lm if isinstance(lm, CharLM) else CharLM.load(lm)
            self.decoder = decoder = "beam"
        self.lm_weight = LM_WEIGHT if lm_weight is None else lm_weight
        self.lm_bonus = LM_BONUS if lm_bonus is None else lm_bonus
        if self.lm is not None:
            self._lm_scorer = self.lm.scorer(self.charset, self.lm_weight, self.lm_bonus)
        if self.backend == "onnx" and decoder == "beam" and not self.info.decoder.export_beam:
            raise AksarError(f"{where}: the export decodes greedily inside the graph; beam search needs the "
                             "checkpoint (or use --decoder greedy)")

    # -- properties ----------------------------------------------------------------------------------
    @property
    def charset(self) -> list[str]:
        return self.info.charset

    @property
    def script(self) -> str | None:
        return self.info.script

    @property
    def preprocess(self):
        return self.info.preprocess

    @property
    def kind(self) -> str:
        return self.info.kind

    # -- prediction ----------------------------------------------------------------------------------
    def batches(self, widths: Sequence[int], batch_size: int | None = None) -> Iterable[list[int]]:
        """Indices of lines whose model-input ``widths`` (after :func:`resize_lines`) are given, grouped into
        batches of similar width (the order every back end uses)."""
        bs = batch_size or self.batch_size
        order = sorted(range(len(widths)), key=lambda i: (widths[i], i))
        for start in range(0, len(order), bs):
            yield order[start:start + bs]

    def _decode_all(self, images: Sequence[ImageLike], batch_size: int | None, trim: bool = True,
                    ) -> list[Detailed]:
        # each line is cut and resized once, then batched by the width the model sees (a trimmed loose
        # crop is narrower than its image says)
        pre = self.preprocess if trim else replace(self.preprocess, trim_margin=None, trim_to=None)
        lines = resize_lines([as_gray(img, f"image {i}", self.max_pixels) for i, img in enumerate(images)],
                             pre)[0]
        out: list[Detailed | None] = [None] * len(lines)
        for idx in self.batches([line.shape[1] for line in lines], batch_size):
            batch, widths = pad_batch([lines[i] for i in idx], self.preprocess, self.info.pad_margin)
            for i, res in zip(idx, self._model.run_detailed(batch, widths, self.decoder, self.beam_width,
                                                            self._lm_scorer)):
                out[i] = res
        return out  # type: ignore[return-value]

    def predict_ids(self, images: Sequence[ImageLike], batch_size: int | None = None,
                    ) -> list[tuple[list[int], float]]:
        """Charset ids and confidences per image (before text normalization)."""
        return [(ids, conf) for ids, conf, *_ in self._decode_all(images, batch_size)]

    def char_confidences(self, ids: list[int], token_confidences: list[float] | None, text: str,
                         ) -> tuple[float, ...] | None:
        """One confidence per character of ``text``: each decoded token's for each of its characters, carried
        to ``text`` along the edit alignment when normalization or a repair changed the decoded string (a
        character that no decoded one aligns with gets the mean). None when the decoder gives none."""
        if token_confidences is None or len(token_confidences) != len(ids):
            return None
        raw = "".join(self.charset[i] for i in ids)
        per_raw = [float(c) for i, c in zip(ids, token_confidences) for _ in self.charset[i]]
        if raw == text:
            return tuple(per_raw)
        from rapidfuzz.distance import Levenshtein

        fill = float(np.mean(per_raw)) if per_raw else 0.0
        out = [fill] * len(text)
        for tag, a0, a1, b0, b1 in Levenshtein.opcodes(raw, text):
            if tag in ("equal", "replace"):
                for k in range(min(a1 - a0, b1 - b0)):
                    out[b0 + k] = per_raw[a0 + k]
        return tuple(out)

    def text_of(self, ids: list[int]) -> tuple[str, bool]:
        """Valid-orthography text of decoded charset ids (and whether it needed a repair).

        An id outside the charset is an error (the load checks make it impossible; never dropped silently).
        """
        n = len(self.charset)
        bad = [i for i in ids if not 0 <= i < n]
        if bad:
            raise AksarError(f"{self.path}: the model emitted class id(s) {bad[:5]} beyond its {n}-token charset")
        raw = "".join(self.charset[i] for i in ids)
        return valid_orthography(raw, self.script)

    def predict(self, images: ImageLike | Sequence[ImageLike], batch_size: int | None = None,
                trim: bool = True) -> list[Prediction]:
        """Predictions for images given as paths, arrays (any layout ``to_gray`` decodes) or PIL images.

        ``trim=False`` reads the images without the model's ``trim_margin`` (which is chosen for loose crops
        made elsewhere): for crops aksar cut to the line itself, such as the page reader's."""
        if isinstance(images, (str, os.PathLike, np.ndarray, Image.Image)):
            images = [images]
        preds = []
        for ids, conf, tokens, path in self._decode_all(list(images), batch_size, trim):
            text, repaired = self.text_of(ids)
            preds.append(Prediction(text, float(conf), repaired, self.char_confidences(ids, tokens, text),
                                    None if path is None else float(path)))
        return preds

    def describe(self) -> dict[str, Any]:
        """Model facts for reports: backend, kind, name, script, charset size, preprocessing, decoder."""
        from aksar.core.config import to_dict

        return {"path": str(self.path), "backend": self.backend, "kind": self.kind, "name": self.info.name,
                "script": self.script, "charset_size": len(self.charset), "preprocess": to_dict(self.preprocess),
                "decoder": self.decoder, "beam_width": self.beam_width if self.decoder == "beam" else None,
                "lm": None if self.lm is None else {"order": self.lm.order, "weight": self.lm_weight,
                                                    "bonus": self.lm_bonus}}


__all__ = ["Recognizer", "Prediction", "valid_orthography", "is_onnx_file", "DECODERS"]
