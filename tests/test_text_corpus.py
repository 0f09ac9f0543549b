"""Corpus building: filters, counts, stable splits, presets and bad input."""
from __future__ import annotations

import io
import json
import pickle

import pytest

from aksar.core.errors import AksarError
from aksar.text.charset import Charset
from aksar.text.corpus import (
    SPLITS, CorpusConfig, build_corpus, corpus_hash, corpus_script, read_split, split_of,
)
from aksar.text.normalize import normalize
from aksar.text.presets import preset_lines
from aksar.text.scripts.thai import read_orchid
from aksar.text.safe_pickle import load_str_list
from aksar.text.scripts import script_share


@pytest.mark.parametrize("fixture, script", [("khmer_corpus_dir", "khmer"), ("thai_corpus_dir", "thai")])
def test_fixture_corpus_dirs(request, fixture, script):
    d = request.getfixturevalue(fixture)
    stats = json.loads((d / "stats.json").read_text(encoding="utf-8"))
    assert corpus_script(d) == script
    lines = {s: read_split(d, s) for s in SPLITS}
    assert stats["kept"] == 3000 == sum(len(v) for v in lines.values())
    assert stats["splits"] == {s: len(v) for s, v in lines.items()}
    assert 0.7 < len(lines["train"]) / 3000 < 0.9
    assert stats["stopped_at_max_lines"] and stats["lines_read"] < 4000   # stopped reading early
    assert stats["lines_read"] == stats["kept"] + stats["dropped_total"]
    cs = Charset.load(d / "charset.txt")
    assert stats["charset_size"] == len(cs)
    for split, split_lines in lines.items():
        assert len(set(split_lines)) == len(split_lines)
        for line in split_lines[:200]:
            assert normalize(line) == line and 1 <= len(line) <= 120
            assert script_share(line, script) >= 0.5
            assert split_of(line, CorpusConfig()) == split
            assert not cs.unknown(line)
    assert stats["corpus_hash"] == corpus_hash(d)


def test_fixture_lines(khmer_lines, thai_lines):
    assert len(khmer_lines) == len(set(khmer_lines)) == 1000
    assert len(thai_lines) == len(set(thai_lines)) == 1000
    assert all(script_share(line, "khmer") >= 0.5 for line in khmer_lines)
    assert all(script_share(line, "thai") >= 0.5 for line in thai_lines)


def test_adding_lines_never_moves_existing_ones(tmp_path, khmer_lines):
    a = tmp_path / "a.txt"
    a.write_text("\n".join(khmer_lines[:400]) + "\n", encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_text("\n".join(khmer_lines[400:]) + "\n", encoding="utf-8")
    build_corpus([a], CorpusConfig(), tmp_path / "small")
    build_corpus([a, b], CorpusConfig(), tmp_path / "big")
    for split in SPLITS:
        small = read_split(tmp_path / "small", split)
        big = set(read_split(tmp_path / "big", split))
        assert small and set(small) <= big
    # same input, same bytes
    build_corpus([a], CorpusConfig(), tmp_path / "again")
    assert corpus_hash(tmp_path / "again") == corpus_hash(tmp_path / "small")
    assert corpus_hash(tmp_path / "big") != corpus_hash(tmp_path / "small")


def test_bad_lines_are_counted(tmp_path, khmer_lines):
    src = tmp_path / "mixed.txt"
    src.write_bytes(b"\n".join([
        khmer_lines[0].encode(),                     # 1 kept
        b"\xff\xfe broken \xc3",                     # 2 invalid UTF-8
        "\u200b\u00ad\ufeff".encode(),               # 3 invisible only
        b"   ",                                      # 4 blank
        khmer_lines[0].encode(),                     # 5 duplicate
        ("ក" * 121).encode(),                        # 6 too long
        b"hello world",                              # 7 not Khmer
        (" " + khmer_lines[1] + "\u200b").encode(),  # 8 kept after normalization
        "ក\uf0d8ខ".encode(),                        # 9 private-use character (rdlab has U+F0D8)
    ]) + b"\n")
    stats = build_corpus([src], CorpusConfig(), tmp_path / "out")
    assert stats["kept"] == 2 and stats["lines_read"] == 9
    assert stats["dropped"] == {"invalid_utf8": 1, "blank": 1, "invisible_only": 1, "too_short": 0,
                                "too_long": 1, "low_script_share": 1, "private_use": 1, "duplicate": 1}
    assert stats["invalid_utf8_locations"] == [f"{src}:2"]
    kept = [line for s in SPLITS for line in read_split(tmp_path / "out", s)]
    assert sorted(kept) == sorted([khmer_lines[0], khmer_lines[1]])


def test_filters_are_configurable(tmp_path, thai_lines):
    src = tmp_path / "t.txt"
    src.write_text("\n".join(thai_lines[:300] + thai_lines[:10]) + "\n", encoding="utf-8")
    stats = build_corpus([src], CorpusConfig(script="thai", min_length=30, max_length=60, dedupe=False),
                         tmp_path / "o")
    lengths = [len(line) for s in SPLITS for line in read_split(tmp_path / "o", s)]
    assert lengths and min(lengths) >= 30 and max(lengths) <= 60
    assert stats["dropped"]["duplicate"] == 0
    assert stats["dropped"]["too_short"] > 0 and stats["dropped"]["too_long"] > 0


def test_empty_corpus_and_missing_input(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"\xe2\x80\x8b\n\n")
    with pytest.raises(AksarError, match="empty corpus: no line was kept out of 2 read.*invisible_only 1"):
        build_corpus([empty], CorpusConfig(), tmp_path / "o")
    with pytest.raises(AksarError, match="input file not found: .*missing.txt"):
        build_corpus([tmp_path / "missing.txt"], CorpusConfig(), tmp_path / "o")
    with pytest.raises(AksarError, match="val_fraction"):
        CorpusConfig(val_fraction=0.6, test_fraction=0.5)


def test_read_split_and_script_errors(tmp_path):
    with pytest.raises(AksarError, match=str(tmp_path / "train.txt")):
        read_split(tmp_path, "train")
    with pytest.raises(AksarError, match="unknown split"):
        read_split(tmp_path, "dev")
    with pytest.raises(AksarError, match="stats.json"):
        corpus_script(tmp_path)


def test_preset_script_wins_over_config(tmp_path):
    stats = build_corpus(None, CorpusConfig(script="khmer", max_lines=50), tmp_path, preset="thai")
    assert stats["script"] == "thai" and stats["kept"] == 50


def test_safe_pickle_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(["ok", Evil()]))
    with pytest.raises(AksarError, match="refused to load builtins.print"):
        load_str_list(evil)
    not_list = tmp_path / "dict.pkl"
    not_list.write_bytes(pickle.dumps({"a": "b"}))
    with pytest.raises(AksarError, match="expected a pickled list"):
        load_str_list(not_list)
    mixed = tmp_path / "mixed.pkl"
    mixed.write_bytes(pickle.dumps(["a", 3]))
    with pytest.raises(AksarError, match="item 1 is int"):
        load_str_list(mixed)
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps(["ក", "ខ"]))
    assert load_str_list(good) == ["ក", "ខ"]


def test_orchid_format(tmp_path):
    f = tmp_path / "orchid.txt"
    f.write_text(io.StringIO(
        "%TTitle: การประชุม\n#P1\n#1\nการประชุมทางวิชาการ ครั้งที่ 1//\nการ/FIXN\n<space>/PUNC\n//\n"
        "#2\nประเทศไทยได้มีการปรับเปลี่ยน \\\\\nจากประเทศเกษตรกรรม//\nจาก/RPRE\n//\n"
    ).getvalue(), encoding="utf-8")
    got = [(n, t) for _, n, t in read_orchid(f)]
    assert got == [(4, "การประชุมทางวิชาการ ครั้งที่ 1"), (9, "ประเทศไทยได้มีการปรับเปลี่ยน "),
                   (10, "จากประเทศเกษตรกรรม")]


def test_presets_yield_real_text():
    source, lineno, text = next(preset_lines("khmer"))
    assert source.endswith("wild_khmer_sentences.pkl") and lineno == 1 and script_share(text, "khmer") > 0.9
    first = next(preset_lines("thai"))
    assert first[1] == 14 and first[2] == "การประชุมทางวิชาการ ครั้งที่ 1"
    with pytest.raises(AksarError, match="known presets"):
        next(preset_lines("lao"))
