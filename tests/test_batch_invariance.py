"""A line reads the same alone and inside a mixed-width batch, for every registered model, from its
checkpoint (PyTorch) and from its ONNX export (onnxruntime)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures.models import KHMER_TOKENS, make_readable, render_khmer

from aksar.core.config import to_dict
from aksar.data.preprocess import PreprocessConfig
from aksar.infer.export import export_onnx
from aksar.infer.recognizer import Recognizer
from aksar.models import build_model, list_models
from aksar.models.weights import save_checkpoint

# Lines of very different widths: the shortest gets several hundred columns of batch padding.
TEXTS = ["ក", "កេខ", "គងកេខ", "កខគងេកខគង", "ខេគេងេកខគងកេខគងកខគងេកខគង"]


@pytest.fixture(scope="module")
def line_images() -> list[np.ndarray]:
    return render_khmer(TEXTS)


def _checkpoint(name: str, path) -> None:
    """An untrained model with a non-degenerate head (random weights read characters, not blanks)."""
    torch.manual_seed(3)
    kwargs = {"max_length": 12} if name.startswith("seq2seq") else {}
    model = build_model(name, len(KHMER_TOKENS), **kwargs).eval()
    make_readable(model)
    save_checkpoint(path, {"model_name": name, "model_kwargs": model.config(), "model_state": model.state_dict(),
                           "charset": KHMER_TOKENS, "script": "khmer", "preprocess": to_dict(PreprocessConfig())})


def _assert_alone_equals_batched(rec: Recognizer, images: list[np.ndarray]) -> None:
    alone = rec.predict_ids(images, batch_size=1)
    batched = rec.predict_ids(images, batch_size=len(images))
    assert any(ids for ids, _ in alone), "the model reads nothing: the comparison would be trivial"
    for i, ((ids_a, conf_a), (ids_b, conf_b)) in enumerate(zip(alone, batched)):
        assert ids_a == ids_b, f"line {i} ({TEXTS[i]!r}) reads differently alone and in a batch"
        assert conf_a == pytest.approx(conf_b, abs=1e-4), f"line {i}: confidence {conf_a} alone, {conf_b} batched"


@pytest.mark.parametrize("name", list_models())
def test_line_reads_the_same_alone_and_batched(name, line_images, tmp_path):
    torch.set_num_threads(1)
    ckpt = tmp_path / f"{name}.pt"
    _checkpoint(name, ckpt)
    _assert_alone_equals_batched(Recognizer(ckpt, threads=1), line_images)
    onnx_path = tmp_path / f"{name}.onnx"
    export_onnx(ckpt, onnx_path, check=False)
    _assert_alone_equals_batched(Recognizer(onnx_path, threads=1), line_images)


def test_background_margin_pads_every_line(line_images):
    """Each line gets at least the margin of its own background after it, alone or batched."""
    from aksar.data.preprocess import background_value, resize_to_height, to_array_batch

    cfg = PreprocessConfig()
    margin = build_model("ctc_small", 3).pad_margin
    assert margin >= 18  # the VGG stack's right reach (18 columns) plus the last frame
    batch, widths = to_array_batch(line_images, cfg, margin)
    assert batch.shape[3] >= int(widths.max()) + margin
    for img, row, w in zip(line_images, batch, widths):
        bg = (background_value(resize_to_height(img, cfg)[0]) / 255.0 - cfg.mean) / cfg.std
        np.testing.assert_allclose(row[0, :, w:], bg, atol=1e-6)


@pytest.mark.parametrize("layers", [1, 2])
def test_run_rnn_equals_packed_sequences(layers):
    """The plain-op LSTM (CPU, ONNX) computes what a packed sequence computes (cuDNN), same weights."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from aksar.models.base import run_rnn

    torch.manual_seed(1)
    rnn = torch.nn.LSTM(6, 5, num_layers=layers, bidirectional=True, batch_first=True).eval()
    feats, lengths = torch.randn(4, 9, 6), torch.tensor([9, 2, 6, 1])
    packed = pack_padded_sequence(feats, lengths, batch_first=True, enforce_sorted=False)
    expected = pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=9)[0]
    with torch.no_grad():
        torch.testing.assert_close(run_rnn(rnn, feats, lengths), expected, atol=1e-6, rtol=0)
        torch.testing.assert_close(run_rnn(rnn, feats, torch.full((4,), 9)), rnn(feats)[0], atol=1e-6, rtol=0)
