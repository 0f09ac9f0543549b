"""Every registered model, built tiny: a real training step on rendered Khmer lines, its ONNX export
loaded through aksar's ONNX model class, and the export reads the same ids as the PyTorch model.
Also the registry and the decoders (one per model kind) themselves."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures.models import KHMER_TOKENS, make_readable, render_khmer

from aksar.core.errors import AksarError
from aksar.data.preprocess import PreprocessConfig, to_array_batch
from aksar.infer.export import export_model
from aksar.infer.onnx_model import OnnxModel
from aksar.infer.recognizer import Recognizer
from aksar.models import build_model, get_decoder, list_models, model_specs
from aksar.models.decoders import DECODERS
from aksar.models.registry import register_model

TEXTS = ["ក", "ខ", "គ", "ង", "កេខ", "គងកេខ", "ងេកខគង", "ខេគេងេកខគង"]
PRE = PreprocessConfig()


@pytest.fixture(scope="module")
def lines() -> tuple[list[np.ndarray], list[list[int]]]:
    return render_khmer(TEXTS), [[KHMER_TOKENS.index(c) for c in t] for t in TEXTS]


def _tiny(name: str):
    torch.manual_seed(0)
    return build_model(name, len(KHMER_TOKENS), **model_specs()[name].cls.tiny)


@pytest.mark.parametrize("name", list_models(task="recognition"))
def test_every_model_trains_exports_and_reads_the_same_from_onnx(name, lines, tmp_path):
    torch.set_num_threads(1)
    images, ids = lines
    model = _tiny(name)
    # a real training step on the lines this model can carry (a single-character model: one token)
    longest = model.output_decoder.longest_label(len(max(ids, key=len)), PRE.max_width, model.width_stride)
    keep = [i for i, t in enumerate(ids) if len(t) <= longest]
    assert len(keep) >= 4
    batch, widths = to_array_batch([images[i] for i in keep], PRE)
    x, w = torch.from_numpy(batch), torch.from_numpy(widths)
    targets = model.prepare_targets([ids[i] for i in keep])
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    losses = []
    for _ in range(3):
        loss = model(x, w, targets)["loss"]
        assert loss.ndim == 0 and torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0], losses
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    assert len(changed) == len(before), sorted(set(before) - set(changed))
    # the configuration rebuilds the same architecture
    rebuilt = build_model(name, len(KHMER_TOKENS), **model.config())
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.config() == model.config() and rebuilt.kind == model.kind

    # export (with aksar's PyTorch/onnxruntime parity check) and read with the ONNX model class
    make_readable(model)
    path = tmp_path / f"{name}.onnx"
    summary = export_model(model, path, KHMER_TOKENS, "khmer", PRE)
    assert summary["parity"]["checked"] and summary["kind"] == model.kind and summary["model_name"] == name
    assert model.training  # the export restores the mode
    onnx_model = OnnxModel(path, threads=1)
    assert onnx_model.info.kind == model.kind and onnx_model.info.decoder is model.output_decoder
    assert onnx_model.info.pad_margin == model.pad_margin
    model.eval()
    batch, widths = to_array_batch(images, PRE, model.pad_margin)
    with torch.inference_mode():
        expected = model.decode(model(torch.from_numpy(batch), torch.from_numpy(widths)))
    got = onnx_model.run(batch, widths)
    assert any(t for t, _ in expected), "the model reads nothing: the comparison would be trivial"
    assert [t for t, _ in got] == [t for t, _ in expected]
    assert [c for _, c in got] == pytest.approx([c for _, c in expected], abs=1e-4)
    # one confidence per token where the decoder gives them (greedy), the same from the checkpoint and the export
    detailed = onnx_model.run_detailed(batch, widths)
    assert [(i, c) for i, c, *_ in detailed] == got
    assert [p for *_, p in detailed] == ([c if i else 0.0 for i, c in got] if model.output_decoder.kind == "ctc"
                                         else [None] * len(got))   # greedy: the best path is the reading
    with torch.inference_mode():
        arrays, lengths = model.decoder_inputs(model(torch.from_numpy(batch), torch.from_numpy(widths)))
        from_torch = model.output_decoder.token_confidences([np.asarray(a) for a in arrays], lengths, expected)
    assert any(t is not None for _, _, t, _ in detailed)
    for (ids, _, tokens, _), mine in zip(detailed, from_torch):
        assert (tokens is None) == (mine is None)
        if tokens is not None:
            assert len(tokens) == len(ids) and all(0 <= t <= 1 for t in tokens)
            assert tokens == pytest.approx(mine, abs=1e-4)
    # and through the Recognizer (sorted batches of its own)
    assert [t for t, _ in Recognizer(path, threads=1, batch_size=3).predict_ids(images)] == [t for t, _ in expected]
    # beam search: from the exported outputs where the decoder can, else the Recognizer says to use the checkpoint
    if model.output_decoder.export_beam:
        with torch.inference_mode():
            beam = model.decode(model(torch.from_numpy(batch), torch.from_numpy(widths)), "beam", beam_width=3)
        assert [t for t, _ in onnx_model.run(batch, widths, "beam", beam_width=3)] == [t for t, _ in beam]
    else:
        with pytest.raises(AksarError, match=f"{name}.onnx.*beam search needs the checkpoint"):
            Recognizer(path, decoder="beam")


def test_registry_names_errors_and_registration():
    names = list_models()
    assert len(names) == len(set(names)) >= 8
    for name, spec in model_specs().items():
        assert spec.help and spec.cls.kind in DECODERS, name
    with pytest.raises(AksarError, match="unknown model 'nope'.*ctc_small"):
        build_model("nope", 3)
    with pytest.raises(AksarError, match=r"model \(ctc_fast\): unknown option\(s\) hiden"):
        build_model("ctc_fast", 3, hiden=2)
    with pytest.raises(ValueError, match="registered twice"):
        register_model("ctc_small")(type("Other", (), {}))


def test_decoders_carry_what_the_kinds_differ_in():
    ctc, att, char = get_decoder("ctc"), get_decoder("attention"), get_decoder("char")
    assert [d.special_classes for d in (ctc, att, char)] == [1, 3, 0]
    assert ctc.takes_lm and not att.takes_lm and not char.takes_lm
    assert ctc.export_beam and not att.export_beam
    assert att.outputs == ("ids", "probs") and char.output_axes() == {"probs": {0: "batch"}}
    assert ctc.longest_label(100, 256, 4) == 32 and char.longest_label(100, 256, 4) == 1
    assert ctc.lengths(np.array([1, 9, 4000]), 4, [np.zeros((3, 50, 2))]).tolist() == [1, 3, 50]
    with pytest.raises(AksarError, match="model.onnx: unknown model kind 'detect'"):
        get_decoder("detect", where="model.onnx")
    lm = lambda prefix, token: 0.0  # noqa: E731
    with pytest.raises(AksarError, match="attention model: a language model works with CTC models only"):
        att.check("beam", lm)
    with pytest.raises(AksarError, match="needs the beam decoder"):
        ctc.decode([np.full((1, 2, 3), 1 / 3)], method="greedy", lm=lm)
    with pytest.raises(AksarError, match="needs the checkpoint"):
        att.decode([np.array([[3, 2]]), np.array([[0.9, 0.8]])], method="beam")
    assert att.decode([np.array([[3, 2]]), np.array([[0.9, 0.7]])]) == [([0], pytest.approx(0.8))]


def test_model_decode_applies_the_same_rules(lines):
    model = _tiny("seq2seq_small").eval()
    batch, widths = to_array_batch(lines[0][:2], PRE, model.pad_margin)
    with torch.no_grad():
        out = model(torch.from_numpy(batch), torch.from_numpy(widths))
    assert len(model.decode(out, method="beam", beam_width=2)) == 2  # the network's beam search
    with pytest.raises(AksarError, match="a language model works with CTC models only"):
        model.decode(out, method="beam", lm=lambda p, t: 0.0)
    with pytest.raises(AksarError, match="viterbi"):
        _tiny("char_small").decode({"logits": torch.zeros(1, 5)}, method="viterbi")

