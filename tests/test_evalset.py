"""The fixed evaluation sets (``aksar evalset build``) and ``benchmarks/accuracy.py``: real fonts,
real text2image, real gettext catalogs, a real tiny model and real Tesseract."""
from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from aksar.core.errors import AksarError
from aksar.data.evalset import SETS, EvalsetConfig, build_evalset
from aksar.data.evalset_render import split_lines
from aksar.data.evalset_sources import EXCLUDED_FAMILIES, HELDOUT_FAMILIES
from aksar.data.readers import decode_image, open_dataset
from aksar.render.fonts import discover_fonts
from aksar.render.shaping import ShapingGate
from aksar.text.corpus import read_split
from aksar.text.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]
MO_STRINGS = {  # msgid -> msgstr (Khmer UI strings; one with a format placeholder that must be dropped)
    "Cambodia": "ព្រះរាជាណាចក្រកម្ពុជា",
    "Open file": "បើកឯកសារ",
    "Settings": "ការកំណត់ប្រព័ន្ធ",
    "Language": "ភាសាខ្មែរ",
    "Save as": "រក្សាទុកជា\nឯកសារថ្មី",
    "%s files": "ឯកសារ %s",
}


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """A GNU .mo catalog (header entry plus ``messages``), as msgfmt writes it."""
    entries = sorted({"": "Content-Type: text/plain; charset=UTF-8\n", **messages}.items())
    ids = [k.encode() for k, _ in entries]
    strs = [v.encode() for _, v in entries]
    n = len(entries)
    start = 28 + 16 * n
    blob, id_table, str_table = b"", [], []
    for s in ids:
        id_table.append((len(s), start + len(blob)))
        blob += s + b"\0"
    for s in strs:
        str_table.append((len(s), start + len(blob)))
        blob += s + b"\0"
    head = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 0)
    tables = b"".join(struct.pack("<2I", *e) for e in id_table + str_table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + tables + blob)


def tiny_config(corpus: Path, locale: Path, out: Path) -> EvalsetConfig:
    return EvalsetConfig(script="khmer", corpus_dir=str(corpus), output_dir=str(out), lines=3, seed=3,
                         font_size=20, pango_ptsize=(8, 9), pango_resolution=150, page_lines=3,
                         locale_dir=str(locale))


@pytest.fixture(scope="module")
def locale_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("locale")
    write_mo(root / "km" / "LC_MESSAGES" / "test.mo", MO_STRINGS)
    return root


@pytest.fixture(scope="module")
def evalset(khmer_corpus_dir, locale_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("evalset") / "khmer"
    build_evalset(tiny_config(khmer_corpus_dir, locale_dir, out))
    return out


def _manifest(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text(encoding="utf-8"))


def _samples(d: Path, name: str) -> list[dict]:
    return json.loads((d / name / "metadata.json").read_text(encoding="utf-8"))["samples"]


def test_same_seed_same_bytes(evalset, khmer_corpus_dir, locale_dir, tmp_path):
    again = tmp_path / "again"
    build_evalset(tiny_config(khmer_corpus_dir, locale_dir, again))
    assert (again / "manifest.json").read_bytes() == (evalset / "manifest.json").read_bytes()
    files = _manifest(evalset)["files"]
    assert all((again / rel).read_bytes() == (evalset / rel).read_bytes() for rel in files)
    assert {rel.split("/")[0] for rel in files} == set(SETS)


def test_val_split_builds_a_tuning_copy_from_val_lines_only(evalset, khmer_corpus_dir, locale_dir, tmp_path):
    cfg = tiny_config(khmer_corpus_dir, locale_dir, tmp_path / "tune")
    cfg.split, cfg.sets = "val", ["heldout_fonts", "lowres"]
    build_evalset(cfg)
    val = set(read_split(khmer_corpus_dir, "val"))
    test = set(read_split(khmer_corpus_dir, "test"))
    for name in cfg.sets:
        texts = [s["text"] for s in _samples(tmp_path / "tune", name)]
        assert len(texts) == 3 and set(texts) <= val and not set(texts) & test, name
    assert {s["text"] for s in _samples(evalset, "heldout_fonts")} <= test  # the fixed sets: test lines
    with pytest.raises(AksarError, match="split"):
        EvalsetConfig(split="train")


def test_every_set_reads_and_its_lines_pass_the_gate(evalset):
    fonts = {f.name: f for f in discover_fonts("khmer", exclude=())}
    gate = ShapingGate("khmer")
    for name in SETS:
        ds = open_dataset(evalset / name)
        samples = _samples(evalset, name)
        assert len(ds) == len(samples) == 3, name
        for i, s in enumerate(samples):
            item = ds[i]
            assert item is not None and item["text"] == s["text"] == normalize(s["text"], "khmer")
            assert item["image"].shape == (s["height"], s["width"])
            assert (item["image"] < 128).any(), f"{name}: no ink in {s['image_path']}"
            if name not in ("pango", "degraded"):  # Pango names are checked with the family's regular face
                assert gate.check(s["text"], fonts[s["font"]]) is None
        assert not ds.errors


def test_heldout_fonts_only_in_heldout_sets(evalset):
    held = HELDOUT_FAMILIES["khmer"]
    excluded = EXCLUDED_FAMILIES["khmer"]

    def family(font: str, families) -> str | None:
        return next((f for f in sorted(families, key=len, reverse=True) if font == f or font.startswith(f + " ")),
                    None)

    for name in SETS:
        for s in _samples(evalset, name):
            assert family(s["font"], excluded) is None, s["font"]
            is_held = family(s["font"], held) is not None
            assert is_held == (name in ("heldout_fonts", "pango", "degraded")), (name, s["font"])


def test_lowres_x_height_in_range(evalset):
    for s in _samples(evalset, "lowres"):
        assert 6 <= s["x_height_px"] <= 10
        img = decode_image(evalset / "lowres" / s["image_path"])
        ink_rows = np.flatnonzero((img < 160).any(axis=1))
        # a line's ink spans at least the x-height and at most a few times it (stacked marks)
        assert s["x_height_px"] - 1 <= ink_rows[-1] - ink_rows[0] + 1 <= 5 * s["x_height_px"]


def test_domain_set_reads_mo_text(evalset):
    expected = {normalize(line, "khmer") for v in MO_STRINGS.values() for line in v.split("\n")}
    texts = [s["text"] for s in _samples(evalset, "domain")]
    assert set(texts) <= expected and len(set(texts)) == 3
    domain = _manifest(evalset)["fonts"]["domain"]
    assert domain["dropped"]["format_or_markup"] == 1
    assert domain["sources"][0]["file"] == "test.mo"


def test_split_lines_checks_box_text_against_labels():
    box = (0, 0, 1, 1)
    boxes = [("ព", box), (" ", box), ("ះ", box), ("ក", box), ("ា", box)]
    lines = split_lines(boxes, ["ព្រះ", "កា"])  # the blank cluster stands for the COENG RO
    assert lines is not None and [len(b) for b, _ in lines] == [3, 2] and [n for _, n in lines] == [1, 0]
    assert split_lines(boxes, ["ព្រះក", "ា"]) is not None
    assert split_lines(boxes, ["ព្រះ", "កី"]) is None
    assert split_lines(boxes, ["ព្រះកា"]) is not None and split_lines(boxes[:-1], ["ព្រះ", "កា"]) is None
    assert split_lines([("ត", box), (" ", box), ("។", box)], ["ត្រ ។"]) is not None  # blank + space


def test_validate_only_catches_a_modified_file(evalset, run_cli, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(evalset, copy)
    ok = run_cli(["evalset", "build", "--output-dir", copy, "--validate-only"])
    assert ok.returncode == 0, ok.stderr
    img = sorted((copy / "degraded" / "images").iterdir())[1]
    data = bytearray(img.read_bytes())
    data[-3] ^= 0xFF
    img.write_bytes(bytes(data))
    bad = run_cli(["evalset", "build", "--output-dir", copy, "--validate-only"])
    assert bad.returncode == 2
    assert str(img) in bad.stderr and "sha256 mismatch" in bad.stderr
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused = run_cli(["evalset", "build", "--output-dir", foreign, "--lines", "1", "--sets", "lowres"])
    assert refused.returncode == 2 and "not an evaluation set" in refused.stderr
    assert (foreign / "notes.txt").read_text() == "mine"


def test_accuracy_benchmark_scores_both_engines(evalset, exported_onnx, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    sys.modules.pop("accuracy", None)
    import accuracy

    out = tmp_path / "acc.json"
    assert accuracy.main(["--evalset", str(evalset), "--model", str(exported_onnx[0]), "--json", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert [r["set"] for r in rows] == list(SETS)
    for r in rows:
        assert r["lines"] == 3 and r["speed_ratio"] > 0
        for engine in ("aksar", "tesseract"):
            e = r[engine]
            assert min(e["cer"], e["cer_folded"], e["cer_nospace"]) >= 0 and e["lines_per_s"] > 0
            assert 0 <= e["line_accuracy"] <= 1
