"""Checkpoints (self-describing, weights_only), fine-tuning with another charset, and the stop rules
(target CER, early stopping, time budget)."""
from __future__ import annotations

import json

import pytest
import torch

from fixtures.train import tiny_config_dict

from aksar.core.errors import AksarError
from aksar.data.readers import open_dataset
from aksar.data.preprocess import to_tensor_batch
from aksar.models.registry import build_model
from aksar.text.charset import Charset
from aksar.text.normalize import normalize
from aksar.models.weights import init_from_checkpoint, load_for_inference
from aksar.train.config import config_from_dict
from aksar.train.logging_utils import read_metrics
from aksar.train.trainer import train

pytestmark = pytest.mark.xdist_group("train")


@pytest.fixture(scope="module")
def base_run(train_data, tmp_path_factory):
    """4 steps, validated at steps 2 and 4; patience 1 with an impossible min_delta stops it at step 4."""
    run = tmp_path_factory.mktemp("base") / "run"
    cfg = tiny_config_dict(train_data, run, run={"max_steps": 50, "val_every_steps": 2},
                           early_stopping={"patience": 1, "min_delta": 5.0})
    result = train(config_from_dict(cfg))
    return run, result


def test_early_stopping_and_self_describing_checkpoint(base_run, train_data):
    run, result = base_run
    assert result.stop_reason == "early_stopping" and result.step == 4
    vals = [r for r in read_metrics(run / "metrics.jsonl") if r["type"] == "val"]
    assert [v["step"] for v in vals] == [2, 4]
    best_step = 2 if vals[0]["cer"] <= vals[1]["cer"] else 4
    ck = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert ck["step"] == best_step and ck["model_name"] == "ctc_small" and ck["script"] == "khmer"
    assert ck["charset"] == list(Charset.load(train_data["corpus"] / "charset.txt").tokens)
    assert ck["preprocess"]["height"] == 16 and ck["config"]["data"]["batch_size"] == 8
    # the inference loader rebuilds the model from the checkpoint alone and reads like validation did
    loaded = load_for_inference(run / "checkpoints" / "best.pt")
    assert loaded.script == "khmer" and loaded.preprocess.height == 16
    ds = open_dataset(str(train_data["val"]))
    items = [ds[i] for i in range(2)]
    images, widths = to_tensor_batch([it["image"] for it in items], loaded.preprocess)
    with torch.no_grad():
        decoded = loaded.model.decode(loaded.model(images, widths))
    preds = [normalize(loaded.charset.decode(ids), loaded.script) for ids, _ in decoded]
    best_val = vals[0] if best_step == 2 else vals[1]
    assert preds == [s["pred"] for s in best_val["samples"]]
    assert (run / "config.yaml").is_file() and json.loads((run / "metrics.jsonl").read_text().splitlines()[0])


def test_finetune_with_another_charset_keeps_shared_tokens(base_run, train_data, tmp_path):
    run, _ = base_run
    old = Charset.load(train_data["corpus"] / "charset.txt")
    dropped = list(old.tokens[5:10])
    new_tokens = [t for t in old.tokens if t not in dropped] + ["Ω", "ß", "€"]
    new_tokens[0], new_tokens[1] = new_tokens[1], new_tokens[0]  # and a different order
    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    torch.manual_seed(0)
    model = build_model("ctc_small", len(new_tokens), **{k: v for k, v in ckpt["model_kwargs"].items()})
    fresh_head = model.head.weight.detach().clone()
    counts = init_from_checkpoint(model, run / "checkpoints" / "latest.pt", new_tokens, "ctc_small")
    assert counts == {"shared": len(old) - 5, "new": 3, "dropped": 5, "remapped_tensors": 2}
    head_old = ckpt["model_state"]["head.weight"]
    head_new = model.head.weight.detach()
    assert torch.equal(head_new[0], head_old[0])  # blank
    for j, tok in enumerate(new_tokens):
        if tok in old:
            assert torch.equal(head_new[j + 1], head_old[old.index(tok) + 1]), tok
        else:
            assert torch.equal(head_new[j + 1], fresh_head[j + 1]), tok
    assert torch.equal(model.state_dict()["rnn.weight_ih_l0"], ckpt["model_state"]["rnn.weight_ih_l0"])
    with pytest.raises(AksarError, match="seq2seq_small"):
        init_from_checkpoint(model, run / "checkpoints" / "latest.pt", new_tokens, "seq2seq_small")

    # end to end: a run with data.charset = the new charset, initialised from the old run
    charset_file = tmp_path / "charset.txt"
    Charset(new_tokens).save(charset_file)
    cfg = tiny_config_dict(train_data, tmp_path / "ft", run={"max_steps": 1},
                           model={"init_from": str(run / "checkpoints" / "latest.pt")},
                           data={"charset": str(charset_file)},
                           early_stopping={"target_cer": 2.0})  # any CER: stop at the first validation
    result = train(config_from_dict(cfg))
    assert result.stop_reason == "target_cer" and result.step == 1
    ft = torch.load(tmp_path / "ft" / "checkpoints" / "latest.pt", weights_only=True)
    assert ft["charset"] == new_tokens and ft["model_state"]["head.weight"].shape[0] == len(new_tokens) + 1


def test_time_budget_and_existing_run(base_run, train_data, tmp_path):
    run, _ = base_run
    with pytest.raises(AksarError, match="--resume"):
        train(config_from_dict(tiny_config_dict(train_data, run)))
    cfg = tiny_config_dict(train_data, tmp_path / "budget", run={"max_minutes": 1e-4, "val_every_steps": 0})
    result = train(config_from_dict(cfg))
    assert result.stop_reason == "time_budget" and result.step == 1
    assert result.last_val is not None and result.last_val["step"] == 1
    assert torch.load(tmp_path / "budget" / "checkpoints" / "latest.pt", weights_only=True)["step"] == 1
