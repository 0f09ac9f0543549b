"""A tiny Lao model, end to end through public APIs: a user's text file -> corpus -> rendered validation
set -> training with the shipped Lao config (shrunk) -> predictions that are Lao text a font draws cleanly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from aksar.infer.recognizer import Recognizer
from aksar.render.fonts import resolve_font
from aksar.render.shaping import ShapingGate
from aksar.text import metrics as M
from aksar.text.corpus import CorpusConfig, build_corpus
from aksar.text.orthography import is_valid
from aksar.text.scripts import get_script

ROOT = Path(__file__).resolve().parents[1]
STEPS = 150


@pytest.fixture(scope="module")
def lao_run(tmp_path_factory) -> dict:
    from aksar.train import config_from_dict, train

    root = tmp_path_factory.mktemp("lao")
    corpus = root / "corpus"
    stats = build_corpus([ROOT / "tests" / "fixtures" / "lao.txt"],
                         CorpusConfig(script="lao", max_length=12, val_fraction=0.05, test_fraction=0.05), corpus)
    assert stats["script"] == "lao" and stats["kept"] > 50
    cfg = yaml.safe_load((ROOT / "configs" / "lao_ctc_dev.yaml").read_text(encoding="utf-8"))
    cfg["run"].update(output_dir=str(root / "run"), seed=7, epochs=1, val_every_steps=STEPS, threads=1)
    cfg["model"] = {"name": "ctc_small", "kwargs": {"channels": [8, 16, 16, 32, 32], "hidden": 32, "rnn_layers": 1}}
    cfg["data"].update(corpus_dir=str(corpus), val_dir=str(root / "val"), val_samples=24, samples_per_epoch=STEPS * 8,
                       batch_size=8, val_batch_size=24, num_workers=0, max_text_length=12, text_mix={"corpus": 1.0},
                       synth={"fonts": ["Noto Sans Lao"], "render": {"height": 16, "font_size": 24},
                              "augment": {"enabled": False}},
                       preprocess={"height": 16, "max_width": 256})
    cfg["optimizer"]["lr"] = 3e-3
    cfg["scheduler"] = {"name": "cosine", "warmup_steps": 2}
    cfg["logging"] = {"log_every_steps": 5, "tensorboard": False, "num_samples": 2}
    train(config_from_dict(cfg), run_dir=root / "run")
    return {"root": root, "run": root / "run", "val": root / "val"}


def test_tiny_lao_model_learns(lao_run):
    records = [json.loads(line) for line in (lao_run["run"] / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r.get("type") == "train"]
    assert len(losses) >= 10
    first, last = sum(losses[:2]) / 2, sum(losses[-3:]) / 3
    assert last < 0.5 * first, f"training loss did not fall: {losses}"

    labels = [line.split("\t") for line in (lao_run["val"] / "labels.tsv").read_text(encoding="utf-8").splitlines()]
    assert labels and all(is_valid(t) for _, t in labels)
    rec = Recognizer(lao_run["run"] / "checkpoints" / "best.pt", device="cpu")
    assert rec.script == "lao"
    preds = [p.text for p in rec.predict([lao_run["val"] / path for path, _ in labels])]
    refs = [t for _, t in labels]
    assert M.cer(preds, refs) < 0.9, list(zip(refs, preds))  # an untrained model outputs nothing (CER 1.0)

    lao, gate, font = get_script("lao"), ShapingGate("lao"), resolve_font("Noto Sans Lao")
    assert sum(bool(p) for p in preds) >= len(preds) // 2
    for p in preds:
        assert all(lao.contains(c) or c == " " for c in p), p
        assert is_valid(p) and (not p.strip() or gate.check(p, font) is None), p
