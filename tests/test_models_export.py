"""ONNX export of every model (dynamic batch and width) and onnxruntime parity with PyTorch."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from aksar.infer.onnx_model import decode_outputs
from aksar.models import build_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_onnx_export_matches_pytorch(name, tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    kwargs = {"max_length": 10} if name.startswith("seq2seq") else {}
    model = build_model(name, 23, **kwargs).eval()
    path = tmp_path / f"{name}.onnx"
    names = model.to_onnx(path, example_width=96)
    onnx.checker.check_model(str(path))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == names
    # A batch size and width different from the export example: the axes are dynamic.
    images = torch.rand(3, 1, 32, 200) * 2 - 1
    with torch.no_grad():
        ref = model.export_forward(images)
    ref = ref if isinstance(ref, tuple) else (ref,)
    feed = {"images": images.numpy()}
    if model.export_takes_widths:  # attention graphs mask padding with the true widths
        assert [i.name for i in sess.get_inputs()] == ["images", "widths"]
        feed["widths"] = np.full(3, 200, dtype=np.int64)
    got = sess.run(None, feed)
    for r, g in zip(ref, got):
        assert g.shape == tuple(r.shape)
        np.testing.assert_allclose(g, r.numpy(), atol=1e-5)
    # The exported outputs decode to what model.decode gives on the PyTorch forward.
    with torch.no_grad():
        out = model(images, torch.full((3,), 200))
    expected = model.decode(out)
    from_onnx = decode_outputs(model.kind, got, np.full(3, 200), model.width_stride)  # the ONNX path's code
    assert [ids for ids, _ in from_onnx] == [ids for ids, _ in expected]
    assert [c for _, c in from_onnx] == pytest.approx([c for _, c in expected], abs=1e-5)
