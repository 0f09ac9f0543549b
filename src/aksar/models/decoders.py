"""One decoder per model kind: everything that depends on ``model.kind``, in numpy only (no torch).

A model's ``kind`` string ("ctc", "attention", "char"; written into checkpoints and ONNX metadata)
names its decoder: ``get_decoder(kind)``. The PyTorch model (``OCRModel.decode``, through
``model.output_decoder``) and the ONNX path (``aksar.infer.onnx_model``, through ``ModelInfo.decoder``)
hand it the same arrays (the outputs of ``export_forward``) and get the same ``(token_ids, confidence)``.
The decoder also says what the rest of the code would otherwise switch on: the exported outputs and
their dynamic axes, the special classes before the charset tokens, whether it fuses a language model,
whether beam search works on the exported outputs, the longest label a line can carry.

A new kind: a :class:`Decoder` subclass with ``@register_decoder`` (here, or in a module imported by
its model's module) and ``kind = "<kind>"`` on the model class.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from aksar.core.errors import AksarError
from aksar.models import decoding
from aksar.models.decoding import LMScorer

Decoded = list[tuple[list[int], float]]
Detailed = tuple[list[int], float, "list[float] | None", "float | None"]  # ids, confidence, per token, best path
DECODERS: dict[str, "Decoder"] = {}


def register_decoder(cls: type["Decoder"]) -> type["Decoder"]:
    """Class decorator: ``get_decoder(cls.kind)`` returns an instance of ``cls``."""
    if not cls.kind or cls.kind in DECODERS:
        raise ValueError(f"decoder {cls.__name__}: kind {cls.kind!r} is empty or already registered")
    DECODERS[cls.kind] = cls()
    return cls


def get_decoder(kind: str, where: str = "") -> "Decoder":
    """The decoder of a model kind; AksarError naming ``where`` (a file) for an unknown kind."""
    try:
        return DECODERS[kind]
    except KeyError:
        prefix = f"{where}: " if where else ""
        raise AksarError(f"{prefix}unknown model kind {kind!r} (expected {', '.join(DECODERS)})") from None


class Decoder:
    """Outputs of one model kind -> charset ids and confidences.

    ``outputs`` are the arrays ``export_forward`` returns, in order (``outputs`` names them in the
    ONNX graph); ``lengths`` the valid frames per sample where the outputs run over the width.
    """

    kind: ClassVar[str] = ""
    outputs: ClassVar[tuple[str, ...]] = ("probs",)  # names of the exported outputs, in order
    steps_axis: ClassVar[bool] = True     # the outputs have a dynamic axis 1 (frames or decoding steps)
    special_classes: ClassVar[int] = 0    # classes before the charset tokens (token i -> class i + this)
    classes_in_output: ClassVar[bool] = True  # last axis of outputs[0] = classes (else: metadata num_classes)
    takes_lm: ClassVar[bool] = False      # fuses a character language model into its beam search
    export_beam: ClassVar[bool] = True    # beam search runs on the exported outputs (else: needs the checkpoint)
    frame_aligned: ClassVar[bool] = False  # one output per input frame (frame-level distillation applies)

    def output_axes(self) -> dict[str, dict[int, str]]:
        """Dynamic axes of every exported output (``torch.onnx.export(dynamic_axes=...)``)."""
        axes = {0: "batch", 1: "steps"} if self.steps_axis else {0: "batch"}
        return {name: dict(axes) for name in self.outputs}

    def check(self, method: str, lm: LMScorer | None = None, where: str = "") -> None:
        """AksarError unless ``method`` (and ``lm``) can decode this kind's outputs."""
        decoding.check_method(method, lm, self.takes_lm, where or f"{self.kind} model")

    def lengths(self, widths: np.ndarray | None, width_stride: int, outputs: Sequence[np.ndarray]
                ) -> np.ndarray | None:
        """Valid frames per sample from the true widths (None: the outputs do not run over the width)."""
        return None

    def decode(self, outputs: Sequence[np.ndarray], lengths: np.ndarray | None = None, method: str = "greedy",
               beam_width: int = 5, lm: LMScorer | None = None) -> Decoded:
        self.check(method, lm)
        return self._decode([np.asarray(o) for o in outputs], lengths, method, beam_width, lm)

    def decode_export(self, outputs: Sequence[np.ndarray], widths: np.ndarray | None, width_stride: int,
                      method: str = "greedy", beam_width: int = 5, lm: LMScorer | None = None) -> Decoded:
        """Decode the outputs of an exported graph run on lines of true ``widths``."""
        return self.decode(outputs, self.lengths(widths, width_stride, outputs), method, beam_width, lm)

    def longest_label(self, max_length: int, max_width: int, width_stride: int) -> int:
        """The longest label a ``max_width`` line can carry (``batch_size: auto`` sizes its probe with it)."""
        return max_length

    def token_confidences(self, outputs: Sequence[np.ndarray], lengths: np.ndarray | None, decoded: Decoded,
                          ) -> list[list[float] | None]:
        """One confidence per decoded token of each sample, where the outputs give them (else None)."""
        return [None] * len(decoded)

    def confidences(self, outputs: Sequence[np.ndarray], lengths: np.ndarray | None, decoded: Decoded,
                    ) -> tuple[list[list[float] | None], list[float | None]]:
        """:meth:`token_confidences` and the confidence of each sample's best-path (greedy) reading, 0 when it
        reads nothing, whatever decoded it (beam search, a language model): how much text the image itself
        shows. None where the outputs do not give one."""
        return self.token_confidences(outputs, lengths, decoded), [None] * len(decoded)

    def _decode(self, outputs: list[np.ndarray], lengths: np.ndarray | None, method: str, beam_width: int,
                lm: LMScorer | None) -> Decoded:
        raise NotImplementedError


@register_decoder
class CTCDecoder(Decoder):
    """``probs [B, frames, classes]`` (softmax, blank = 0): greedy or prefix beam search, LM fusion."""

    kind = "ctc"
    special_classes = 1
    takes_lm = True
    frame_aligned = True

    def lengths(self, widths, width_stride, outputs):
        if widths is None:
            return None
        frames = (np.asarray(widths) + width_stride - 1) // width_stride
        return np.clip(frames, 1, np.asarray(outputs[0]).shape[1])

    def longest_label(self, max_length: int, max_width: int, width_stride: int) -> int:
        return min(max_length, max(1, max_width // (2 * width_stride)))  # a blank between repeats

    def _decode(self, outputs, lengths, method, beam_width, lm):
        return decoding.ctc_decode_batch(outputs[0], lengths, method=method, beam_width=beam_width, lm=lm)

    def token_confidences(self, outputs, lengths, decoded):
        """Each token's probability at its first frame: on the best path when the decoded ids are its (greedy),
        else on the most likely alignment of the decoded ids (beam search, a language model)."""
        return self.confidences(outputs, lengths, decoded)[0]

    def confidences(self, outputs, lengths, decoded):
        probs = np.asarray(outputs[0])
        frames = [probs.shape[1] if lengths is None else int(lengths[b]) for b in range(len(decoded))]
        paths = [decoding.ctc_best_path(probs[b], frames[b]) for b in range(len(decoded))]  # once per sample
        tokens: list[list[float] | None] = [path_probs if path_ids == list(ids) else None
                                            for (ids, _), (path_ids, path_probs, _) in zip(decoded, paths)]
        other = [b for b, t in enumerate(tokens) if t is None]   # not the best path: aligned, all at once
        if other:
            aligned = decoding.ctc_aligned_confidences_batch(probs[other], [decoded[b][0] for b in other],
                                                             [frames[b] for b in other])
            for b, conf in zip(other, aligned):
                tokens[b] = conf
        return tokens, [conf if path_ids else 0.0 for path_ids, _, conf in paths]


@register_decoder
class AttentionDecoder(Decoder):
    """``ids``, ``probs [B, steps]`` of a greedy decode, read up to EOS. Beam search runs the model's
    decoder network, so it needs the PyTorch model (``Seq2SeqModel.decode``), not the outputs."""

    kind = "attention"
    outputs = ("ids", "probs")
    special_classes = decoding.ATTN_OFFSET
    classes_in_output = False
    export_beam = False

    def token_confidences(self, outputs, lengths, decoded):
        """The probability of each emitted token (the ``probs`` output of the greedy decode)."""
        rows = decoding.attention_tokens(outputs[0], outputs[1])
        return [[float(p) for p in ps[:len(tokens)]] if tokens == list(ids) else None
                for (tokens, ps), (ids, _) in zip(rows, decoded)]

    def _decode(self, outputs, lengths, method, beam_width, lm):
        if method == "beam":
            raise AksarError("attention model: beam search needs the checkpoint (its decoder network); "
                             "greedy outputs were given (use --decoder greedy)")
        return decoding.attention_ids_to_tokens(outputs[0], outputs[1])


@register_decoder
class CharDecoder(Decoder):
    """``probs [B, tokens]``: exactly one token per sample (beam search equals greedy)."""

    kind = "char"
    steps_axis = False

    def longest_label(self, max_length: int, max_width: int, width_stride: int) -> int:
        return 1

    def _decode(self, outputs, lengths, method, beam_width, lm):
        return decoding.classify(outputs[0])

    def token_confidences(self, outputs, lengths, decoded):
        return [[float(conf)] for _, conf in decoded]


def detailed(decoder: Decoder, outputs: Sequence[np.ndarray], lengths: np.ndarray | None, decoded: Decoded,
             ) -> list[Detailed]:
    """Each decoded sample with its token confidences and its best path's confidence (``Detailed``)."""
    tokens, paths = decoder.confidences(outputs, lengths, decoded)
    return [(ids, conf, tok, path) for (ids, conf), tok, path in zip(decoded, tokens, paths)]


__all__ = ["Decoder", "CTCDecoder", "AttentionDecoder", "CharDecoder", "DECODERS", "register_decoder",
           "get_decoder", "Decoded", "Detailed", "detailed"]
