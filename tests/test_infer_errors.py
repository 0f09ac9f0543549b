"""Bad input gets clear errors naming the file: corrupt models, unreadable, empty and huge images."""
from __future__ import annotations

import numpy as np
import pytest

from aksar.core.errors import AksarError
from aksar.infer.images import gather_inputs, load_image
from aksar.infer.recognizer import Recognizer

pytestmark = pytest.mark.xdist_group("train")


def test_corrupt_model_files_are_named(tmp_path):
    bad_onnx = tmp_path / "broken.onnx"
    bad_onnx.write_bytes(b"\x08\x07garbage that is not protobuf" * 10)
    with pytest.raises(AksarError, match="broken.onnx"):
        Recognizer(bad_onnx)
    bad_pt = tmp_path / "broken.pt"
    bad_pt.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(AksarError, match="broken.pt"):
        Recognizer(bad_pt)
    with pytest.raises(AksarError, match="not found"):
        Recognizer(tmp_path / "missing.onnx")


def test_onnx_without_aksar_metadata_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["probs"])], "g",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, None)])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(AksarError, match="plain.onnx.*aksar"):
        Recognizer(path)


def test_bad_images_are_refused_with_their_name(bad_images, tmp_path):
    assert load_image(bad_images["good"]).shape == (24, 60)
    for key in ("garbage", "truncated"):
        with pytest.raises(AksarError, match=key):
            load_image(bad_images[key])
    with pytest.raises(AksarError, match="limit|large"):
        load_image(bad_images["good"], max_pixels=100)
    with pytest.raises(AksarError, match="no such image"):
        gather_inputs([tmp_path / "nope.png"])


def test_predict_cli_names_the_bad_image_or_skips_and_counts(exported_onnx, bad_images, run_cli):
    proc = run_cli(["predict", exported_onnx[0], bad_images["good"], bad_images["garbage"]])
    assert proc.returncode == 2 and "garbage.png" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["predict", exported_onnx[0], bad_images["good"], bad_images["garbage"], "--skip-bad"])
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1
    assert "1 image(s) skipped" in proc.stderr


def test_empty_and_huge_arrays_are_refused(exported_onnx):
    rec = Recognizer(exported_onnx[0], max_pixels=10_000)
    with pytest.raises(AksarError, match="empty"):
        rec.predict(np.zeros((0, 10), np.uint8))
    with pytest.raises(AksarError, match="limit"):
        rec.predict(np.zeros((200, 200), np.uint8))


def test_gather_inputs_expands_folders_and_lists(bad_images, tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("good.png\n\ngood.png\textra text\n", encoding="utf-8")
    items = gather_inputs([lst, tmp_path])
    assert [i.name for i in items[:2]] == ["good.png", "good.png"]
    assert items[0].path == tmp_path / "good.png"
    assert {i.path.name for i in items[2:]} == {"good.png", "garbage.png", "truncated.png"}
