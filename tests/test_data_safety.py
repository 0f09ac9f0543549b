"""Nothing lost, nothing wrong: output folders aksar did not create, resumes with other settings,
list paths outside their folder, file permissions."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from aksar.core.errors import AksarError
from aksar.data.generate import GenerateConfig, generate
from aksar.data.valset import ValsetConfig, build_valset
from aksar.render.renderer import RenderConfig
from aksar.render.synth import SynthConfig

pytestmark = pytest.mark.xdist_group("data")


def _synth(fonts=("Khmer OS",)) -> SynthConfig:
    return SynthConfig(fonts=list(fonts), render=RenderConfig(height=16, font_size=24))


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _gen(corpus, out, **kw) -> dict:
    cfg = dict(corpus_dir=str(corpus), output_dir=str(out), splits=["val"], max_lines=3, workers=0,
               synth=_synth())
    cfg.update(kw)
    return generate(GenerateConfig(**cfg))


@pytest.fixture(scope="module")
def generated(khmer_corpus_dir, tmp_path_factory) -> Path:
    """A finished ``aksar generate`` output (val split, 3 lines, seed 42)."""
    out = tmp_path_factory.mktemp("gen") / "gen"
    _gen(khmer_corpus_dir, out)
    return out


# ---------------------------------------------------------------- 1. valset never clears a foreign folder

def test_valset_refuses_a_generated_split_and_overwrite_deletes_only_its_own_files(
        generated, khmer_corpus_dir, tmp_path):
    split = tmp_path / "train"
    shutil.copytree(generated / "val", split)  # images, labels, labels.tsv, metadata.json, .journal
    (split / "notes.txt").write_text("mine", encoding="utf-8")
    before = _hashes(split)
    cfg = ValsetConfig(corpus_dir=str(khmer_corpus_dir), output_dir=str(split), num_samples=2, workers=0,
                       synth=_synth())
    with pytest.raises(AksarError, match=r"is not a validation set.*--overwrite"):
        build_valset(cfg)
    assert _hashes(split) == before

    cfg.overwrite = True
    build_valset(cfg)
    after = _hashes(split)
    assert (split / "notes.txt").read_text(encoding="utf-8") == "mine"
    journals = [k for k in before if k.startswith(".journal/")]
    assert journals and all(after[k] == before[k] for k in journals)
    assert json.loads((split / "metadata.json").read_text(encoding="utf-8"))["kind"] == "aksar-validation-set"
    # every file named like valset's own (val_NNNNNN.png, labels.tsv...) was replaced or removed
    assert "images/val_000002.png" not in after and after["images/val_000001.png"] != before["images/val_000001.png"]


def test_valset_rebuild_keeps_files_it_did_not_write(khmer_corpus_dir, tmp_path):
    out = tmp_path / "v"
    cfg = ValsetConfig(corpus_dir=str(khmer_corpus_dir), output_dir=str(out), num_samples=2, workers=0,
                       synth=_synth())
    build_valset(cfg)
    first = _hashes(out)
    (out / "README.txt").write_text("about this set", encoding="utf-8")
    (out / "images" / "extra.png").write_bytes(b"user file")
    build_valset(cfg)  # its own folder: rebuilt without --overwrite
    assert (out / "README.txt").read_text(encoding="utf-8") == "about this set"
    assert (out / "images" / "extra.png").read_bytes() == b"user file"
    after = _hashes(out)
    assert {k: v for k, v in after.items() if k in first} == first


def test_valset_cli_refuses_generate_root(run_cli, generated, khmer_corpus_dir):
    before = _hashes(generated)
    proc = run_cli(["valset", "--corpus-dir", khmer_corpus_dir, "--num-samples", "2", "--output-dir",
                    generated / "val", "--workers", "0"])
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "--overwrite" in proc.stderr
    assert _hashes(generated) == before


# ---------------------------------------------------------------- 2. generate: foreign folders, other settings

def test_generate_refuses_a_foreign_folder(khmer_corpus_dir, tmp_path):
    out = tmp_path / "photos"
    (out / "val" / "images").mkdir(parents=True)
    (out / "val" / "images" / "val_000000.png").write_bytes(b"a user's file with generate's name")
    before = _hashes(out)
    with pytest.raises(AksarError, match="is not a generated dataset"):
        _gen(khmer_corpus_dir, out)
    assert _hashes(out) == before


def test_generate_rerun_with_other_settings_names_each_difference(generated, khmer_corpus_dir, tmp_path):
    out = tmp_path / "gen"
    shutil.copytree(generated, out)
    before = _hashes(out)
    assert _gen(khmer_corpus_dir, out)["already_done"] == 3  # same settings: resumes (nothing to do)
    with pytest.raises(AksarError) as exc:
        _gen(khmer_corpus_dir, out, seed=43, synth=_synth(("Khmer OS", "Noto Sans Khmer")))
    msg = str(exc.value)
    assert "seed: 42 (existing) != 43 (this run)" in msg and "fonts:" in msg and "corpus_hash" not in msg
    other = tmp_path / "corpus2"
    shutil.copytree(khmer_corpus_dir, other)
    with open(other / "test.txt", "a", encoding="utf-8") as f:
        f.write("ខ្មែរ\n")
    with pytest.raises(AksarError, match=r"corpus_hash: '[0-9a-f]+' \(existing\) != '[0-9a-f]+' \(this run\)"):
        _gen(other, out)
    assert {k: v for k, v in _hashes(out).items() if k != "generation_metadata.json"} == \
        {k: v for k, v in before.items() if k != "generation_metadata.json"}


def test_generate_killed_then_rerun_with_other_seed_is_refused(generated, khmer_corpus_dir, tmp_path):
    out = tmp_path / "gen"
    shutil.copytree(generated, out)
    # what a kill leaves: some pairs missing, no split metadata yet
    for p in ("val/metadata.json", "val/labels.tsv", "val/labels/val_000002.txt", "val/images/val_000002.png"):
        (out / p).unlink()
    with pytest.raises(AksarError, match="seed: 42"):
        _gen(khmer_corpus_dir, out, seed=43)
    assert not (out / "val" / "images" / "val_000002.png").exists()
    result = _gen(khmer_corpus_dir, out)  # the same settings finish the job
    assert result["rendered"] == 1 and result["already_done"] == 2
    assert all(_hashes(out)[k] == v for k, v in _hashes(generated).items() if not k.startswith(("val/.journal",
                                                                                                "generation_")))


def test_generate_overwrite_starts_again_and_keeps_other_files(generated, khmer_corpus_dir, tmp_path):
    out = tmp_path / "gen"
    shutil.copytree(generated, out)
    (out / "val" / "my_notes.txt").write_text("keep", encoding="utf-8")
    result = _gen(khmer_corpus_dir, out, seed=43, overwrite=True)
    assert result["rendered"] == 3 and result["already_done"] == 0
    assert (out / "val" / "my_notes.txt").read_text(encoding="utf-8") == "keep"
    meta = json.loads((out / "generation_metadata.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "aksar-generated-dataset" and meta["settings"]["seed"] == 43
    assert len(list((out / "val" / ".journal").glob("*.jsonl"))) == 1  # the old run's journal is gone


# ---------------------------------------------------------------- 3. list paths outside the list's folder

@pytest.fixture
def outside_lists(tmp_path, label_dir) -> dict[str, Path]:
    """A folder with a list naming one image inside and, on lines 2-4, '../', absolute and symlinked-out paths."""
    inside = tmp_path / "lists"
    (inside / "imgs").mkdir(parents=True)
    shutil.copy(label_dir / "images" / "000.png", inside / "imgs" / "a.png")
    (inside / "imgs" / "link.png").symlink_to(label_dir / "images" / "002.png")
    lst = inside / "list.txt"
    lst.write_text(f"imgs/a.png\n../ds/images/001.png\n{label_dir / 'images' / '001.png'}\nimgs/link.png\n",
                   encoding="utf-8")
    return {"list": lst, "abs": label_dir / "images" / "001.png"}


def test_predict_list_refuses_paths_outside_unless_allowed(outside_lists, tmp_path):
    from aksar.infer.images import gather_inputs

    lst = outside_lists["list"]
    with pytest.raises(AksarError, match=r"list\.txt:2: '\.\./ds/images/001\.png' is outside .*--allow-outside-root"):
        gather_inputs([lst])
    for line in (3, 4):  # absolute, then a symlink leading out
        lines = lst.read_text(encoding="utf-8").splitlines()
        lst.write_text("\n".join([lines[0], lines[line - 1]]) + "\n", encoding="utf-8")
        with pytest.raises(AksarError, match=r"list\.txt:2: "):
            gather_inputs([lst])
        lst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = gather_inputs([lst], allow_outside_root=True)
    assert [it.path.resolve() for it in items][1:3] == [outside_lists["abs"].resolve()] * 2
    assert len(items) == 4 and all(it.path.is_file() for it in items)


def test_predict_cli_names_the_list_line(run_cli, outside_lists, tmp_path):
    proc = run_cli(["predict", tmp_path / "model.onnx", outside_lists["list"], "--no-progress"])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "list.txt:2:" in proc.stderr and "--allow-outside-root" in proc.stderr


def test_predict_and_readers_read_a_list_from_stdin(monkeypatch, label_dir, rendered_lines):
    from aksar.data.readers import open_dataset
    from aksar.infer.images import gather_inputs

    monkeypatch.chdir(label_dir)
    monkeypatch.setattr("sys.stdin", io.StringIO("images/000.png\nimages/001.png\tx\n"))
    assert [it.name for it in gather_inputs(["-"])] == ["images/000.png", "images/001.png"]
    monkeypatch.setattr("sys.stdin", io.StringIO((label_dir / "labels.tsv").read_text(encoding="utf-8")
                                                 + "../../etc/passwd\tx\n"))
    ds = open_dataset("-")
    assert len(ds) == len(rendered_lines) and ds[1]["text"] == rendered_lines[1]["text"]
    assert ds.errors == {"path_outside_root": 1} and "<stdin>:7" in ds.problems[0]


def _absolute_list(label_dir: Path, tmp_path: Path) -> Path:
    """A PaddleOCR list elsewhere whose paths are absolute."""
    rows = (label_dir / "labels.tsv").read_text(encoding="utf-8").splitlines()
    lst = tmp_path / "elsewhere" / "train_list.txt"
    lst.parent.mkdir()
    lst.write_text("".join(f"{label_dir / r.split(chr(9))[0]}\t{r.split(chr(9))[1]}\n" for r in rows), encoding="utf-8")
    return lst


@pytest.fixture(scope="module")
def tiny_checkpoint(train_data, tmp_path_factory) -> Path:
    """A tiny model trained for 2 steps (enough to evaluate with)."""
    from fixtures.train import tiny_config_dict

    from aksar.train.config import config_from_dict
    from aksar.train.trainer import train

    run = tmp_path_factory.mktemp("safety_train") / "run"
    result = train(config_from_dict(tiny_config_dict(train_data, run, run={"max_steps": 2, "epochs": 1,
                                                                           "val_every_steps": 0})))
    return result.run_dir / "checkpoints" / "latest.pt"


def test_eval_and_train_read_absolute_paddle_lists_only_when_allowed(tiny_checkpoint, train_data, label_dir,
                                                                      tmp_path, rendered_lines):
    from fixtures.train import tiny_config_dict

    from aksar.infer.config import EvalConfig
    from aksar.infer.evaluate import evaluate
    from aksar.infer.recognizer import Recognizer
    from aksar.train.config import config_from_dict
    from aksar.train.trainer import train

    lst = _absolute_list(label_dir, tmp_path)
    rec = Recognizer(tiny_checkpoint)
    with pytest.raises(AksarError, match="no usable lines.*path_outside_root"):
        evaluate(rec, lst, EvalConfig(segmenter="none"), progress=False)
    report, lines, _ = evaluate(rec, lst, EvalConfig(segmenter="none", allow_outside_root=True), progress=False)
    assert report["dataset"]["evaluated"] == len(rendered_lines) and report["dataset"]["skipped_total"] == 0

    cfg = tiny_config_dict(train_data, tmp_path / "run", run={"max_steps": 1, "epochs": 1, "val_every_steps": 0},
                           data={"train_dataset": str(lst), "batch_size": 2})
    with pytest.raises(AksarError, match="no full batch"):  # every entry refused
        train(config_from_dict(cfg))
    cfg["data"]["allow_outside_root"] = True
    cfg["run"]["overwrite"] = True
    assert train(config_from_dict(cfg)).step == 1


# ---------------------------------------------------------------- 4. permissions of written files

@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_atomic_writes_get_the_usual_permissions(tmp_path, umask):
    from aksar.core.io import atomic_write_json, atomic_write_text

    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        atomic_write_json(tmp_path / "sub" / "b.json", {"k": 1})
    finally:
        os.umask(old)
    for p in (tmp_path / "a.txt", tmp_path / "sub" / "b.json"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
    os.chmod(tmp_path / "a.txt", 0o600)  # a file the user restricted keeps its mode when rewritten
    atomic_write_text(tmp_path / "a.txt", "y")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o600
