"""Text-line detection (the second task): page images -> line polygons, precision/recall/hmean at IoU 0.5.

Trained by the same loop as recognition, with no change to it. The task owns its options
(``task.options``, :class:`~aksar.train.tasks.detection_data.DetectionOptions`), the detection datasets
(made from a corpus by ``aksar.data.pages.generate_pages`` in :meth:`DetectionTask.prepare` when missing:
training pages without the script's held-out font families, validation pages with only them), the DB
model (``model.name``, e.g. ``db_mobilenet``), training crops with DB targets, and the validation: every
validation page at full size resized as at inference (``limit_side``), ``model.postprocess`` -> polygons
-> ``data.det_metrics.detection_metrics`` (ICDAR 2015 protocol, IoU 0.5). TensorBoard shows validation
pages with ground truth (green) and predictions (red), and training crops with their shrink maps.
"""
from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from aksar.core.config import to_dict
from aksar.core.errors import AksarError
from aksar.train.tasks import Task, register_task
from aksar.data.det_dataset import load_page, read_det_dataset, resize_for_detection
from aksar.models.det_db import stack_targets
from aksar.render.preview import draw_polygons
from aksar.train.tasks.detection_data import (DetectionOptions, DetTrainSet, collate_crops,
                                              generation_target, parse_options)

log = logging.getLogger("aksar.train")

SPLIT_OF = {"train": "train", "val": "val"}


@register_task("detection")
class DetectionTask(Task):
    metrics = ("hmean", "precision", "recall", "loss")
    main_metric = "hmean"
    higher_is_better = frozenset({"hmean", "precision", "recall"})

    def __init__(self, cfg, env, device) -> None:
        super().__init__(cfg, env, device)
        self.opts: DetectionOptions = parse_options(cfg.task.options)
        for key in ("train", "val"):
            if not getattr(self.opts, key):
                raise AksarError(f"task.options.{key}: the detection task needs a {key} dataset (a det_labels.txt, "
                                 "a folder of PAGE-XML or ICDAR files, or a folder to generate pages into)")

    # ---- data and model ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Generate the missing train/val pages (``task.options.generate``), corpus first."""
        o = self.opts
        missing = [k for k in ("train", "val") if not Path(getattr(o, k)).exists()]
        if not missing or o.generate is None:
            return
        from aksar.data.pages import PagesConfig, generate_pages
        from aksar.text.corpus import corpus_script
        from aksar.train.prepare import prepare_corpus

        prepare_corpus(self.cfg)
        g = o.generate
        script = corpus_script(self.cfg.data.corpus_dir)
        roots = {k: generation_target(getattr(o, k), SPLIT_OF[k], f"task.options.{k}") for k in missing}
        pages_of = {"train": (g.train_pages, self._page_config(g, script, val=False)),
                    "val": (g.val_pages, self._page_config(g, script, val=True))}
        if len(missing) == 2 and roots["train"] == roots["val"] and pages_of["train"][1] != pages_of["val"][1]:
            raise AksarError(f"task.options.val: validation pages use other fonts than training pages "
                             f"(held-out fonts): give them another folder than {roots['train']}")
        for key in missing:
            n, page = pages_of[key]
            split = SPLIT_OF[key]
            log.info("preparing data: %d synthetic %s pages in %s (seed %d)", n, split, roots[key], g.seed)
            generate_pages(PagesConfig(corpus_dir=self.cfg.data.corpus_dir, output_dir=str(roots[key]),
                                       splits=[split], pages={split: n}, workers=g.workers, seed=g.seed,
                                       page=page))

    @staticmethod
    def _page_config(g: Any, script: str, val: bool) -> Any:
        """Training pages leave out the held-out families; validation pages use only them (or val_fonts)."""
        synth = g.page.synth
        if val and g.val_fonts:
            synth = replace(synth, fonts=list(g.val_fonts))
        elif g.heldout_fonts and not synth.fonts:
            if not val:
                synth = replace(synth, exclude_heldout=True)
            else:
                from aksar.data.evalset_sources import split_fonts

                heldout = split_fonts(script)[1]
                synth = replace(synth, fonts=[f"{f.path}#{f.index}" if f.index else f.path for f in heldout])
        elif g.heldout_fonts and val:
            log.warning("task.options.generate: page.synth.fonts is explicit and val_fonts is not set: "
                        "validation pages use the training fonts")
        return replace(g.page, synth=synth)

    def setup(self) -> None:
        o, d = self.opts, self.cfg.data
        self.train_pages = read_det_dataset(o.train, o.train_images, "task.options.train", d.allow_outside_root)
        self.samples_per_epoch = o.samples_per_epoch or len(self.train_pages)
        self.val_pages = None
        if self.env.is_main:
            pages = read_det_dataset(o.val, o.val_images, "task.options.val", d.allow_outside_root)
            self.val_pages = pages[:o.val_max_pages] if o.val_max_pages else pages

    def build_model(self) -> torch.nn.Module:
        from aksar.models.registry import build_model, list_models, model_task

        cfg = self.cfg
        if model_task(cfg.model.name) != "detection":
            raise AksarError(f"model.name: {cfg.model.name!r} is not a detection model; choose one of "
                             f"{', '.join(list_models('detection'))}")
        model = build_model(cfg.model.name, **dict(cfg.model.kwargs))
        if cfg.model.init_from and not self.resuming:
            from aksar.models.weights import load_checkpoint, resolve_init_from

            path = resolve_init_from(cfg.model.init_from)
            if path.suffix.lower() == ".onnx":
                raise AksarError(f"model.init_from: {path} is an ONNX export; a detector fine-tunes from a "
                                 "training checkpoint (RUN/checkpoints/best.pt)")
            ck = load_checkpoint(path, map_location="cpu")
            missing, unexpected = model.load_state_dict(ck["model_state"], strict=False)
            log.info("model.init_from %s: %d tensors missing, %d unexpected", cfg.model.init_from, len(missing),
                     len(unexpected))
        self._configure_post(model)
        return model

    def _configure_post(self, model: torch.nn.Module) -> None:
        post = model.postprocess
        for key, value in self.opts.postprocess.items():
            if not hasattr(post, key):
                raise AksarError(f"task.options.postprocess.{key}: unknown setting of the post-processing")
            setattr(post, key, type(getattr(post, key))(value))

    def train_loader(self, batch_size: int) -> torch.utils.data.DataLoader:
        from torch.utils.data import BatchSampler, DataLoader

        from aksar.data.onthefly import EpochSampler, _worker_init
        from aksar.train.tasks.recognition import _WorkerInit

        d = self.cfg.data
        dataset = DetTrainSet(self.train_pages, self.opts, self.cfg.run.seed)
        sampler = EpochSampler(len(dataset), rank=self.env.rank, world_size=self.env.world_size)
        kwargs: dict[str, Any] = {}
        if d.num_workers > 0:
            kwargs.update(worker_init_fn=_WorkerInit(_worker_init), persistent_workers=True)
        return DataLoader(dataset, batch_sampler=BatchSampler(sampler, batch_size, drop_last=True),
                          collate_fn=collate_crops, num_workers=d.num_workers,
                          pin_memory=d.pin_memory and self.device.type == "cuda", **kwargs)

    def set_epoch(self, loader: torch.utils.data.DataLoader, epoch: int, start_batch: int) -> None:
        from aksar.data.onthefly import set_loader_epoch

        set_loader_epoch(loader, epoch, start_batch)

    # ---- training ------------------------------------------------------------------------------------
    def batch_len(self, batch: dict[str, Any]) -> int:
        return int(batch["images"].shape[0])

    def train_loss(self, net: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        images = batch["images"].to(self.device, non_blocking=True)
        targets = {k: v.to(self.device, non_blocking=True) for k, v in batch["targets"].items()}
        out = net(images, targets)
        extras = {k[5:]: float(out[k]) for k in ("loss_prob", "loss_thresh", "loss_binary") if k in out}
        return out["loss"], extras

    # ---- validation and logs -------------------------------------------------------------------------
    def validate(self, model: torch.nn.Module, autocast: Callable[[], AbstractContextManager]) -> dict[str, Any]:
        return evaluate_detector(model, self.val_pages, self.opts, self.device, autocast,
                                 self.cfg.logging.num_samples)

    def log_validation(self, logger: Any, result: dict[str, Any], step: int) -> str:
        writer = getattr(logger, "writer", None)
        if writer is not None:
            for i, img in enumerate(result.get("_images") or []):
                writer.add_image(f"val_pages/{i}", img, step, dataformats="HWC")
        return (f"hmean {result['hmean']:.4f} precision {result['precision']:.4f} recall {result['recall']:.4f} "
                f"loss {result['loss']:.4f} ({result['matched']} of {result['gt']} lines found, "
                f"{result['pred']} predicted)")

    def log_train_batch(self, logger: Any, batch: dict[str, Any], step: int) -> None:
        writer = getattr(logger, "writer", None)
        if writer is None:
            return
        k = max(1, self.cfg.logging.num_samples)
        images = batch["images"][:k, 0].numpy()
        shrink = batch["targets"]["shrink_map"][:k].numpy()
        rows = [np.stack([img, img * (1 - 0.5 * s), img * (1 - 0.5 * s) + 0.5 * s], -1)
                for img, s in zip(images, shrink)]  # the shrink map tinted over the crop
        writer.add_image("train_crops/grid", np.concatenate(rows, 0), step, dataformats="HWC")

    # ---- checkpoints -----------------------------------------------------------------------------------
    def checkpoint_meta(self, model: torch.nn.Module) -> dict[str, Any]:
        o = self.opts
        # det_postprocess: read by models.weights.load_detector; det_limit_side: the validation resize
        return {"model_name": self.cfg.model.name, "model_kwargs": model.config(),
                "det_postprocess": model.postprocess.settings(), "det_limit_side": o.limit_side,
                "det_options": to_dict(o)}

    def check_resume(self, ck: dict[str, Any]) -> None:
        if ck.get("model_name") != self.cfg.model.name:
            raise AksarError(f"--resume: checkpoint holds a {ck.get('model_name')!r} model, config says "
                             f"{self.cfg.model.name!r}")
        theirs = ck.get("model_kwargs") or {}
        differ = sorted(k for k, v in self.cfg.model.kwargs.items() if k in theirs and theirs[k] != v)
        if differ:
            raise AksarError(f"--resume: model.kwargs {', '.join(differ)} differ from the checkpoint's; "
                             "fine-tune with model.init_from instead")


def evaluate_detector(model: torch.nn.Module, pages: list, opts: DetectionOptions, device: torch.device,
                      autocast: Callable[[], AbstractContextManager], num_samples: int = 4) -> dict[str, Any]:
    """Precision, recall, hmean (IoU 0.5) and loss of ``model`` on ``pages`` (DetSamples), each page resized
    as at inference; with a few pages drawn (``_images``) and per-page numbers (``samples``)."""
    from aksar.data.det_metrics import detection_metrics
    from aksar.data.det_targets import make_targets

    model.eval()
    gts, preds, ignores, shown = [], [], [], []
    loss_sum = 0.0
    for page in pages:
        image = load_page(page.image)
        h, w = image.shape
        x = torch.from_numpy(resize_for_detection(image, opts.limit_side)).to(device)
        sh, sw = x.shape[2:]
        polys = [np.asarray(r.polygon, np.float64) for r in page.regions]
        ign = [r.ignore for r in page.regions]
        t = make_targets(polys, ign, sh, sw, scale=(sw / w, sh / h), shrink_ratio=opts.shrink_ratio,
                         thresh_min=opts.thresh_min, thresh_max=opts.thresh_max)
        targets = stack_targets([t], device)
        with torch.no_grad(), autocast():
            out = model(x, targets)
        loss_sum += float(out["loss"])
        dets = model.postprocess(out["prob"].float().cpu().numpy(), [(h, w)])[0]
        gts.append(polys)
        ignores.append(ign)
        preds.append([np.asarray(det.polygon, np.float64) for det in dets])
        if len(shown) < num_samples:
            shown.append(draw_polygons(image, polys, preds[-1]))
    model.train()
    if not pages:
        raise AksarError("task.options.val: no validation pages")
    m = detection_metrics(gts, preds, ignores, iou=0.5)
    samples = [{"page": Path(p.image).name, "gt": r.gt_care, "pred": r.pred_care, "matched": len(r.matched)}
               for p, r in zip(pages[:num_samples], m["images"])]
    return {"hmean": m["hmean"], "precision": m["precision"], "recall": m["recall"], "loss": loss_sum / len(pages),
            "matched": m["matched"], "gt": m["gt"], "pred": m["pred"], "num_samples": len(pages),
            "samples": samples, "_images": shown}


__all__ = ["DetectionTask", "evaluate_detector"]
