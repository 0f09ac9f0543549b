"""Shipped models: a tiny real model exported, carded into a temporary zoo ($AKSAR_MODELS_DIR), then
listed, shown, looked up by name and alias, used by name in predict/eval/Recognizer; a damaged file
is refused."""
from __future__ import annotations

import fnmatch
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from aksar.cli.main import main
from aksar.core.errors import AksarError
from aksar.core.io import sha256_file
from aksar.infer.recognizer import Recognizer
from aksar.infer.model_card import make_card
from aksar.models.zoo import BUILTIN_DIR, MODELS_DIR_ENV, default_detector, find_model, list_models, resolve_model
from aksar.text.charlm import CharLM

pytestmark = pytest.mark.xdist_group("train")

NAME, ALIAS = "tiny_khmer_v1", "khmer"


@pytest.fixture(autouse=True)
def only_the_test_zoo(monkeypatch, tmp_path_factory):
    """The package's own shipped models stay out of these tests (they use the alias "khmer" too)."""
    import aksar.models.zoo as zoo_module

    monkeypatch.setattr(zoo_module, "BUILTIN_DIR", tmp_path_factory.mktemp("empty_builtin_zoo"))


@pytest.fixture(scope="module")
def zoo(trained_checkpoint, exported_onnx, train_data, tmp_path_factory):
    """A zoo folder holding the tiny model carded with its checkpoint and an eval report."""
    from aksar.infer.evaluate import evaluate
    from aksar.infer.report import write_json

    root = tmp_path_factory.mktemp("zoo")
    lm = CharLM.build((train_data["corpus"] / "train.txt").read_text(encoding="utf-8").splitlines(), order=3)
    lm.save(root / "lm.json.gz")
    report, _, _ = evaluate(Recognizer(exported_onnx[0], threads=1), train_data["val"], progress=False)
    write_json(report, root / "eval" / "report.json")
    card = make_card(exported_onnx[0], root / "models" / NAME, NAME, checkpoint=trained_checkpoint,
                     eval_reports=[f"synthetic-val={root / 'eval' / 'report.json'}"], aliases=[ALIAS],
                     config="configs/khmer_rec_ship.yaml", hardware="CPU (test)", hours=0.01,
                     limits=["tiny test model"], lm=root / "lm.json.gz", lm_weight=0.25, lm_bonus=0.75)
    return root / "models", card, report


def test_card_and_listing_hold_the_metadata(zoo, exported_onnx):
    models_dir, card, report = zoo
    [m] = list_models([models_dir])
    assert (m.name, m.aliases, m.task, m.script) == (NAME, (ALIAS,), "recognition", "khmer")
    assert m.sha256 == sha256_file(exported_onnx[0]) == sha256_file(m.file)
    assert m.size == exported_onnx[0].stat().st_size
    assert m.metrics["synthetic-val"]["cer"] == report["metrics"]["raw"]["cer"]
    assert m.config == "configs/khmer_rec_ship.yaml"
    assert card["training"]["steps"] == 300 and card["corpus"]["hash"]
    assert "aksar train configs/khmer_rec_ship.yaml" in card["retrain"]
    # the families its synthesizer drew from, Debian's and the PyPI font packages' (the `fonts` extra)
    assert {"Khmer OS", "Noto Sans Khmer", "Angkor"} <= set(card["fonts"]["families"])
    assert card["fonts"]["families"] == sorted(set(card["fonts"]["families"]))
    md = (models_dir / NAME / "card.md").read_text(encoding="utf-8")
    assert "| font families drawn | " in md and "AKbalthom KhmerBasic" in md
    assert "synthetic-val" in md and f"{report['metrics']['raw']['cer']:.4f}" in md and "Known limits" in md
    assert find_model(ALIAS, [models_dir]) == find_model(NAME, [models_dir]) == m


def test_cli_lists_and_shows(zoo, monkeypatch, capsys):
    monkeypatch.setenv(MODELS_DIR_ENV, str(zoo[0]))
    assert main(["models", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [NAME] and rows[0]["aliases"] == [ALIAS]
    assert main(["models"]) == 0
    assert NAME in capsys.readouterr().out
    assert main(["models", "show", ALIAS]) == 0
    assert capsys.readouterr().out.startswith(f"# {NAME}")


def test_predict_and_eval_by_name(zoo, exported_onnx, val_images, train_data, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(MODELS_DIR_ENV, str(zoo[0]))
    by_path = [p.text for p in Recognizer(exported_onnx[0], threads=1).predict(val_images[:4])]
    assert [p.text for p in Recognizer(ALIAS, threads=1).predict(val_images[:4])] == by_path
    for argv in (["predict", "--model", ALIAS], ["predict", NAME], ["predict", str(exported_onnx[0])]):
        assert main([*argv, *map(str, val_images[:4]), "--format", "json", "--no-progress"]) == 0
        assert [r["text"] for r in json.loads(capsys.readouterr().out)] == by_path
    assert main(["eval", "--model", ALIAS, str(train_data["val"]), "--out-dir", str(tmp_path / "ev"),
                 "--no-progress"]) == 0
    report = json.loads((tmp_path / "ev" / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["raw"]["cer"] == zoo[2]["metrics"]["raw"]["cer"]


def test_unknown_name_and_damaged_file_are_one_line_errors(zoo, val_images, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(MODELS_DIR_ENV, str(zoo[0]))
    assert main(["predict", "--model", "lao", str(val_images[0])]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: unknown model 'lao'; shipped models: {NAME} ({ALIAS})"
    with pytest.raises(AksarError, match="model not found"):
        resolve_model("no/such/model.onnx")

    damaged = tmp_path / "damaged"
    shutil.copytree(zoo[0], damaged)
    onnx_file = damaged / NAME / "model.onnx"
    data = bytearray(onnx_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx_file.write_bytes(bytes(data))
    monkeypatch.setenv(MODELS_DIR_ENV, str(damaged))
    with pytest.raises(AksarError, match="is damaged"):
        Recognizer(ALIAS)
    assert main(["predict", "--model", ALIAS, str(val_images[0])]) == 2
    err = capsys.readouterr().err.strip()
    assert "damaged" in err and len(err.splitlines()) == 1


def test_make_card_never_overwrites_a_foreign_folder(exported_onnx, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not aksar's", encoding="utf-8")
    with pytest.raises(AksarError, match="not a model card"):
        make_card(exported_onnx[0], foreign, "x")
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "not aksar's"
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_package_data_carries_the_zoo(repo_root):
    patterns = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["package-data"]["aksar"]
    for path in ("zoo/khmer_rec_v7/model.onnx", "zoo/khmer_rec_v7/card.json", "zoo/khmer_rec_v7/card.md",
                 "zoo/khmer_rec_v7/lm.json.gz", "zoo/khmer_det_v1/model.onnx", "zoo/khmer_det_v1/card.json"):
        assert any(fnmatch.fnmatch(path, p) for p in patterns), path


def test_shipped_language_model_by_name(zoo, exported_onnx, val_images, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(MODELS_DIR_ENV, str(zoo[0]))
    card = zoo[1]["lm"]
    assert (card["order"], card["weight"], card["bonus"]) == (3, 0.25, 0.75)
    assert "--lm shipped" in (zoo[0] / NAME / "card.md").read_text(encoding="utf-8")
    rec = Recognizer(ALIAS, threads=1, lm="shipped")          # the card's tuned weight and bonus
    assert rec.decoder == "beam" and rec.describe()["lm"] == {"order": 3, "weight": 0.25, "bonus": 0.75}
    assert Recognizer(ALIAS, threads=1, lm="shipped", lm_weight=0.5).describe()["lm"]["weight"] == 0.5
    same = Recognizer(exported_onnx[0], threads=1, lm=zoo[0] / NAME / "lm.json.gz", lm_weight=0.25, lm_bonus=0.75)
    assert [p.text for p in rec.predict(val_images[:6])] == [p.text for p in same.predict(val_images[:6])]
    # a model that is not shipped has no shipped LM; a damaged LM file is refused
    assert main(["predict", str(exported_onnx[0]), str(val_images[0]), "--lm", "shipped"]) == 2
    assert "not a shipped model" in capsys.readouterr().err
    damaged = tmp_path / "damaged"
    shutil.copytree(zoo[0], damaged)
    lm_file = damaged / NAME / "lm.json.gz"
    lm_file.write_bytes(lm_file.read_bytes()[:-10])
    monkeypatch.setenv(MODELS_DIR_ENV, str(damaged))
    for lm in ("shipped", "auto"):                                      # auto never skips a damaged LM
        with pytest.raises(AksarError, match="lm.json.gz is damaged"):
            Recognizer(ALIAS, lm=lm)


def test_lm_auto_takes_the_shipped_lm_only_where_there_is_one(zoo, exported_onnx, monkeypatch, tmp_path):
    """``lm="auto"`` (page reading's default): a shipped model's LM with its tuned settings, nothing for a model
    that ships none; ``"none"`` turns it off (a damaged shipped LM: the test above)."""
    from aksar.infer.reader import Reader

    monkeypatch.setenv(MODELS_DIR_ENV, str(zoo[0]))
    auto = Recognizer(ALIAS, threads=1, lm="auto")
    assert auto.decoder == "beam" and auto.describe()["lm"] == {"order": 3, "weight": 0.25, "bonus": 0.75}
    assert Recognizer(zoo[0] / NAME / "model.onnx", threads=1, lm="auto").describe()["lm"]["order"] == 3
    for off in (Recognizer(ALIAS, threads=1, lm="none"), Recognizer(exported_onnx[0], threads=1, lm="auto")):
        assert off.lm is None and off.decoder == "greedy"
    assert Recognizer(ALIAS, threads=1).lm is None                     # lines: no LM unless asked
    det = default_detector("khmer", dirs=[BUILTIN_DIR]).file            # the repository's shipped detector
    reader = Reader(det=det, rec=ALIAS, threads=1)                       # pages: the shipped LM by default
    assert reader.recognizer.describe()["lm"]["order"] == 3
    no_lm = tmp_path / "no_lm"
    shutil.copytree(zoo[0], no_lm)
    card_file = no_lm / NAME / "card.json"
    card = json.loads(card_file.read_text(encoding="utf-8"))
    del card["lm"]
    card_file.write_text(json.dumps(card), encoding="utf-8")
    monkeypatch.setenv(MODELS_DIR_ENV, str(no_lm))
    assert Recognizer(ALIAS, threads=1, lm="auto").lm is None


def test_detection_card_lists_hmean_and_loads_by_alias(repo_root, monkeypatch, capsys, tmp_path):
    """A detector export carded from an `aksar eval` page report: listed with its task, found by alias, its
    card's metrics are the report's; a recognition report or a missing script is refused."""
    from aksar.infer.det_eval import evaluate_detection
    from aksar.infer.detector import Detector
    from aksar.infer.report import write_json

    onnx_file = repo_root / "src" / "aksar" / "zoo" / "khmer_det_v1" / "model.onnx"
    pages = repo_root / "eval" / "khmer" / "pages_degraded"
    report, _ = evaluate_detection(Detector(onnx_file, threads=1), pages, max_pages=2, progress=False)
    write_json(report, tmp_path / "det" / "report.json")
    with pytest.raises(AksarError, match="records no script"):
        make_card(onnx_file, tmp_path / "zoo" / "no_script", "no_script", task="detection")
    with pytest.raises(AksarError, match="not an aksar ONNX export"):
        make_card(onnx_file, tmp_path / "zoo" / "wrong_task", "wrong_task", task="recognition")
    card = make_card(onnx_file, tmp_path / "zoo" / "det_x", "det_x", aliases=["kdet"], task="detection",
                     script="khmer", eval_reports=[f"two-pages={tmp_path / 'det' / 'report.json'}"])
    assert card["metrics"]["two-pages"]["hmean"] == report["metrics"]["hmean"]
    assert card["metrics"]["two-pages"]["lines"] == report["dataset"]["gt_lines"]
    assert card["model"]["det_limit_side"] == Detector(onnx_file).det_limit_side
    md = (tmp_path / "zoo" / "det_x" / "card.md").read_text(encoding="utf-8")
    assert "| precision | recall | hmean |" in md and f"{report['metrics']['hmean']:.4f}" in md
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "zoo"))
    [m] = list_models()
    assert (m.name, m.task, m.script) == ("det_x", "detection", "khmer")
    assert main(["models"]) == 0
    assert f"two-pages {100 * report['metrics']['hmean']:.1f}%" in capsys.readouterr().out
    assert Detector("kdet", threads=1).detect_page(pages / "images" / "test_000000.jpg")


def test_restamp_changes_preprocessing_and_measures_again(zoo, train_data, tmp_path):
    """scripts/restamp_model.py: new preprocess metadata, a card whose sha256 and metrics match it, the
    training facts kept and the change recorded; a bad setting is a one-line error that changes nothing."""
    import subprocess
    import sys

    from aksar.infer.evaluate import evaluate
    from aksar.infer.onnx_model import OnnxModel

    root = Path(__file__).resolve().parents[1]
    models = tmp_path / "models"
    shutil.copytree(zoo[0], models)
    evalset = tmp_path / "evalset"
    evalset.mkdir()
    (evalset / "manifest.json").write_text(json.dumps({"sets": ["val"]}), encoding="utf-8")
    shutil.copytree(train_data["val"], evalset / "val")
    folder = models / NAME
    run = [sys.executable, str(root / "scripts" / "restamp_model.py"), NAME, "--zoo", str(models),
           "--evalset", str(evalset), "--why", "test"]

    bad = subprocess.run(run + ["trim_margin=-1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "preprocess.trim_margin" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert sha256_file(folder / "model.onnx") == zoo[1]["sha256"]

    done = subprocess.run(run + ["trim_margin=0.15"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    assert OnnxModel(folder / "model.onnx").info.preprocess.trim_margin == 0.15
    assert card["sha256"] == sha256_file(folder / "model.onnx") != zoo[1]["sha256"]
    assert card["training"] == zoo[1]["training"] and card["limits"] == zoo[1]["limits"]
    assert set(card["metrics"]) == {"val", "val+lm"} and "trim_margin" in card["changes"][0]
    report, _, _ = evaluate(Recognizer(folder / "model.onnx", threads=1), evalset / "val", progress=False)
    assert card["metrics"]["val"]["cer"] == report["metrics"]["raw"]["cer"]
    assert "## Changes since training" in (folder / "card.md").read_text(encoding="utf-8")

    # the LM's tuned weight and bonus live in the card: the model file stays, the +lm rows are measured again
    bad = subprocess.run(run + ["lm_weight=-1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "lm_weight" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert json.loads((folder / "card.json").read_text(encoding="utf-8")) == card
    lm = card["lm"]
    done = subprocess.run(run + [f"lm_bonus={lm['bonus'] + 2}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    assert after["sha256"] == card["sha256"] and after["lm"] == {**lm, "bonus": lm["bonus"] + 2}
    assert "LM decoding" in after["changes"][1] and f"bonus {lm['bonus'] + 2:.4f}" in (folder / "card.md").read_text(
        encoding="utf-8")
    with_lm = Recognizer(folder / "model.onnx", threads=1, lm=folder / lm["file"], lm_weight=lm["weight"],
                         lm_bonus=lm["bonus"] + 2)
    report, _, _ = evaluate(with_lm, evalset / "val", progress=False)
    assert after["metrics"]["val+lm"]["cer"] == report["metrics"]["raw"]["cer"]

    # a new LM file replaces the shipped one: copied into the folder, its order, size and sha256 in the card
    bad = subprocess.run(run + [f"lm={json.dumps(str(tmp_path / 'missing.json.gz'))}", "lm_bonus=9"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "lm: expected the path" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert json.loads((folder / "card.json").read_text(encoding="utf-8")) == after
    new_lm = tmp_path / "order4.json.gz"
    CharLM.build((train_data["corpus"] / "train.txt").read_text(encoding="utf-8").splitlines(), order=4).save(new_lm)
    done = subprocess.run(run + [f"lm={json.dumps(str(new_lm))}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    last = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    assert last["lm"] == {**after["lm"], "order": 4, "size": new_lm.stat().st_size, "sha256": sha256_file(new_lm)}
    assert sha256_file(folder / lm["file"]) == sha256_file(new_lm) and "4-gram" in (folder / "card.md").read_text(
        encoding="utf-8")
    with_new = Recognizer(folder / "model.onnx", threads=1, lm=folder / lm["file"], lm_weight=lm["weight"],
                          lm_bonus=lm["bonus"] + 2)
    assert with_new.describe()["lm"]["order"] == 4
    report, _, _ = evaluate(with_new, evalset / "val", progress=False)
    assert last["metrics"]["val+lm"]["cer"] == report["metrics"]["raw"]["cer"]


def test_restamp_sets_a_detector_input_side_and_measures_again(repo_root, tmp_path):
    """scripts/restamp_model.py on a detector: the ONNX metadata and card take the new det_limit_side, the
    card's sha256 and pages_degraded metrics match the changed file; a bad value changes nothing."""
    import subprocess
    import sys

    from aksar.infer.det_eval import evaluate_detection
    from aksar.infer.detector import Detector

    shipped = repo_root / "src" / "aksar" / "zoo" / "khmer_det_v1"
    models, evalset = tmp_path / "models", tmp_path / "evalset"
    shutil.copytree(shipped, models / "khmer_det_v1")
    pages = evalset / "pages_degraded"
    shutil.copytree(repo_root / "eval" / "khmer" / "pages_degraded", pages)
    labels = (pages / "det_labels.txt").read_text(encoding="utf-8").splitlines()
    (pages / "det_labels.txt").write_text("\n".join(labels[:2]) + "\n", encoding="utf-8")  # two pages: fast
    folder = models / "khmer_det_v1"
    before = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    side = Detector(folder / "model.onnx").det_limit_side
    new_side = side - 32 if side > 64 else side + 32
    run = [sys.executable, str(repo_root / "scripts" / "restamp_model.py"), "khmer_det_v1", "--zoo", str(models),
           "--evalset", str(evalset), "--why", "test"]

    for bad, message in (("det_limit_side=100", "multiple of 32"), ("unclip=2", "not a detector setting")):
        out = subprocess.run(run + [bad], capture_output=True, text=True)
        assert out.returncode == 2 and message in out.stderr and len(out.stderr.splitlines()) == 1
        assert sha256_file(folder / "model.onnx") == before["sha256"]

    done = subprocess.run(run + [f"det_limit_side={new_side}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    det = Detector(folder / "model.onnx", threads=1)
    assert det.det_limit_side == card["model"]["det_limit_side"] == new_side
    assert card["sha256"] == sha256_file(folder / "model.onnx") != before["sha256"]
    assert card["training"] == before["training"] and "det_limit_side" in card["changes"][-1]
    report, _ = evaluate_detection(det, pages, progress=False)
    assert set(card["metrics"]) == {"pages_degraded"}
    assert card["metrics"]["pages_degraded"]["hmean"] == report["metrics"]["hmean"]
    assert card["metrics"]["pages_degraded"]["lines"] == report["metrics"]["gt"]
    assert f"long side <= {new_side} px" in (folder / "card.md").read_text(encoding="utf-8")
