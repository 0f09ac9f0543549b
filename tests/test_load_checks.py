"""Models that do not fit their charset or settings, foreign files and missing devices are refused at
load time with one line naming the file and what is wrong (never a torch traceback or torch's advice)."""
from __future__ import annotations

import datetime
import json
import pickle

import numpy as np
import onnx
import pytest
import torch

from aksar.core.config import to_dict
from aksar.core.errors import AksarError
from aksar.data.preprocess import PreprocessConfig
from aksar.infer.export import export_onnx
from aksar.infer.onnx_model import META_CHARSET, META_NUM_CLASSES
from aksar.infer.recognizer import Recognizer
from aksar.models import build_model
from aksar.models.weights import load_for_inference, save_checkpoint

TOKENS = ["ក", "ខ", "គ", "ង", "េ"]


def _save(path, name: str, tokens=TOKENS, **overrides) -> None:
    """A checkpoint of an untrained ``name`` model; ``overrides`` replace fields after building it."""
    torch.manual_seed(0)
    kwargs = {"max_length": 4} if name.startswith("seq2seq") else {}
    model = build_model(name, len(TOKENS), **kwargs)
    state = {"model_name": name, "model_kwargs": model.config(), "model_state": model.state_dict(),
             "charset": list(tokens), "script": "khmer", "preprocess": to_dict(PreprocessConfig())}
    state.update(overrides)
    save_checkpoint(path, state)


def _refused(path, *must_contain: str, **kwargs) -> str:
    with pytest.raises(AksarError) as exc:
        Recognizer(path, **kwargs)
    msg = str(exc.value)
    assert "\n" not in msg and "weights_only" not in msg and "Traceback" not in msg, msg
    for part in must_contain:
        assert part in msg, msg
    return msg


@pytest.mark.parametrize("name", ["ctc_fast", "char_small", "seq2seq_small"])
def test_onnx_with_a_shorter_charset_than_its_output_layer_is_refused(name, tmp_path):
    ckpt, good = tmp_path / "m.pt", tmp_path / "m.onnx"
    _save(ckpt, name)
    export_onnx(ckpt, good, check=False)
    assert Recognizer(good).charset == TOKENS
    proto = onnx.load(str(good))
    for entry in proto.metadata_props:
        if entry.key == META_CHARSET:
            entry.value = json.dumps(TOKENS[:-1], ensure_ascii=False)
    bad = tmp_path / "short_charset.onnx"
    onnx.save(proto, str(bad))
    _refused(bad, str(bad), f"charset has {len(TOKENS) - 1} tokens")
    if name.startswith("seq2seq"):  # the class count of an attention graph comes from its metadata
        assert any(e.key == META_NUM_CLASSES for e in proto.metadata_props)


def test_checkpoint_charset_that_does_not_fit_the_weights_is_refused(tmp_path):
    path = tmp_path / "charset.pt"
    _save(path, "ctc_fast", tokens=TOKENS[:3])
    _refused(path, str(path), "charset has 3 tokens but the weights were trained for 5")
    with pytest.raises(AksarError, match="trained for 5"):
        load_for_inference(path)


@pytest.mark.parametrize("kwargs, expect", [
    ({"hidden": 64}, "model_kwargs do not match the weights (rnn.weight_ih_l0"),
    ({"rnn_layers": 2}, "missing rnn.weight_ih_l1"),
    ({"backbone": "mobilenet"}, "do not match the weights"),
    ({"no_such_option": 1}, "unknown option"),
])
def test_checkpoint_settings_that_do_not_fit_the_weights_are_refused(kwargs, expect, tmp_path):
    path = tmp_path / "settings.pt"
    config = build_model("ctc_fast", len(TOKENS)).config()
    _save(path, "ctc_fast", model_kwargs={**config, **kwargs})
    _refused(path, str(path), expect)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    _save(path, "ctc_fast", model_name="seq2seq_small", model_kwargs={})
    _refused(path, str(path), "do not match the weights")


def test_foreign_files_are_not_aksar_checkpoints(tmp_path):
    rng = np.random.default_rng(0)
    random_bytes = tmp_path / "random.pt"
    random_bytes.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    foreign_pickle = tmp_path / "pickle.pt"
    foreign_pickle.write_bytes(pickle.dumps({"when": datetime.date(2024, 1, 1)}))
    torch_objects = tmp_path / "objects.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, torch_objects)  # a whole module, not plain data
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, plain)
    for path in (random_bytes, foreign_pickle, torch_objects, plain):
        _refused(path, str(path), "not an aksar checkpoint")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_cuda_is_one_line_in_the_cli(run_cli, tmp_path):
    ckpt = tmp_path / "m.pt"
    _save(ckpt, "ctc_fast")
    _refused(ckpt, "device: 'cuda' requested but CUDA is not available", device="cuda")
    _refused(ckpt, "device: 'cuda:1' requested", device="cuda:1")
    _refused(ckpt, "device: unknown device 'gpu'", device="gpu")
    img = tmp_path / "line.png"
    from PIL import Image

    Image.fromarray(np.full((32, 64), 255, np.uint8)).save(img)
    for args in (["predict", ckpt, img], ["eval", ckpt, tmp_path / "no_such_dataset"]):
        proc = run_cli([*args, "--device", "cuda", "--no-progress"], timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines() == [
            "error: device: 'cuda' requested but CUDA is not available (use auto or cpu)"], proc.stderr


def test_random_bytes_in_the_cli_say_not_an_aksar_checkpoint(run_cli, tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(bytes(range(256)) * 8)
    img = tmp_path / "line.png"
    from PIL import Image

    Image.fromarray(np.full((32, 64), 255, np.uint8)).save(img)
    proc = run_cli(["predict", path, img, "--no-progress"], timeout=120)
    assert proc.returncode == 2
    assert "weights_only" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: {path}: not an aksar checkpoint (not a PyTorch file of "
                                                "tensors and plain data)"], proc.stderr


def test_ctc_export_without_widths_input_still_loads_with_a_warning(tmp_path, monkeypatch, caplog):
    """Files exported before the widths input keep working (they pad-leak, so a warning says re-export)."""
    from aksar.models.crnn import CTCModel

    ckpt, old = tmp_path / "m.pt", tmp_path / "old.onnx"
    _save(ckpt, "ctc_fast")
    with monkeypatch.context() as m:
        m.setattr(CTCModel, "export_takes_widths", False)
        export_onnx(ckpt, old, check=False)
    assert [i.name for i in onnx.load(str(old)).graph.input] == ["images"]
    with caplog.at_level("WARNING"):
        rec = Recognizer(old)
    assert "without a widths input" in caplog.text and "re-export" in caplog.text
    image = np.full((32, 80), 255, np.uint8)
    image[8:24, 10:70:6] = 0
    ids, conf = rec.predict_ids([image])[0]
    assert 0.0 < conf <= 1.0 and all(0 <= i < len(TOKENS) for i in ids)
