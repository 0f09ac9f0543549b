"""`aksar eval` on a text-line detector: the CLI dispatches on the model, the report's hmean is the one the
Detector gives page by page, and the HTML draws the pages."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_det_model import _hmean, trained  # noqa: F401  (the overfitted tiny detector fixture)

from aksar.data.det_formats import DetRegion, DetSample, write_paddle_det
from aksar.infer.det_eval import evaluate_detection, is_detector
from aksar.infer.det_export import export_detector_model
from aksar.infer.detector import Detector


@pytest.fixture(scope="module")
def det_set(trained, tmp_path_factory):  # noqa: F811
    """The overfitted page and a blank page as a PaddleOCR detection list, plus the ONNX export."""
    from PIL import Image

    image, polys, model, _ = trained
    root = tmp_path_factory.mktemp("det_eval")
    (root / "images").mkdir()
    Image.fromarray(image).save(root / "images" / "page.png")
    Image.fromarray(np.full_like(image, 255)).save(root / "images" / "blank.png")
    regions = [DetRegion(p, f"line {i}", False) for i, p in enumerate(polys)]
    regions.append(DetRegion(np.array([[0, 0], [20, 0], [20, 8], [0, 8]], np.float32), "###", True))
    write_paddle_det(root / "det_labels.txt", [DetSample(str(root / "images" / "page.png"), regions),
                                               DetSample(str(root / "images" / "blank.png"), [])])
    export_detector_model(model, root / "det.onnx")
    return root, image, polys


def test_report_matches_the_detector_page_by_page(det_set):
    root, image, polys = det_set
    detector = Detector(root / "det.onnx")
    report, pages = evaluate_detection(detector, root, model=root / "det.onnx", progress=False)
    want = _hmean(polys, detector.detect_page(image))
    assert want > 0.5 and pages[0]["hmean"] == pytest.approx(want, abs=1e-3)
    m = report["metrics"]
    assert m["gt"] == len(polys) and report["dataset"]["dont_care"] == 1 and report["dataset"]["pages"] == 2
    assert pages[1]["gt"] == 0 and pages[1]["matched"] == 0
    assert m["matched"] == sum(p["matched"] for p in pages)
    assert m["pred"] >= m["matched"] and 0 < m["hmean"] <= 1


def test_cli_eval_of_a_detector(det_set, run_cli, tmp_path):
    root, _, polys = det_set
    assert is_detector(root / "det.onnx")
    out = tmp_path / "report"
    proc = run_cli(["eval", root / "det.onnx", root / "det_labels.txt", "--output-dir", out, "--no-progress"])
    assert proc.returncode == 0, proc.stderr
    assert "hmean" in proc.stdout and "2 pages" in proc.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["task"] == "detection" and report["metrics"]["gt"] == len(polys)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2 and "missed" in html
    bad = run_cli(["eval", root / "det.onnx", tmp_path / "nowhere", "--output-dir", out])
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr
