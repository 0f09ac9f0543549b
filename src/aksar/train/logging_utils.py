"""Training logs: ``metrics.jsonl`` (one JSON object per logged step and per validation), TensorBoard
(loss, lr, CER, accuracy, throughput, sample images with predictions) and a PaddleOCR-style console line.

Only rank 0 writes. On resume, ``metrics.jsonl`` records after the checkpoint's step are dropped and
TensorBoard events after it are purged, so a resumed run's logs read as if it had never stopped.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from aksar.core.io import atomic_write_text

log = logging.getLogger("aksar.train")

# Fields that depend on wall-clock time (left out when comparing runs).
TIMING_FIELDS = ("time", "reader_cost", "batch_cost", "samples_per_s", "eta_s", "val_seconds")


def format_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def truncate_metrics(path: Path, max_step: int) -> int:
    """Keep only records with ``step <= max_step`` (resume after a kill); returns records dropped."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            dropped += 1
            continue
        if int(rec.get("step", 0)) <= max_step:
            kept.append(line)
        else:
            dropped += 1
    atomic_write_text(path, "".join(k + "\n" for k in kept))
    return dropped


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All records of a ``metrics.jsonl``."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


class MetricsLogger:
    """Writes JSONL + TensorBoard + console; a no-op on ranks other than 0."""

    def __init__(self, run_dir: Path, *, enabled: bool, tensorboard: bool, resume_step: int | None) -> None:
        self.enabled = enabled
        self.path = run_dir / "metrics.jsonl"
        self.writer = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            dropped = truncate_metrics(self.path, resume_step)
            if dropped:
                log.info("metrics.jsonl: dropped %d records logged after step %d (resumed there)",
                         dropped, resume_step)
        elif self.path.exists():
            self.path.unlink()
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = resume_step + 1 if resume_step is not None else None
            self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
        self._fh = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {**record, "time": round(time.time(), 3)}
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self.writer is None:
            return
        for k, v in values.items():
            if isinstance(v, (int, float)) and v is not None:
                self.writer.add_scalar(f"{prefix}/{k}", v, step)

    def samples(self, images: list[np.ndarray], refs: list[str], preds: list[str], step: int) -> None:
        """Sample validation images with their reference and prediction (TensorBoard)."""
        if self.writer is None or not images:
            return
        rows = []
        for i, (img, ref, pred) in enumerate(zip(images, refs, preds)):
            self.writer.add_image(f"val_samples/{i}", img[None].astype(np.uint8), step, dataformats="CHW")
            rows.append((ref, pred + ("" if ref == pred else " ✗")))
        self.writer.add_text("val_samples/predictions", _table(("reference", "prediction"), rows), step)

    def train_samples(self, images: list[np.ndarray], texts: list[str], step: int) -> None:
        """Augmented training samples as the model sees them (one grid, top to bottom) and their labels."""
        if self.writer is None or not images:
            return
        self.writer.add_image("train_samples/grid", image_grid(images)[None], step, dataformats="CHW")
        self.writer.add_text("train_samples/labels", _table(("label",), [(t,) for t in texts]), step)

    def close(self) -> None:
        if not self.enabled:
            return
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
            self.writer = None
        if not self._fh.closed:
            self._fh.close()


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A markdown table with a row-number column (TensorBoard text)."""
    lines = ["| # | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    lines += [f"| {i} | " + " | ".join(r) + " |" for i, r in enumerate(rows)]
    return "\n".join(lines)


def image_grid(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """uint8 grayscale images stacked top to bottom on white, left-aligned, ``gap`` grey rows between."""
    width = max(im.shape[1] for im in images)
    rows = []
    for i, im in enumerate(images):
        if i:
            rows.append(np.full((gap, width), 128, np.uint8))
        rows.append(np.pad(im.astype(np.uint8), ((0, 0), (0, width - im.shape[1])), constant_values=255))
    return np.concatenate(rows, axis=0)


def batch_images(images, widths, mean: float, std: float, k: int) -> list[np.ndarray]:
    """The first ``k`` images of a normalised batch tensor [B,1,H,W] as uint8 arrays cut to their widths."""
    out = []
    for i in range(min(k, len(widths))):
        x = images[i, 0, :, :int(widths[i])].float().cpu().numpy()
        out.append(np.clip((x * std + mean) * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return out


def console_line(epoch: int, epochs: int, step_in_epoch: int, steps_per_epoch: int, rec: dict[str, Any],
                 eta_s: float) -> str:
    return (f"epoch {epoch + 1}/{epochs} step {step_in_epoch}/{steps_per_epoch} (global {rec['step']}) "
            f"loss {rec['loss']:.4f} lr {rec['lr']:.1e} reader_cost {rec['reader_cost']:.3f}s "
            f"batch_cost {rec['batch_cost']:.3f}s samples/s {rec['samples_per_s']:.0f} eta {format_eta(eta_s)}")


__all__ = ["MetricsLogger", "truncate_metrics", "read_metrics", "format_eta", "console_line", "TIMING_FIELDS",
           "image_grid", "batch_images"]
