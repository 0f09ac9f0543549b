"""``data.batch_size: auto`` on CUDA: the largest batch that fits for the widest expected input."""
from __future__ import annotations

import logging

import torch

from aksar.train.config import TrainConfig

log = logging.getLogger("aksar.train")

MARGIN = 0.8  # use this share of the largest batch that fitted (activations vary with text and width)
LIMIT = 4096


def _fits(model, device: torch.device, cfg: TrainConfig, batch: int, amp_dtype) -> bool:
    pre = cfg.data.preprocess
    length = cfg.data.max_text_length or getattr(model, "max_length", None) or 100
    length = model.output_decoder.longest_label(length, pre.max_width, model.width_stride)
    try:
        images = torch.zeros(batch, 1, pre.height, pre.max_width, device=device)
        widths = torch.full((batch,), pre.max_width, dtype=torch.long, device=device)
        targets = model.prepare_targets([[0] * length] * batch, device)
        with torch.autocast("cuda", dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = model(images, widths, targets)["loss"]
        loss.backward()
        return True
    except torch.cuda.OutOfMemoryError:
        return False
    finally:
        model.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()


def find_batch_size(model, device: torch.device, cfg: TrainConfig, amp_dtype=None) -> int:
    """Binary search (powers of two, then bisection) on a batch of max_width images; MARGIN applied."""
    model.to(device).train()
    lo, hi = 0, 1
    while hi <= LIMIT and _fits(model, device, cfg, hi, amp_dtype):
        lo, hi = hi, hi * 2
    if lo == 0:
        raise RuntimeError(f"batch_size auto: not even one {cfg.data.preprocess.max_width}px-wide image fits on {device}")
    hi = min(hi, LIMIT + 1)
    while hi - lo > max(1, lo // 16):
        mid = (lo + hi) // 2
        if _fits(model, device, cfg, mid, amp_dtype):
            lo = mid
        else:
            hi = mid
    chosen = max(1, int(lo * MARGIN))
    log.info("batch_size auto: %d fits at width %d on %s; using %d", lo, cfg.data.preprocess.max_width, device,
             chosen)
    return chosen
