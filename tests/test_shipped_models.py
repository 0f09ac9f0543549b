"""The models that ship in src/aksar/zoo: each is intact, reproduces the metrics its card claims on the
committed evaluation sets, and every line it reads shapes without a dotted circle in a real font."""
from __future__ import annotations

from pathlib import Path

import pytest

from aksar.infer.config import EvalConfig
from aksar.infer.evaluate import evaluate
from aksar.infer.recognizer import Recognizer
from aksar.infer.zoo import BUILTIN_DIR, list_models
from aksar.render.font_probe import reference_font
from aksar.render.fonts import resolve_font
from aksar.render.shaping import ShapingGate
from aksar.text.scripts import SCRIPTS

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = list_models([BUILTIN_DIR])
CHECKED_SETS = ("heldout_fonts", "degraded")  # two of the five sets keep the suite short
SHIPPED_SCRIPTS = sorted({m.script for m in SHIPPED if m.task == "recognition"})
GATE_FONT = {"khmer": "Khmer OS", "thai": "Garuda"}  # else the script's first installed trusted font


def test_the_zoo_ships_a_khmer_and_a_thai_recognizer():
    assert {"khmer", "thai"} <= set(SHIPPED_SCRIPTS), [m.name for m in SHIPPED]
    assert set(SHIPPED_SCRIPTS) <= set(SCRIPTS)


@pytest.mark.parametrize("script", SHIPPED_SCRIPTS)
def test_every_shipped_script_has_an_alias(script):
    assert any(script in m.aliases for m in SHIPPED), f"no model answers to --model {script}"


@pytest.mark.parametrize("model", SHIPPED, ids=[m.name for m in SHIPPED])
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
