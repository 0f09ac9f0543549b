"""Training config: YAML -> typed config, errors that name the key, -o overrides, presets, CLI errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from aksar.core.errors import AksarError
from aksar.text.presets import PRESETS
from aksar.text.scripts import SCRIPTS
from aksar.train.config import TrainConfig, config_from_dict, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("global:\n  epochs: 3\noptimizer:\n  lr: 1e-3\ndata:\n  batch_size: auto\n")
    cfg = load_config(path, ["optimizer.name=sgd", "global.seed=5", "data.synth.render.height=48",
                             "scheduler.name=onecycle"])
    assert cfg.run.epochs == 3 and cfg.run.seed == 5
    assert cfg.optimizer.name == "sgd" and cfg.optimizer.lr == pytest.approx(1e-3)
    assert cfg.data.batch_size == "auto"
    assert cfg.data.synth.render.height == 48  # the embedded SynthConfig, not a copy of its fields
    assert cfg.data.preprocess.height == TrainConfig().data.preprocess.height
    assert cfg.scheduler.name == "onecycle"


@pytest.mark.parametrize("data, overrides, key", [
    ({"optimizer": {"lrr": 0.1}}, [], "optimizer.lrr"),
    ({"optimizer": {"lr": "fast"}}, [], "optimizer.lr"),
    ({}, ["data.synth.render.hieght=3"], "data.synth.render.hieght"),
    ({}, ["run.epochs=many"], "run.epochs"),
    ({}, ["scheduler.name=linear"], "scheduler.name"),
    ({}, ["data.batch_size=huge"], "data.batch_size"),
    ({}, ["run.device=tpu"], "run.device"),
    ({"model": {"name": "ctc_small", "kwargs": []}}, [], "model.kwargs"),
    ({"trainer": {}}, [], "trainer"),
])
def test_bad_config_names_the_key(data, overrides, key):
    with pytest.raises(AksarError, match=key.replace(".", r"\.")):
        config_from_dict(data, overrides)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_presets_load(path):
    cfg = load_config(path)
    assert cfg.run.output_dir == f"runs/{path.stem}"
    script = cfg.data.preset or cfg.data.corpus.script  # scripts without a built-in corpus name theirs
    assert script in SCRIPTS and path.stem.startswith(script)
    if cfg.data.preset:
        assert cfg.data.preset in PRESETS and PRESETS[cfg.data.preset].script == script
    if cfg.task.name == "detection":  # pages, not lines: its own options, checked by the task
        from aksar.train.tasks.detection_data import parse_options

        opts = parse_options(cfg.task.options)
        assert cfg.model.name == "db_mobilenet" and opts.generate is not None
        if "_dev" in path.stem:
            assert opts.generate.val_pages <= 20 and opts.generate.train_pages <= 100
    elif "_dev" in path.stem:
        assert cfg.data.val_samples <= 500 and cfg.run.val_every_steps <= 200


def test_preset_matrix_complete():
    names = {p.stem for p in CONFIGS}
    assert {"khmer", "thai"} <= set(PRESETS)
    for lang in PRESETS:  # scripts with a built-in corpus: the full matrix
        for kind in ("ctc", "seq2seq"):
            for level in ("dev", "main", "prod"):
                assert f"{lang}_{kind}_{level}" in names
    for lang in SCRIPTS:  # every script: at least a dev CTC config
        assert f"{lang}_ctc_dev" in names
    assert load_config(CONFIGS[0].parent / "thai_char_dev.yaml").data.max_text_length == 1


def test_cli_reports_config_errors_without_traceback(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optimizer:\n  lr: 0.1\n  momentun: 0.9\n")
    proc = run_cli(["train", bad])
    assert proc.returncode == 2
    assert "optimizer.momentun" in proc.stderr and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli(["train", bad, "-o", "optimizer.momentun=0.8"])
    assert proc.returncode == 2 and "optimizer.momentun" in proc.stderr
    proc = run_cli(["train", "--resume", tmp_path / "nothing_here"])
    assert proc.returncode == 2 and "nothing_here" in proc.stderr and "Traceback" not in proc.stderr
