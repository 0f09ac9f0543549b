"""The models that ship in src/aksar/zoo: each is intact, reproduces the metrics its card claims on the
committed evaluation sets, and every line a recognizer reads shapes without a dotted circle in a real font.
Detectors reproduce their card's P/R/hmean on the committed held-out-font pages (eval/SCRIPT/pages_degraded)."""
from __future__ import annotations

from pathlib import Path

import pytest

from aksar.infer.config import EvalConfig
from aksar.infer.evaluate import evaluate
from aksar.infer.recognizer import Recognizer
from aksar.models.zoo import BUILTIN_DIR, list_models
from aksar.render.font_probe import reference_font
from aksar.render.fonts import resolve_font
from aksar.render.shaping import ShapingGate
from aksar.text.scripts import SCRIPTS

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = list_models([BUILTIN_DIR])
CHECKED_SETS = ("heldout_fonts", "degraded")  # two of the five sets keep the suite short
RECOGNIZERS = [m for m in SHIPPED if m.task == "recognition"]
DETECTORS = [m for m in SHIPPED if m.task == "detection"]
SHIPPED_SCRIPTS = sorted({m.script for m in RECOGNIZERS})
PAGE_SET = "pages_degraded"
GATE_FONT = {"khmer": "Khmer OS", "thai": "Garuda"}  # else the script's first installed trusted font


def test_the_zoo_ships_a_khmer_and_a_thai_recognizer():
    assert {"khmer", "thai"} <= set(SHIPPED_SCRIPTS), [m.name for m in SHIPPED]
    assert set(SHIPPED_SCRIPTS) <= set(SCRIPTS)


@pytest.mark.parametrize("script", SHIPPED_SCRIPTS)
def test_every_shipped_script_has_an_alias(script):
    assert any(script in m.aliases for m in SHIPPED), f"no model answers to --model {script}"


def test_the_zoo_ships_a_khmer_and_a_thai_detector_for_its_recognizers():
    assert {"khmer", "thai"} <= {m.script for m in DETECTORS}, [m.name for m in SHIPPED]
    assert {m.script for m in DETECTORS} <= set(SHIPPED_SCRIPTS)
    assert all(m.file.name == "model.onnx" for m in DETECTORS)


@pytest.mark.parametrize("model", DETECTORS, ids=[m.name for m in DETECTORS])
def test_shipped_detector_reproduces_its_card(model):
    from aksar.infer.det_eval import evaluate_detection
    from aksar.infer.detector import Detector

    det = Detector(model.aliases[0] if model.aliases else model.name, threads=1)  # by name: sha256 checked
    claimed = model.metrics[PAGE_SET]
    report, _ = evaluate_detection(det, ROOT / "eval" / model.script / PAGE_SET, progress=False)
    assert report["dataset"]["gt_lines"] == claimed["lines"]
    for key in ("precision", "recall", "hmean"):
        assert report["metrics"][key] == pytest.approx(claimed[key], abs=1e-9), key
    assert claimed["hmean"] > 0.7  # a detector that finds most lines of pages in fonts it never saw


@pytest.mark.parametrize("model", RECOGNIZERS, ids=[m.name for m in RECOGNIZERS])
def test_shipped_model_reproduces_its_card(model):
    rec = Recognizer(model.name, threads=1)   # by name: the sha256 of the file is checked on the way
    assert rec.script == model.script and model.file.stat().st_size == model.size
    gate = ShapingGate(model.script)
    font = resolve_font(GATE_FONT[model.script]) if model.script in GATE_FONT else reference_font(model.script)
    for set_name in CHECKED_SETS:
        claimed = model.metrics[set_name]
        folder = ROOT / "eval" / model.script / set_name
        report, lines, _ = evaluate(rec, folder, EvalConfig(), progress=False)
        assert report["dataset"]["evaluated"] == claimed["lines"]
        assert report["metrics"]["raw"]["cer"] == pytest.approx(claimed["cer"], abs=1e-9), set_name
        broken = [ln.pred for ln in lines if ln.pred and gate.check(ln.pred, font) == "dotted_circle"]
        assert broken == [], f"{set_name}: {len(broken)} predictions draw a dotted circle, e.g. {broken[:3]}"
