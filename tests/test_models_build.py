"""Registry, forward/loss/decode for every model, config round trips, width handling, errors."""
from __future__ import annotations

import pytest
import torch

from aksar.core.errors import AksarError
from aksar.models import build_model, list_models
from aksar.models.backbones import output_lengths

NUM_TOKENS = 11


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _batch(height: int = 32, widths=(64, 40)) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    images = torch.rand(len(widths), 1, height, max(widths)) * 2 - 1
    return images, torch.tensor(widths)


def test_registry_lists_the_issue_names():
    assert set(list_models()) >= {"ctc_small", "ctc_medium", "ctc_large", "ctc_mobilenet", "seq2seq_small",
                                  "seq2seq_medium", "char_small"}


@pytest.mark.parametrize("name", ["ctc_fast", "ctc_small", "ctc_medium", "ctc_large", "ctc_mobilenet",
                                  "seq2seq_small", "seq2seq_medium"])
def test_sequence_models_forward_loss_decode_and_rebuild(name):
    model = build_model(name, NUM_TOKENS)
    images, widths = _batch()
    targets = [[0, 1, 2], [10]]
    out = model(images, widths, targets)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    offset = 1 if model.kind == "ctc" else 3
    assert model.num_classes == NUM_TOKENS + offset
    assert out["logits"].shape[-1] == model.num_classes
    model.eval()
    with torch.no_grad():
        out = model(images, widths)
    for method in ("greedy", "beam"):
        decoded = model.decode(out, method=method, beam_width=3)
        assert len(decoded) == 2
        for ids, conf in decoded:
            assert all(0 <= i < NUM_TOKENS for i in ids) and 0.0 <= conf <= 1.0
    rebuilt = build_model(name, NUM_TOKENS, **model.config())
    rebuilt.load_state_dict(model.state_dict())
    rebuilt.eval()
    assert rebuilt.config() == model.config()
    with torch.no_grad():
        assert torch.allclose(rebuilt(images, widths)["logits"], out["logits"])


def test_ctc_output_lengths_follow_widths_and_stride_4():
    model = build_model("ctc_small", NUM_TOKENS).eval()
    images, widths = _batch(widths=(64, 40, 9))
    with torch.no_grad():
        out = model(images, widths)
    assert out["logits"].shape[1] == 16
    assert out["output_lengths"].tolist() == [16, 10, 3]
    assert output_lengths(torch.tensor([1, 4, 5, 1000]), 16).tolist() == [1, 1, 2, 16]


def test_ctc_counts_infeasible_targets():
    model = build_model("ctc_small", NUM_TOKENS)
    images, widths = _batch(widths=(64, 8))  # the second line has only 2 frames
    out = model(images, widths, [[1, 2], [3, 3]])  # "3 3" needs 3 frames (a blank between)
    assert out["infeasible"] == 1
    assert model.prepare_targets([[3, 3, 4]])["min_frames"].tolist() == [4]


@pytest.mark.parametrize("name", ["ctc_small", "ctc_mobilenet", "seq2seq_small", "char_small"])
def test_height_48_is_supported(name):
    model = build_model(name, NUM_TOKENS, height=48).eval()
    images, widths = _batch(height=48)
    with torch.no_grad():
        out = model(images, widths)
    assert len(model.decode(out)) == 2
    with pytest.raises(AksarError, match=r"\[B, 1, 48, W\]"):
        model(torch.zeros(1, 1, 32, 64), torch.tensor([64]))


def test_char_model_single_softmax_over_tokens():
    model = build_model("char_small", NUM_TOKENS)
    assert model.kind == "char" and model.num_classes == NUM_TOKENS
    images, widths = _batch()
    out = model(images, widths, [[0], [NUM_TOKENS - 1]])
    assert out["logits"].shape == (2, NUM_TOKENS) and torch.isfinite(out["loss"])
    decoded = model.decode(out)
    assert all(len(ids) == 1 for ids, _ in decoded)
    with pytest.raises(AksarError, match="sample 1 has 2 tokens"):
        model.prepare_targets([[1], [1, 2]])


def test_char_model_is_independent_of_batch_padding():
    model = build_model("char_small", NUM_TOKENS).eval()
    images, _ = _batch(widths=(40,))
    padded = torch.cat([images, torch.ones(1, 1, 32, 24)], dim=3)  # background is +1 after normalisation
    with torch.no_grad():
        a = model(images, torch.tensor([40]))["logits"]
        b = model(padded, torch.tensor([40]))["logits"]
    assert model.decode({"logits": a})[0][0] == model.decode({"logits": b})[0][0]


def test_losses_follow_the_loss_kwarg():
    ctc = build_model("ctc_small", NUM_TOKENS, loss={"name": "focal", "gamma": 1.0})
    assert ctc.loss_fn.name == "focal_ctc" and ctc.config()["loss"]["gamma"] == 1.0
    att = build_model("seq2seq_small", NUM_TOKENS, loss={"name": "ce", "label_smoothing": 0.1})
    assert att.loss_fn.label_smoothing == 0.1
    with pytest.raises(AksarError, match="needs a ctc loss"):
        build_model("ctc_small", NUM_TOKENS, loss="ce")


@pytest.mark.parametrize("name, kwargs, match", [
    ("ctc_tiny", {}, "unknown model 'ctc_tiny'"),
    ("ctc_small", {"hiden": 3}, "unknown option.*hiden"),
    ("ctc_small", {"height": 40}, "model.height"),
    ("seq2seq_small", {"teacher_forcing": 1.5}, "teacher_forcing"),
    ("ctc_small", {"backbone": "resnet"}, "model.backbone"),
])
def test_build_errors_name_the_key(name, kwargs, match):
    with pytest.raises(AksarError, match=match):
        build_model(name, NUM_TOKENS, **kwargs)


def test_targets_outside_charset_are_refused():
    with pytest.raises(AksarError, match="sample 0 has token id 11"):
        build_model("ctc_small", NUM_TOKENS).prepare_targets([[11]])


def test_attention_targets_have_sos_and_eos():
    model = build_model("seq2seq_small", NUM_TOKENS)
    tg = model.prepare_targets([[0, 4], [7]])
    assert tg["input"].tolist() == [[1, 3, 7], [1, 10, 0]]
    assert tg["target"].tolist() == [[3, 7, 2], [10, 2, 0]]
