"""Train tiny -> export -> predict: the ONNX file and the checkpoint give the same texts; the export is
self-sufficient (metadata) and the parity check catches a model that no longer matches."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from aksar.core.errors import AksarError
from aksar.infer.recognizer import Recognizer

pytestmark = pytest.mark.xdist_group("train")


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_onnx_and_checkpoint_predict_the_same_texts(trained_checkpoint, exported_onnx, val_images, decoder):
    onnx_path, _ = exported_onnx
    torch_rec = Recognizer(trained_checkpoint, decoder=decoder, batch_size=5, threads=1)
    onnx_rec = Recognizer(onnx_path, decoder=decoder, batch_size=5, threads=1)
    assert (torch_rec.backend, onnx_rec.backend) == ("torch", "onnx")
    a = torch_rec.predict(val_images)
    b = onnx_rec.predict(val_images)
    assert len(a) == len(b) == len(val_images)
    assert sum(bool(p.text) for p in a) >= len(a) // 2  # the model emits characters, not only blanks
    assert [p.text for p in a] == [p.text for p in b]
    assert np.allclose([p.confidence for p in a], [p.confidence for p in b], atol=1e-4)
    assert all(0.0 <= p.confidence <= 1.0 for p in b)
    # one image alone gives the same text as inside a batch of similar widths only up to padding;
    # but alone it must agree between the two back ends too
    assert torch_rec.predict(val_images[3])[0].text == onnx_rec.predict(val_images[3])[0].text


def test_export_metadata_makes_the_file_self_sufficient(trained_checkpoint, exported_onnx):
    from aksar.models.weights import load_for_inference

    path, summary = exported_onnx
    assert summary["parity"]["checked"] and summary["parity"]["texts_equal"]
    assert summary["parity"]["max_abs_diff"] <= summary["parity"]["atol"]
    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    loaded = load_for_inference(trained_checkpoint)
    assert json.loads(meta["aksar.charset"]) == list(loaded.charset.tokens)
    assert meta["aksar.script"] == loaded.script == "khmer"
    assert json.loads(meta["aksar.preprocess"])["height"] == loaded.preprocess.height
    assert meta["aksar.model_kind"] == "ctc" and meta["aksar.model_name"] == "ctc_small"
    assert json.loads(meta["aksar.parity"])["checked"] is True
    # dynamic batch and width
    graph_input = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert graph_input[0].dim_param and graph_input[3].dim_param and graph_input[2].dim_value == loaded.preprocess.height


def test_onnx_inference_does_not_import_torch(exported_onnx, val_images):
    code = ("import sys; from aksar import Recognizer; "
            f"r = Recognizer({str(exported_onnx[0])!r}, threads=1); "
            f"print(r.predict([{str(val_images[0])!r}])[0].text); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


def test_parity_check_fails_on_a_model_that_differs(trained_checkpoint, exported_onnx, tmp_path):
    from aksar.infer.export import check_parity
    from aksar.models.weights import load_for_inference

    loaded = load_for_inference(trained_checkpoint)
    model = onnx.load(str(exported_onnx[0]))
    head = max((t for t in model.graph.initializer if len(t.dims) == 1), key=lambda t: t.dims[0])
    bias = onnx.numpy_helper.to_array(head).copy()
    bias[0] += 5.0  # favour one class: probabilities change far beyond atol
    head.CopyFrom(onnx.numpy_helper.from_array(bias, head.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save(model, str(tampered))
    with pytest.raises(AksarError, match="export parity"):
        check_parity(loaded.model, tampered, list(loaded.charset.tokens), loaded.script, loaded.preprocess)


def test_cli_predict_writes_paths_as_given(exported_onnx, train_data, run_cli, tmp_path):
    val = train_data["val"]
    out = tmp_path / "preds.tsv"
    run_cli(["predict", exported_onnx[0], "labels.tsv", "--out", out, "--threads", "1"], cwd=val, check=True)
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    listed = [line.split("\t")[0] for line in (val / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    assert [r[0] for r in rows] == listed
    assert all(len(r) == 3 and 0.0 <= float(r[2]) <= 1.0 for r in rows)
    rec = Recognizer(exported_onnx[0])
    assert [r[1] for r in rows] == [p.text for p in rec.predict([val / p for p in listed])]

    proc = run_cli(["predict", exported_onnx[0], val / "images", "--format", "json", "--decoder", "beam"],
                   check=True)
    data = json.loads(proc.stdout)
    assert len(data) == len(listed) and set(data[0]) == {"path", "text", "confidence"}
