"""The DB text-line detector: shapes, registry, loss on real targets, overfitting a rendered page (hmean),
post-processing on hand-made maps, ONNX export parity, the Detector's ONNX and PyTorch paths, checkpoints."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from fixtures.pages import tiny_page_config

from aksar.core.errors import AksarError
from aksar.core.rng import rng_for
from aksar.data.det_metrics import detection_metrics
from aksar.data.det_targets import make_targets
from aksar.infer.det_export import export_detector_model
from aksar.infer.detector import Detector, detection_size
from aksar.infer.export import export_onnx
from aksar.models import build_model, list_models
from aksar.models.det_db import stack_targets
from aksar.models.det_postprocess import DBPostProcess, Detection, reading_order
from aksar.models.weights import load_detector, load_for_inference, save_checkpoint

STEPS = 20


def _tiny(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("db_tiny")


def _targets(polys, shape) -> dict[str, torch.Tensor]:
    return stack_targets([make_targets(polys, [False] * len(polys), *shape)])


def _calibrate(model, x: torch.Tensor) -> None:
    """BatchNorm running statistics := this page's (a few steps leave them far from the batch's)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one pass sets the page's statistics
    model.train()
    with torch.no_grad():
        model(x)
    for m in norms:
        m.momentum = 0.1
    model.eval()


def _hmean(gts, dets) -> float:
    return detection_metrics([gts], [[d.polygon for d in dets]])["hmean"]


@pytest.fixture(scope="module")
def trained(khmer_lines):
    """db_tiny overfitted on one rendered Khmer page (256x192): page, gt polygons, model, losses."""
    from aksar.render.page import PageRenderer

    torch.set_num_threads(2)
    cfg = tiny_page_config("khmer", degrade=False)
    cfg.layout.size_px = (192, 256)
    page = PageRenderer("khmer", cfg).render(khmer_lines[:200], rng_for(5, "det-test"))
    polys = [np.asarray(ln.polygon, np.float32) for ln in page.lines]
    x = torch.from_numpy(page.image.astype(np.float32) / 255)[None, None]
    targets = _targets(polys, page.image.shape)
    model = _tiny()
    opt = torch.optim.Adam(model.parameters(), 1.5e-2)
    losses = []
    model.train()
    for _ in range(STEPS):
        out = model(x, targets)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append((float(out["loss"].detach()), out["loss_prob"], out["loss_thresh"], out["loss_binary"]))
    _calibrate(model, x)
    return page.image, polys, model, losses


def test_forward_shapes_and_size_check():
    model = _tiny()
    for h, w in ((32, 32), (64, 160), (96, 64)):
        x = torch.rand(2, 1, h, w)
        model.eval()
        with torch.no_grad():
            out = model(x)
        assert set(out) == {"prob"} and out["prob"].shape == (2, 1, h, w)
        assert 0 <= float(out["prob"].min()) and float(out["prob"].max()) <= 1
        model.train()
        out = model(x)
        assert {k: tuple(v.shape) for k, v in out.items()} == {k: (2, 1, h, w) for k in ("prob", "thresh", "binary")}
    with pytest.raises(AksarError, match=r"multiples of 32, got \[1, 1, 40, 64\]"):
        model(torch.rand(1, 1, 40, 64))
    targets = {k: torch.zeros(1, 64, 64) for k in ("shrink_map", "shrink_mask", "thresh_mask")}
    with pytest.raises(AksarError, match=r"thresh_map is \[1, 16, 16\], expected \[1, 64, 64\]"):
        model(torch.rand(1, 1, 64, 64), {**targets, "thresh_map": torch.zeros(1, 16, 16)})
    with pytest.raises(AksarError, match="missing 'thresh_map'"):
        model(torch.rand(1, 1, 64, 64), targets)


def test_registry_detection_models_and_deterministic_init():
    assert list_models("detection") == ["db_mobilenet", "db_tiny"]
    assert not set(list_models()) & {"db_mobilenet", "db_tiny"}  # the default lists recognizers
    assert set(list_models(None)) == set(list_models()) | {"db_mobilenet", "db_tiny"}
    with pytest.raises(AksarError, match=r"model \(db_tiny\): a detection model takes no charset"):
        build_model("db_tiny", 12)
    with pytest.raises(AksarError, match=r"model \(ctc_small\): a recognizer needs num_tokens"):
        build_model("ctc_small")
    with pytest.raises(AksarError, match=r"model \(db_tiny\): unknown option\(s\) scal"):
        build_model("db_tiny", scal=2)
    main = build_model("db_mobilenet")
    assert main.task == "detection" and main.stride == 32 and 5e5 < main.num_parameters < 2e6
    a, b, c = _tiny(3), _tiny(3), _tiny(4)
    assert a.name == "db_tiny" and a.num_parameters < main.num_parameters / 2
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert not all(torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())
    rebuilt = build_model(a.name, **a.config())
    assert rebuilt.config() == a.config() and rebuilt.num_parameters == a.num_parameters


def test_loss_in_float32_under_autocast(trained):
    image, polys, _, _ = trained
    model = _tiny()
    x = torch.from_numpy(image.astype(np.float32) / 255)[None, None]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, _targets(polys, image.shape))
    assert out["loss"].dtype == torch.float32 and torch.isfinite(out["loss"])
    parts = out["loss_prob"] + 10 * out["loss_thresh"] + out["loss_binary"]
    assert float(out["loss"].detach()) == pytest.approx(parts, rel=1e-5)


def test_overfit_one_page_finds_its_lines(trained):
    image, polys, model, losses = trained
    assert len(polys) >= 8
    assert all(np.isfinite(step).all() for step in losses)
    assert losses[-1][0] < 0.5 * losses[0][0], [round(s[0], 3) for s in losses]
    assert losses[-1][3] < losses[0][3]  # the binary (Dice) map learns too
    with torch.no_grad():
        prob = model(torch.from_numpy(image.astype(np.float32) / 255)[None, None])["prob"].numpy()
    dets = model.postprocess.post(prob, [image.shape])[0]
    assert _hmean(polys, dets) > 0.5, (len(dets), len(polys))
    assert [d.score for d in reading_order(dets[::-1])] == [d.score for d in dets]  # in reading order
    # an untrained model finds nothing like them
    with torch.no_grad():
        chance = _tiny().eval()(torch.from_numpy(image.astype(np.float32) / 255)[None, None])["prob"]
    assert _hmean(polys, model.postprocess.post(chance, [image.shape])[0]) < 0.2  # a tensor is taken too


def test_postprocess_two_rectangles_unclip_by_the_vatti_offset():
    prob = np.zeros((1, 1, 100, 240), np.float32)
    prob[0, 0, 60:80, 30:130] = 0.9   # lower line first in the array: output comes top to bottom
    prob[0, 0, 15:35, 20:220] = 0.8
    prob[0, 0, 94:96, 20:200] = 0.9   # 2 px high: under min_size
    prob[0, 0, 42:50, 150:230] = 0.5  # above thresh, below box_thresh
    post = DBPostProcess()
    [dets] = post.post(prob, [(100, 240)])
    assert len(dets) == 2
    for det, (w, h), score in zip(dets, [(199, 19), (99, 19)], [0.8, 0.9]):
        d = w * h * post.unclip_ratio / (2 * (w + h))  # D = A r / L on the contour through pixel centres
        sides = np.linalg.norm(det.polygon - np.roll(det.polygon, -1, axis=0), axis=1)
        assert sides[0] == pytest.approx(w + 2 * d, abs=1.0) and sides[1] == pytest.approx(h + 2 * d, abs=1.0)
        assert det.score == pytest.approx(score, abs=1e-4) and det.polygon.shape == (4, 2)
    assert dets[0].polygon[:, 1].min() < dets[1].polygon[:, 1].min()
    # scaled to the original size (twice the map) and clipped to it
    [big] = post.post(prob[:, 0], [(200, 480)])
    assert np.allclose(big[1].polygon, dets[1].polygon * 2, atol=1e-3)
    assert big[0].polygon.min() >= 0 and big[0].polygon[:, 0].max() <= 480
    # a padded batch: only the valid part of each map counts
    [cut] = post.post(prob, [(100, 120)], valid=[(100, 120)])
    assert cut == [] or all(d.polygon[:, 0].max() <= 120 for d in cut)
    with pytest.raises(AksarError, match="one size per image"):
        post.post(prob, [(1, 1), (2, 2)])


def test_reading_order_rows_then_left_to_right():
    def box(x, y, w=40, h=20):
        return Detection(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32), float(x + y))

    right, left, below, far_below = box(100, 10), box(10, 14), box(10, 40), box(60, 90)
    order = reading_order([far_below, right, below, left])
    assert [d.score for d in order] == [d.score for d in (left, right, below, far_below)]
    assert reading_order([box(100, 10, h=4), box(10, 14, h=4)])[0].polygon[0, 0] == 100  # 4 px apart: two rows


def test_detection_size_keeps_the_aspect_within_the_limit():
    assert detection_size(1000, 700, 960) == (960, 672)
    assert detection_size(20, 50) == (32, 64)
    assert detection_size(3508, 2480, 960) == (960, 672)  # A4 at 300 dpi
    assert detection_size(500, 300, 960) == (512, 288)  # never enlarged beyond rounding


def test_export_parity_and_detector_paths_agree(trained, tmp_path):
    import cv2

    image, polys, model, _ = trained
    summary = export_detector_model(model, tmp_path / "det.onnx")
    assert summary["parity"]["checked"] and summary["parity"]["max_abs_diff"] < 1e-4
    assert summary["task"] == "detection" and summary["model_name"] == "db_tiny"
    assert not model.training  # restored
    # the page enlarged 2x (each pixel doubled): the detector brings it back to exactly the 256x192 page it
    # was overfitted on (area downscaling) and returns polygons in the big page's pixels
    big = cv2.resize(image, (384, 512), interpolation=cv2.INTER_NEAREST)
    onnx = Detector(tmp_path / "det.onnx", det_limit_side=256, threads=1)
    torch_det = Detector(model, det_limit_side=256)
    got, want = onnx.detect([big])[0], torch_det.detect_page(big)
    assert len(got) == len(want) and len(got) >= len(polys) // 2
    for g, w in zip(got, want):
        assert np.allclose(g.polygon, w.polygon, atol=0.5) and g.score == pytest.approx(w.score, abs=1e-4)
    assert _hmean([p * 2 for p in polys], got) > 0.5
    assert onnx.postprocess == model.postprocess  # the settings travel in the metadata
    assert len(Detector(tmp_path / "det.onnx", det_limit_side=256, box_thresh=0.99).detect_page(big)) < len(got)
    with pytest.raises(AksarError, match="unknown post-processing option"):
        Detector(model, box_tresh=0.5)


def test_checkpoint_loads_and_exports_as_a_detector(trained, tmp_path):
    image, _, model, _ = trained
    ckpt = tmp_path / "det.pt"
    save_checkpoint(ckpt, {"model_name": model.name, "model_kwargs": model.config(),
                           "model_state": model.state_dict(), "det_postprocess": {"box_thresh": 0.5},
                           "det_limit_side": 640})
    loaded = load_detector(ckpt)
    assert loaded.model.postprocess.box_thresh == 0.5 and not loaded.model.training
    assert Detector(ckpt).det_limit_side == 640 and loaded.info["det_limit_side"] == 640
    with pytest.raises(AksarError, match="det.pt: holds a 'db_tiny' detection model, not a recognizer"):
        load_for_inference(ckpt)
    summary = export_onnx(ckpt, tmp_path / "det.onnx", check=False)  # parity: the test above
    assert summary["task"] == "detection" and summary["checkpoint"] == str(ckpt)
    run = subprocess.run([sys.executable, "-m", "aksar", "export", str(ckpt), "--out", str(tmp_path / "cli.onnx")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "db db_tiny, detection" in run.stdout and "parity: 5 pages" in run.stdout
    from_ckpt = Detector(ckpt).detect_page(image)
    onnx = Detector(tmp_path / "det.onnx")
    assert onnx.det_limit_side == 640 and onnx.postprocess.box_thresh == 0.5
    from_onnx = onnx.detect_page(image)
    assert from_ckpt and [d.score for d in from_onnx] == pytest.approx([d.score for d in from_ckpt], abs=1e-4)
