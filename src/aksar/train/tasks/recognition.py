"""Line recognition (the first task): images of text lines -> text, CER and line accuracy.

Owns the charset and script of the data, the model with the one loss the config decides
(:meth:`aksar.train.config.LossConfig.resolve`), targets (texts -> charset ids -> ``prepare_targets``),
the training and validation data, the validation loop (:func:`evaluate_model`) and what is logged
(reference/prediction pairs and images in TensorBoard). Distillation (``distill.teacher``) is an add-on
of this task: its term joins the model's loss in :meth:`RecognitionTask.train_loss`.
"""
from __future__ import annotations

import logging
import signal
from contextlib import AbstractContextManager
from typing import Any, Callable

import numpy as np
import torch

from aksar.core.config import to_dict
from aksar.core.errors import AksarError
from aksar.train.tasks import Task, register_task

log = logging.getLogger("aksar.train")


class _WorkerInit:
    """DataLoader workers ignore SIGINT and SIGTERM (Ctrl-C, ``kill -- -PGID`` and job schedulers reach
    the whole process group; the main process stops cleanly and shuts them down), then run the
    loader's own init."""

    def __init__(self, inner: Callable[[int], None] | None) -> None:
        self.inner = inner

    def __call__(self, worker_id: int) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if self.inner is not None:
            self.inner(worker_id)


def build_recognizer(cfg: Any, num_tokens: int) -> torch.nn.Module:
    """The model of ``cfg.model`` for ``num_tokens`` tokens, its loss decided by ``cfg.loss`` alone."""
    from aksar.models.losses import build_loss
    from aksar.models.registry import build_model

    kwargs = dict(cfg.model.kwargs)
    if "loss" in kwargs:
        raise AksarError("model.kwargs.loss: the loss is configured in the `loss` section (loss.name, "
                         "loss.label_smoothing, ...), not in model.kwargs")
    kwargs.setdefault("height", cfg.data.preprocess.height)
    model = build_model(cfg.model.name, num_tokens, **kwargs)
    family = model.loss_family
    model.loss_fn = build_loss(cfg.loss.resolve(family), family=family)
    return model


@register_task("recognition")
class RecognitionTask(Task):
    metrics = ("cer", "accuracy", "loss")
    main_metric = "cer"
    higher_is_better = frozenset({"accuracy"})

    def __init__(self, cfg, env, device) -> None:
        super().__init__(cfg, env, device)
        self.counters = {"unknown_chars": 0, "infeasible": 0}
        self.distiller = None
        d = cfg.data
        self.samples_per_epoch = None if d.train_dataset else d.samples_per_epoch

    # ---- data and model ----------------------------------------------------------------------------
    def prepare(self) -> None:
        from aksar.train.prepare import prepare_data

        prepare_data(self.cfg)

    def setup(self) -> None:
        from aksar.data.readers import open_dataset
        from aksar.text.charset import Charset

        d = self.cfg.data
        self.charset = Charset.load(d.charset_path())
        self.tokens = list(self.charset.tokens)
        self.script = self._script()
        if d.synth.render.height != d.preprocess.height:
            log.info("data.synth.render.height %d differs from data.preprocess.height %d: images are resized",
                     d.synth.render.height, d.preprocess.height)
        self.val_set = open_dataset(d.val_dir, allow_outside_root=d.allow_outside_root) if self.env.is_main else None
        if self.val_set is not None and len(self.val_set) == 0:
            raise AksarError(f"data.val_dir: {d.val_dir} holds no validation samples")

    def _script(self) -> str | None:
        from aksar.text.corpus import corpus_script

        d = self.cfg.data
        try:
            return corpus_script(d.corpus_dir)
        except AksarError:
            if d.preset:
                from aksar.text.presets import preset_script

                return preset_script(d.preset)
            return d.corpus.script

    def build_model(self) -> torch.nn.Module:
        cfg = self.cfg
        model = build_recognizer(cfg, len(self.tokens))
        if cfg.model.init_from and not self.resuming:
            from aksar.models.weights import init_from_checkpoint

            init_from_checkpoint(model, cfg.model.init_from, self.tokens, cfg.model.name,
                                 lambda: self._calibration(model))
        return model

    def _calibration(self, model: torch.nn.Module, lines: int = 256) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The first validation lines as (images, widths) batches: BatchNorm statistics for an ONNX init."""
        from aksar.data.collate import Collate

        if self.val_set is None:  # other DDP ranks: rank 0's weights and buffers are broadcast
            return []
        collate = Collate(self.cfg.data.preprocess, margin=getattr(model, "pad_margin", 0))
        n, bs = min(lines, len(self.val_set)), 32
        out = []
        for start in range(0, n, bs):
            batch = collate([self.val_set[i] for i in range(start, min(n, start + bs))])
            if batch["texts"]:
                out.append((batch["images"], batch["widths"]))
        return out

    def attach(self, model: torch.nn.Module) -> None:
        cfg = self.cfg
        if cfg.distill.teacher:
            from aksar.train.distill import Distiller

            self.distiller = Distiller(cfg.distill, self.tokens, cfg.data.preprocess.height, model, self.device)

    def train_loader(self, batch_size: int) -> torch.utils.data.DataLoader:
        from aksar.data.onthefly import OnTheFlyDataset, make_train_loader
        from aksar.data.readers import open_dataset

        cfg, d = self.cfg, self.cfg.data
        if d.train_dataset:
            train_set = open_dataset(d.train_dataset, allow_outside_root=d.allow_outside_root)
        else:
            train_set = OnTheFlyDataset(d.corpus_dir, d.synth, d.samples_per_epoch, cfg.run.seed,
                                        max_text_length=d.max_text_length, script=self.script,
                                        text_mix=d.text_mix, charset=self.charset)
        loader = make_train_loader(
            train_set, batch_size, preprocess_cfg=d.preprocess, num_workers=d.num_workers, seed=cfg.run.seed,
            rank=self.env.rank, world_size=self.env.world_size, drop_last=True,
            pin_memory=d.pin_memory and self.device.type == "cuda")
        if loader.num_workers > 0:
            loader.worker_init_fn = _WorkerInit(loader.worker_init_fn)
        return loader

    def set_epoch(self, loader: torch.utils.data.DataLoader, epoch: int, start_batch: int) -> None:
        from aksar.data.onthefly import set_loader_epoch

        set_loader_epoch(loader, epoch, start_batch)

    def auto_batch_size(self, model: torch.nn.Module, amp_dtype: torch.dtype | None) -> int:
        from aksar.train.autobatch import find_batch_size

        return find_batch_size(model, self.device, self.cfg, amp_dtype)

    # ---- training ------------------------------------------------------------------------------------
    def encode(self, texts: list[str]) -> list[list[int]]:
        """Charset ids of ``texts``; unknown characters are skipped and counted."""
        ids = []
        for t in texts:
            unknown = self.charset.unknown(t)
            if unknown:
                self.counters["unknown_chars"] += len(unknown)
            ids.append(self.charset.encode(t, on_unknown="skip"))
        return ids

    def batch_len(self, batch: dict[str, Any]) -> int:
        return len(batch["texts"])

    def train_loss(self, net: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        model = getattr(net, "module", net)
        images = batch["images"].to(self.device, non_blocking=True)
        widths = batch["widths"].to(self.device, non_blocking=True)
        out = net(images, widths, model.prepare_targets(self.encode(batch["texts"]), self.device))
        loss, extras = out["loss"], {}
        if self.distiller is not None:
            term = self.distiller.loss(images, widths, out)
            extras["distill"] = float(term.detach())
            loss = self.distiller.combine(loss, term)
        self.counters["infeasible"] += int(out.get("infeasible", 0))
        return loss, extras

    # ---- validation and logs -------------------------------------------------------------------------
    def validate(self, model: torch.nn.Module, autocast: Callable[[], AbstractContextManager]) -> dict[str, Any]:
        return evaluate_model(model, self.val_set, self.charset, self.script, self.cfg, self.device, autocast,
                              self.encode)

    def log_validation(self, logger: Any, result: dict[str, Any], step: int) -> str:
        samples = result["samples"]
        logger.samples(result.get("_images") or [], [s["ref"] for s in samples], [s["pred"] for s in samples],
                       step)
        return (f"CER {result['cer']:.4f} accuracy {result['accuracy']:.4f} loss {result['loss']:.4f}"
                + "".join(f"\n    ref {s['ref']!r}\n    got {s['pred']!r}" for s in samples[:3]))

    def log_train_batch(self, logger: Any, batch: dict[str, Any], step: int) -> None:
        from aksar.train.logging_utils import batch_images

        pre, k = self.cfg.data.preprocess, self.cfg.logging.num_samples
        logger.train_samples(batch_images(batch["images"], batch["widths"], pre.mean, pre.std, k),
                             list(batch["texts"][:k]), step)

    # ---- checkpoints -----------------------------------------------------------------------------------
    def checkpoint_meta(self, model: torch.nn.Module) -> dict[str, Any]:
        return {"model_name": self.cfg.model.name, "model_kwargs": model.config(), "charset": list(self.tokens),
                "script": self.script, "preprocess": to_dict(self.cfg.data.preprocess)}

    def check_resume(self, ck: dict[str, Any]) -> None:
        if ck["model_name"] != self.cfg.model.name:
            raise AksarError(f"--resume: checkpoint holds a {ck['model_name']!r} model, config says "
                             f"{self.cfg.model.name!r}")
        if list(ck["charset"]) != self.tokens:
            raise AksarError("--resume: the checkpoint's charset differs from this run's "
                             f"({self.cfg.data.charset_path()}); fine-tune with model.init_from instead")


def evaluate_model(model, dataset, charset, script, cfg, device: torch.device, autocast, encode) -> dict[str, Any]:
    """The validation loop: CER, line accuracy and loss on ``dataset``, with sample predictions.

    Predictions go through ``valid_orthography`` (the Recognizer's post-processing) and references
    through ``normalize``, as in ``aksar eval``: the same checkpoint gets the same CER in both.
    """
    from aksar.data.collate import Collate
    from aksar.text.metrics import cer, line_accuracy
    from aksar.text.normalize import normalize
    from aksar.text.orthography import valid_orthography

    model.eval()
    collate = Collate(cfg.data.preprocess, margin=getattr(getattr(model, "module", model), "pad_margin", 0))
    n = len(dataset) if not cfg.data.val_max_samples else min(len(dataset), cfg.data.val_max_samples)
    bs, k = cfg.data.val_batch_size, cfg.logging.num_samples
    preds: list[str] = []
    refs: list[str] = []
    samples: list[dict[str, Any]] = []
    images: list[np.ndarray] = []
    loss_sum, loss_n = 0.0, 0
    with torch.no_grad():
        for start in range(0, n, bs):
            items = [dataset[i] for i in range(start, min(n, start + bs))]
            batch = collate(items)
            if not batch["texts"]:
                continue
            imgs = batch["images"].to(device, non_blocking=True)
            widths = batch["widths"].to(device, non_blocking=True)
            targets = model.prepare_targets(encode(batch["texts"]), device)
            with autocast():
                out = model(imgs, widths, targets)
            loss_sum += float(out["loss"]) * len(batch["texts"])
            loss_n += len(batch["texts"])
            for (ids, conf), ref, it in zip(model.decode(out), batch["texts"], [i for i in items if i is not None]):
                # the Recognizer's post-processing (aksar.infer: Recognizer.text_of) and aksar eval's references
                pred = valid_orthography(charset.decode(ids), script)[0]
                ref = normalize(ref, script)
                preds.append(pred)
                refs.append(ref)
                if len(samples) < k:
                    samples.append({"ref": ref, "pred": pred, "conf": round(float(conf), 4)})
                    images.append(it["image"])
    model.train()
    if not refs:
        raise AksarError(f"validation set {cfg.data.val_dir}: no readable samples")
    return {"cer": float(cer(preds, refs)), "accuracy": float(line_accuracy(preds, refs)),
            "loss": loss_sum / max(1, loss_n), "num_samples": len(refs), "samples": samples, "_images": images}


__all__ = ["RecognitionTask", "evaluate_model", "build_recognizer"]
