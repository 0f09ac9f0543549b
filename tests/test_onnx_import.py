"""Fine-tuning a shipped (ONNX) recognizer: weights read back from the export, BatchNorms rebuilt from
calibration lines, the same function as the ONNX file, and ``model.init_from`` taking an .onnx or a
shipped model's name."""
from __future__ import annotations

import pytest
import torch

from fixtures.train import tiny_config_dict, write_config

from aksar.core.errors import AksarError
from aksar.data.collate import Collate
from aksar.data.preprocess import PreprocessConfig
from aksar.data.readers import open_dataset
from aksar.infer.export import export_model
from aksar.models.onnx_import import checkpoint_from_onnx
from aksar.models.registry import build_model
from aksar.models.weights import init_from_checkpoint
from aksar.text.charset import Charset
from aksar.train.config import config_from_dict
from aksar.train.logging_utils import read_metrics
from aksar.train.trainer import train

pytestmark = pytest.mark.xdist_group("train")

PRE = PreprocessConfig(height=16, max_width=256)


def _batches(val_dir, model, start: int, n: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    ds = open_dataset(str(val_dir))
    batch = Collate(PRE, margin=model.pad_margin)([ds[i] for i in range(start, start + n)])
    return [(batch["images"], batch["widths"])]


def _disturbed(name: str, tokens: list[str]) -> torch.nn.Module:
    """A tiny model with BatchNorm statistics and affine terms far from their defaults (as after training)."""
    torch.manual_seed(3)
    model = build_model(name, len(tokens), height=16, **build_model(name, 4).tiny)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.2, 3.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return model.eval()


@pytest.mark.parametrize("name", ["ctc_small", "ctc_mobilenet"])
def test_weights_read_back_compute_the_exported_function(name, train_data, tmp_path):
    tokens = list(Charset.load(train_data["corpus"] / "charset.txt").tokens)
    src = _disturbed(name, tokens)
    onnx_path = tmp_path / "m.onnx"
    export_model(src, onnx_path, tokens, "khmer", PRE, model_name=name, model_kwargs=src.config())
    ckpt = checkpoint_from_onnx(onnx_path, _batches(train_data["val"], src, 0))
    assert ckpt["model_name"] == name and ckpt["charset"] == tokens and ckpt["script"] == "khmer"
    back = build_model(name, len(tokens), **ckpt["model_kwargs"])
    back.load_state_dict(ckpt["model_state"])
    back.eval()
    images, widths = _batches(train_data["val"], src, 8)[0]  # lines the calibration never saw
    with torch.no_grad():
        want, got = src.export_forward(images, widths), back.export_forward(images, widths)
    assert (want - got).abs().max() < 1e-4
    # the BatchNorms now hold the statistics of the data, so train mode starts close to eval mode
    bns = [m for m in back.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(not torch.allclose(m.running_var, torch.ones_like(m.running_var)) for m in bns)
    back.train()
    with torch.no_grad():
        trained_mode = back.export_forward(*_batches(train_data["val"], src, 0)[0])
        back.eval()
        eval_mode = back.export_forward(*_batches(train_data["val"], src, 0)[0])
    assert (trained_mode - eval_mode).abs().max() < 0.05


def test_import_refuses_what_it_cannot_read(train_data, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(AksarError, match="bad.onnx: not an ONNX model"):
        checkpoint_from_onnx(bad)
    tokens = list(Charset.load(train_data["corpus"] / "charset.txt").tokens)
    s2s = build_model("seq2seq_small", len(tokens), height=16, **build_model("seq2seq_small", 4).tiny).eval()
    path = tmp_path / "s2s.onnx"
    export_model(s2s, path, tokens, "khmer", PRE, model_name="seq2seq_small", model_kwargs=s2s.config())
    with pytest.raises(AksarError, match="supports CTC recognizers"):
        checkpoint_from_onnx(path)


def test_finetune_starts_from_an_onnx_model(train_data, tmp_path, run_cli, monkeypatch):
    """A run initialised from an export of a trained run (by its shipped-model name, through the Python
    API) starts at that run's validation CER, with a charset remapped as for checkpoints; a name that is
    neither a path nor a shipped model is one line."""
    base = tmp_path / "base"
    train(config_from_dict(tiny_config_dict(train_data, base, run={"epochs": 3, "val_every_steps": 24})))
    base_val = [r for r in read_metrics(base / "metrics.jsonl") if r["type"] == "val"][-1]
    from aksar.infer.export import export_onnx

    onnx_path = tmp_path / "base.onnx"
    export_onnx(base / "checkpoints" / "latest.pt", onnx_path)
    tokens = list(Charset.load(train_data["corpus"] / "charset.txt").tokens)
    fresh = build_model("ctc_small", len(tokens) + 1, height=16, **tiny_config_dict(train_data, base)["model"]["kwargs"])
    counts = init_from_checkpoint(fresh, onnx_path, tokens + ["Ω"], "ctc_small",
                                  lambda: _batches(train_data["val"], fresh, 0))
    assert counts["shared"] == len(tokens) and counts["new"] == 1
    # one step at a learning rate of ~0: the first validation reads as the exported model did, and a
    # run from scratch does not. The export is taken by name from a zoo folder, as `-o model.init_from=khmer`
    from aksar.infer.model_card import make_card
    from aksar.models.zoo import MODELS_DIR_ENV

    make_card(onnx_path, tmp_path / "zoo" / "tiny_rec", "tiny_rec")
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "zoo"))
    first = {}
    for init in ("tiny_rec", None):
        run = tmp_path / f"ft_{init is None}"
        cfg = tiny_config_dict(train_data, run, run={"max_steps": 1, "val_every_steps": 1},
                               optimizer={"lr": 1e-12}, scheduler={"name": "none"})
        cfg["model"]["init_from"] = init
        train(config_from_dict(cfg))
        first[init] = [r for r in read_metrics(run / "metrics.jsonl") if r["type"] == "val"][0]["loss"]
    assert abs(first["tiny_rec"] - base_val["loss"]) < 0.02 * base_val["loss"]
    assert abs(first[None] - base_val["loss"]) > 0.1 * base_val["loss"]
    # a resumed run never reads init_from again: the model may be gone (a shipped model replaced)
    import shutil

    shutil.rmtree(tmp_path / "zoo")
    proc = run_cli(["train", "--resume", tmp_path / "ft_False", "-o", "run.max_steps=2"], check=False)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(["train", write_config(tmp_path / "c.yaml", cfg), "-o", "model.init_from=no_such_model",
                    "-o", f"run.output_dir={tmp_path / 'x'}"], check=False)
    assert proc.returncode != 0 and "model.init_from: unknown model 'no_such_model'" in proc.stderr


def test_every_shipped_recognizer_can_be_tuned(train_data):
    """The shipped ONNX recognizers import with the rebuilt model equal to onnxruntime on real lines."""
    import json

    from aksar.core.config import from_dict
    from aksar.infer.onnx_model import open_session
    from aksar.models.zoo import list_models, verify

    shipped = [m for m in list_models() if m.task == "recognition"]
    assert {m.script for m in shipped} >= {"khmer", "thai"}
    ds = open_dataset(str(train_data["val"]))
    for m in shipped:
        meta = open_session(verify(m))[1]
        pre = from_dict(PreprocessConfig, json.loads(meta["aksar.preprocess"]))
        batch = Collate(pre, margin=int(meta["aksar.pad_margin"]))([ds[i] for i in range(12)])
        ckpt = checkpoint_from_onnx(verify(m), [(batch["images"], batch["widths"])])  # parity checked inside
        assert ckpt["model_name"] == meta["aksar.model_name"] and ckpt["script"] == m.script
