"""Model weights I/O: checkpoint files, devices, rebuilding a model for inference, fine-tuning init.

A checkpoint is a plain dict of tensors/str/int/float/list/dict, loadable with
``torch.load(weights_only=True)`` and self-describing: ``model_name``, ``model_kwargs``,
``model_state``, ``charset`` (token list), ``script``, ``preprocess`` (dict), ``config`` (the resolved
training config), plus the training run state (``aksar.train.state``). Files are written atomically.

- ``save_checkpoint(path, state)`` / ``load_checkpoint(path)`` / ``resolve_checkpoint_path(path)``
- ``load_for_inference(path, device) -> LoadedModel(model, charset, script, preprocess, info)``: the
  charset and model settings are checked against the weights first (one line naming the file and
  what does not match, never a torch traceback)
- ``resolve_device(name)``: the one check of ``--device`` / ``run.device`` (CUDA or MPS missing,
  no such GPU, unknown device) shared by training and inference
- ``init_from_checkpoint`` / ``remap_state_dict``: fine-tuning with a different charset keeps the
  weights of shared tokens.
"""
from __future__ import annotations

import io
import logging
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from aksar.core.config import from_dict
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_bytes
from aksar.data.preprocess import PreprocessConfig
from aksar.text.charset import Charset

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def resolve_checkpoint_path(path: str | Path, name: str = "latest.pt") -> Path:
    """A checkpoint file from a file path or a run directory (``RUN/checkpoints/<name>``)."""
    p = Path(path)
    if p.is_dir():
        for cand in (p / "checkpoints" / name, p / name):
            if cand.is_file():
                return cand
        raise AksarError(f"{p}: no checkpoints/{name} in this run directory")
    if not p.is_file():
        raise AksarError(f"checkpoint not found: {p}")
    return p


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (readers see the old file or the whole new one)."""
    buf = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **state}, buf)
    atomic_write_bytes(path, buf.getvalue())


def resolve_device(name: str, local_rank: int = 0, key: str = "run.device") -> torch.device:
    """``auto`` (CUDA, this rank's GPU, if available, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    A device this machine lacks is an AksarError naming ``key`` (the config key or CLI flag).
    """
    name = str(name).strip()
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        dev = torch.device(f"cuda:{local_rank}" if name == "cuda" else name)
    except (RuntimeError, ValueError):
        raise AksarError(f"{key}: unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise AksarError(f"{key}: {name!r} requested but CUDA is not available (use auto or cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise AksarError(f"{key}: {name!r} requested but this machine has {torch.cuda.device_count()} "
                             "CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise AksarError(f"{key}: {name!r} requested but MPS is not available (use cpu)")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise AksarError(f"{key}: unsupported device {name!r} (use auto, cpu, cuda or cuda:N)")
    return dev


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file (or a run directory's latest.pt) with ``weights_only=True``.

    Anything that is not a checkpoint of tensors and plain data (random bytes, an arbitrary pickle, a
    truncated file) is one AksarError saying so: objects are never unpickled, and torch's advice to
    load with ``weights_only=False`` is never shown.
    """
    p = resolve_checkpoint_path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4" for foreign pickles
            ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise AksarError(f"{p}: not an aksar checkpoint (not a PyTorch file of tensors and plain data)") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in detail:
            detail = type(exc).__name__
        raise AksarError(f"{p}: not an aksar checkpoint, or a damaged one ({detail[:200]})") from None
    if not isinstance(ckpt, dict) or "model_state" not in ckpt or "model_name" not in ckpt:
        raise AksarError(f"{p}: not an aksar checkpoint (no model_name/model_state)")
    return ckpt


# ---- fine-tuning with another charset ---------------------------------------------------------------

def remap_state_dict(old_state: dict[str, torch.Tensor], old_tokens: list[str], new_state: dict[str, torch.Tensor],
                     new_tokens: list[str], offset: int) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Old weights fitted into a model built for ``new_tokens``.

    Tensors whose shape differs only in the class dimension (``len(tokens) + offset`` classes, the first
    ``offset`` being special classes like blank/PAD/SOS/EOS) get the rows of the special classes and of
    the tokens both charsets share; rows of new tokens keep the new model's initialisation.
    Returns the state dict to load and counts (``shared``, ``new``, ``dropped``, ``remapped_tensors``).
    """
    old_nc, new_nc = len(old_tokens) + offset, len(new_tokens) + offset
    old_index = {t: i for i, t in enumerate(old_tokens)}
    src = torch.tensor([i for i in range(offset)] + [old_index[t] + offset for t in new_tokens if t in old_index])
    dst = torch.tensor([i for i in range(offset)] + [j + offset for j, t in enumerate(new_tokens) if t in old_index])
    out: dict[str, torch.Tensor] = {}
    remapped = 0
    for key, new_t in new_state.items():
        if key not in old_state:
            raise AksarError(f"model.init_from: checkpoint lacks parameter {key!r} (different architecture?)")
        old_t = old_state[key]
        class_dims = [d for d in range(new_t.dim()) if old_t.dim() == new_t.dim()
                      and old_t.shape[d] == old_nc and new_t.shape[d] == new_nc
                      and all(old_t.shape[e] == new_t.shape[e] for e in range(new_t.dim()) if e != d)]
        if not class_dims or new_t.dim() == 0:
            if old_t.shape != new_t.shape:
                raise AksarError(f"model.init_from: parameter {key!r} has shape {tuple(old_t.shape)} in the "
                                 f"checkpoint, {tuple(new_t.shape)} in the model (different architecture?)")
            out[key] = old_t
            continue
        d = class_dims[0]
        merged = new_t.clone()
        merged.index_copy_(d, dst, old_t.index_select(d, src).to(merged.dtype))
        out[key] = merged
        remapped += 1
    shared = len(dst) - offset
    counts = {"shared": shared, "new": len(new_tokens) - shared, "dropped": len(old_tokens) - shared,
              "remapped_tensors": remapped}
    return out, counts


def resolve_init_from(value: str | Path) -> Path:
    """``model.init_from`` as a file: a path as is, or a shipped model's name -> its verified ``model.onnx``
    (:func:`aksar.models.zoo.resolve_model`); AksarError naming the key otherwise."""
    from aksar.models.zoo import resolve_model

    try:
        return resolve_model(value)
    except AksarError as exc:
        raise AksarError(f"model.init_from: {exc}") from None


def init_from_checkpoint(model: torch.nn.Module, path: str | Path, tokens: list[str], model_name: str,
                         calibration: Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]] | None = None,
                         ) -> dict[str, int]:
    """Load weights from a checkpoint, an exported ``.onnx`` recognizer or a shipped model's name into
    ``model`` (fine-tuning), remapping a different charset. For ONNX, ``calibration()`` gives the
    (images, widths) batches that rebuild the BatchNorms the export folded away
    (:mod:`aksar.models.onnx_import`); it is not called for a checkpoint."""
    path = resolve_init_from(path)
    if path.suffix.lower() == ".onnx":
        from aksar.models.onnx_import import checkpoint_from_onnx

        ckpt = checkpoint_from_onnx(path, calibration() if calibration else ())
    else:
        ckpt = load_checkpoint(path)
    if ckpt["model_name"] != model_name:
        raise AksarError(f"model.init_from: {path} holds a {ckpt['model_name']!r} model, "
                         f"this config builds {model_name!r}")
    old_tokens = list(ckpt["charset"])
    offset = int(model.num_classes) - len(tokens)
    state, counts = remap_state_dict(ckpt["model_state"], old_tokens, model.state_dict(), tokens, offset)
    model.load_state_dict(state)
    log.info("initialised from %s: %d shared tokens kept, %d new, %d dropped", path, counts["shared"],
             counts["new"], counts["dropped"])
    return counts


# ---- inference ---------------------------------------------------------------------------------------

@dataclass
class LoadedModel:
    model: torch.nn.Module
    charset: Charset
    script: str | None
    preprocess: PreprocessConfig
    info: dict[str, Any]


def build_model_from_checkpoint(ckpt: dict[str, Any]) -> torch.nn.Module:
    """The architecture a checkpoint describes (a recognizer sized by its charset; a detector needs none)."""
    from aksar.models.registry import RECOGNITION, build_model, model_task

    kwargs = dict(ckpt.get("model_kwargs") or {})
    if model_task(ckpt["model_name"]) != RECOGNITION:
        return build_model(ckpt["model_name"], **kwargs)
    return build_model(ckpt["model_name"], len(ckpt["charset"]), **kwargs)


def check_weights(model: torch.nn.Module, state: Any, path: Path | str, num_tokens: int) -> None:
    """AksarError naming ``path`` unless ``state`` fits ``model`` key for key and shape for shape.

    A class dimension that differs is reported as a charset mismatch (how many tokens the weights were
    trained for); other differences as model settings (``model_kwargs``) that do not match the weights.
    """
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise AksarError(f"{path}: not an aksar checkpoint (model_state is not a dict of tensors)")
    own = model.state_dict()
    missing = [k for k in own if k not in state]  # in model order: the first ones say the most
    extra = [k for k in state if k not in own]
    if missing or extra:
        parts = ([f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"] if missing else []) + \
                ([f"unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}"] if extra else [])
        raise AksarError(f"{path}: model_name/model_kwargs do not match the weights ({'; '.join(parts)})")
    num_classes = getattr(model, "num_classes", None)  # None: a detector (no class layer)
    special = int(num_classes or 0) - num_tokens
    for key, want in own.items():
        got = state[key]
        if got.shape == want.shape:
            continue
        class_dims = [d for d in range(want.dim()) if num_classes and got.dim() == want.dim()
                      and want.shape[d] == num_classes
                      and all(got.shape[e] == want.shape[e] for e in range(want.dim()) if e != d)]
        if class_dims:
            trained = got.shape[class_dims[0]] - special
            raise AksarError(f"{path}: the charset has {num_tokens} tokens but the weights were trained for "
                             f"{trained} ({key} has {got.shape[class_dims[0]]} classes)")
        raise AksarError(f"{path}: model_kwargs do not match the weights ({key} is {tuple(got.shape)} in the "
                         f"weights, {tuple(want.shape)} for these settings)")


def _restore(ckpt: dict[str, Any], p: Path, dev: torch.device, num_tokens: int) -> torch.nn.Module:
    """The checkpoint's model with its weights checked and loaded, in eval mode on ``dev``."""
    try:
        model = build_model_from_checkpoint(ckpt)
    except (TypeError, ValueError) as exc:
        raise AksarError(f"{p}: model_kwargs cannot build {ckpt.get('model_name')!r} ({exc})") from None
    except AksarError as exc:
        raise AksarError(f"{p}: {exc}") from None
    check_weights(model, ckpt["model_state"], p, num_tokens)
    model.load_state_dict(ckpt["model_state"])
    return model.to(dev).eval()


def _info(ckpt: dict[str, Any], p: Path) -> dict[str, Any]:
    info = {k: ckpt.get(k) for k in ("model_name", "model_kwargs", "epoch", "step", "metrics", "format_version")}
    info["path"] = str(p)
    info["config"] = ckpt.get("config")
    return info


def load_for_inference(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Model (eval mode, on ``device``), charset, script and preprocessing from a checkpoint.

    The device is checked first (:func:`resolve_device`), then the weights against the charset and
    model settings (:func:`check_weights`).
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device, key="device")
    ckpt = load_checkpoint(path)
    p = resolve_checkpoint_path(path)
    charset = ckpt.get("charset")
    if charset is None and is_detection_checkpoint(ckpt):
        raise AksarError(f"{p}: holds a {ckpt['model_name']!r} detection model, not a recognizer "
                         "(use aksar.infer.detector.Detector)")
    if not isinstance(charset, (list, tuple)) or not all(isinstance(t, str) for t in charset):
        raise AksarError(f"{p}: checkpoint charset is not a list of tokens")
    model = _restore(ckpt, p, dev, len(charset))
    info = _info(ckpt, p)
    return LoadedModel(model=model, charset=Charset(list(ckpt["charset"])), script=ckpt.get("script"),
                       preprocess=from_dict(PreprocessConfig, ckpt.get("preprocess") or {}, prefix="preprocess"),
                       info=info)


# ---- detection -----------------------------------------------------------------------------------------

@dataclass
class LoadedDetector:
    model: torch.nn.Module
    info: dict[str, Any]


def is_detection_checkpoint(ckpt: dict[str, Any]) -> bool:
    """Whether a loaded checkpoint holds a registered detection model."""
    from aksar.models.registry import RECOGNITION, model_specs

    spec = model_specs(None).get(str(ckpt.get("model_name")))
    return spec is not None and spec.task != RECOGNITION


def load_detector(path: str | Path, device: str | torch.device = "cpu") -> LoadedDetector:
    """A detection model (eval mode, on ``device``) from a checkpoint; its ``postprocess`` settings from
    the checkpoint's ``det_postprocess`` dict and ``info["det_limit_side"]`` from its ``det_limit_side``
    when it has them. AksarError for a recognizer's checkpoint."""
    dev = device if isinstance(device, torch.device) else resolve_device(device, key="device")
    ckpt = load_checkpoint(path)
    p = resolve_checkpoint_path(path)
    if not is_detection_checkpoint(ckpt) and ckpt.get("charset") is not None:
        raise AksarError(f"{p}: holds a {ckpt['model_name']!r} recognizer, not a detection model")
    model = _restore(ckpt, p, dev, 0)
    post = ckpt.get("det_postprocess")
    if isinstance(post, dict) and post:
        from aksar.models.det_postprocess import DBPostProcess

        try:
            model.postprocess = DBPostProcess(**post)
        except TypeError as exc:
            raise AksarError(f"{p}: bad det_postprocess settings ({exc})") from None
    info = _info(ckpt, p)
    info["det_limit_side"] = ckpt.get("det_limit_side")  # the page size it was validated at, when saved
    return LoadedDetector(model=model, info=info)


__all__ = [
    "FORMAT_VERSION", "save_checkpoint", "load_checkpoint", "resolve_checkpoint_path", "resolve_device",
    "remap_state_dict", "resolve_init_from", "init_from_checkpoint", "LoadedModel", "load_for_inference",
    "build_model_from_checkpoint",
    "check_weights", "LoadedDetector", "load_detector", "is_detection_checkpoint",
]
