"""Character language model and its fusion into CTC beam search: real corpus text, a real tiny model."""
from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pytest

from aksar.cli.main import main
from aksar.core.errors import AksarError
from aksar.models.decoding import ctc_decode_batch, ctc_prefix_beam_search
from aksar.text.charlm import CharLM

pytestmark = pytest.mark.xdist_group("train")


@pytest.fixture(scope="module")
def khmer_lm(khmer_lines) -> CharLM:
    return CharLM.build(khmer_lines, order=4, min_count=2)


@pytest.mark.parametrize("context", ["", "\u1780", "\u1780\u17b6\u179a", "zzzzzz", "\u1780\u17d2\u179a\u17bb"])
def test_distributions_sum_to_one(khmer_lm, context):
    total = sum(math.exp(khmer_lm.logp(context, ch)) for ch in khmer_lm.vocab)
    unknown = math.exp(khmer_lm.logp(context, "\U0001f600"))  # the one unknown-character slot
    assert total + unknown == pytest.approx(1.0, abs=1e-6)


def test_corpus_text_is_likelier_than_its_reversal(khmer_lm, khmer_lines):
    line = khmer_lines[-1]
    assert khmer_lm.line_logp(line) > khmer_lm.line_logp(line[::-1]) + 5


def test_save_load_round_trip_and_bad_files(khmer_lm, tmp_path):
    path = tmp_path / "lm.json.gz"
    khmer_lm.save(path)
    back = CharLM.load(path)
    for ctx, ch in [("", "\u1780"), ("\u1780\u17b6", "\u179a"), ("xy", "\u1780")]:
        assert back.logp(ctx, ch) == pytest.approx(khmer_lm.logp(ctx, ch), abs=1e-12)
    again = tmp_path / "again.json.gz"
    back.save(again)
    assert again.read_bytes() == path.read_bytes()                      # one model, one byte string
    assert back.grams == khmer_lm.grams and back.contexts == khmer_lm.contexts and back.vocab == khmer_lm.vocab
    v1 = {"format": "aksar-charlm", "version": 1, "order": khmer_lm.order, "vocab": khmer_lm.vocab,
          "grams": khmer_lm.grams, "contexts": {h: list(v) for h, v in khmer_lm.contexts.items()}}
    (tmp_path / "v1.json.gz").write_bytes(gzip.compress(json.dumps(v1).encode()))
    old = CharLM.load(tmp_path / "v1.json.gz")                          # files of earlier releases still load
    assert old.grams == khmer_lm.grams and old.contexts == khmer_lm.contexts
    data = json.loads(gzip.decompress(path.read_bytes()))
    data["grams"]["3"]["keys"] = data["grams"]["3"]["keys"][:-1]      # one key character short
    (tmp_path / "short.json.gz").write_bytes(gzip.compress(json.dumps(data).encode()))
    data = json.loads(gzip.decompress(path.read_bytes()))
    data["contexts"]["2"]["types"][0] = "7"
    (tmp_path / "text_count.json.gz").write_bytes(gzip.compress(json.dumps(data).encode()))
    (tmp_path / "v9.json.gz").write_bytes(gzip.compress(json.dumps({**data, "version": 9}).encode()))
    (tmp_path / "bad.json.gz").write_bytes(gzip.compress(b'{"format": "other"}'))
    (tmp_path / "junk.gz").write_bytes(b"not gzip")
    for name in ("short.json.gz", "text_count.json.gz", "v9.json.gz", "bad.json.gz", "junk.gz", "missing.json.gz"):
        with pytest.raises(AksarError, match=name):
            CharLM.load(tmp_path / name)
    with pytest.raises(AksarError, match="no text"):
        CharLM.build(["", ""])


def _frames(rows: list[dict[int, float]], classes: int) -> np.ndarray:
    """A [T, C] probability matrix: each row's given classes, the rest of the mass on blank."""
    probs = np.full((len(rows), classes), 1e-6)
    for t, row in enumerate(rows):
        for c, p in row.items():
            probs[t, c] = p
        probs[t, 0] = max(1e-6, 1.0 - sum(row.values()))
        probs[t] /= probs[t].sum()
    return probs


def test_lm_turns_an_ambiguous_frame_to_the_likely_text():
    charset = ["a", "b", "c"]            # CTC class = charset id + 1
    lm = CharLM.build(["abc"] * 50 + ["cba"] * 2, order=3, min_count=1)
    # "a", then a frame unsure between "c" (0.5) and "b" (0.45), then "c": acoustically "acc" ...
    probs = _frames([{1: 0.95}, {}, {3: 0.5, 2: 0.45}, {}, {3: 0.95}], 4)
    plain_ids, plain_conf = ctc_prefix_beam_search(probs, beam_width=8)
    assert "".join(charset[i] for i in plain_ids) == "acc"
    fused_ids, fused_conf = ctc_prefix_beam_search(probs, beam_width=8, lm=lm.scorer(charset, weight=1.0))
    assert "".join(charset[i] for i in fused_ids) == "abc"   # ... but the LM knows "abc"
    # weight 0 changes nothing, and the confidence stays acoustic (no LM term in it)
    zero_ids, zero_conf = ctc_prefix_beam_search(probs, beam_width=8, lm=lm.scorer(charset, weight=0.0))
    assert (zero_ids, zero_conf) == (plain_ids, pytest.approx(plain_conf))
    assert 0.0 < fused_conf < plain_conf
    with pytest.raises(AksarError, match="beam"):
        ctc_decode_batch(probs[None], method="greedy", lm=lm.scorer(charset, 1.0))


def test_cli_builds_from_train_split_and_predicts_with_the_lm(tmp_path, exported_onnx, train_data, val_images,
                                                              capsys):
    from aksar.infer.recognizer import Recognizer

    corpus = train_data["corpus"]
    out = tmp_path / "lm.json.gz"
    assert main(["lm", "build", "--input", str(corpus), "--output", str(out), "--order", "4"]) == 0
    err = capsys.readouterr().err
    n_train = sum(1 for ln in (corpus / "train.txt").read_text(encoding="utf-8").splitlines() if ln.strip())
    assert f"{n_train} lines" in err and "4-grams" in err and "writing" in err          # progress on stderr
    quiet = tmp_path / "quiet.json.gz"
    assert main(["lm", "build", "--input", str(corpus), "--output", str(quiet), "--order", "4", "--no-progress"]) == 0
    assert capsys.readouterr().err == "" and quiet.read_bytes() == out.read_bytes()
    lm = CharLM.load(out)
    train_chars = set((corpus / "train.txt").read_text(encoding="utf-8")) - {"\n"}
    assert set(lm.vocab) <= train_chars
    onnx = exported_onnx[0]
    images = val_images[:12]
    plain = Recognizer(onnx, threads=1, decoder="beam")
    fused = Recognizer(onnx, threads=1, lm=out, lm_weight=0.0, lm_bonus=0.0)
    assert fused.decoder == "beam" and fused.describe()["lm"]["order"] == 4
    assert [p.text for p in fused.predict(images)] == [p.text for p in plain.predict(images)]
    preds = tmp_path / "preds.tsv"
    assert main(["predict", str(onnx), *map(str, images[:3]), "--lm", str(out), "--lm-weight", "0.5",
                 "--out", str(preds)]) == 0
    assert len(preds.read_text(encoding="utf-8").splitlines()) >= 3
    assert main(["predict", str(onnx), str(images[0]), "--lm", str(tmp_path / "nope.gz")]) != 0
    assert "nope.gz" in capsys.readouterr().err


def test_scorer_reads_every_id_of_a_prefix_shorter_than_its_context(khmer_lm):
    charset = sorted(khmer_lm.vocab)
    score = khmer_lm.scorer(charset, weight=1.0)             # order 4: up to 3 trailing ids
    ids = tuple(charset.index(c) for c in "\u1780\u17b6\u179a")
    for n in range(4):                                       # prefixes of 0..3 ids
        context = "".join(charset[i] for i in ids[:n])
        assert score(ids[:n], ids[0]) == pytest.approx(khmer_lm.logp(context, charset[ids[0]]))
    # the decoder passes the same tail, however long the prefix
    probs = _frames([{1 + i: 0.9} for i in ids * 2], len(charset) + 1)
    seen: list[tuple[int, ...]] = []

    class Spy:
        context = score.context

        def __call__(self, prefix, token):
            seen.append(prefix)
            return score(prefix, token)

    ctc_prefix_beam_search(probs, beam_width=2, lm=Spy())
    assert seen and all(len(p) <= 3 for p in seen) and ids[:2] in seen and ids in seen


@pytest.mark.parametrize("beam_width,prune", [(4, 5e-3), (16, 1e-4)])
def test_the_lm_bound_skips_hopeless_prefixes_without_changing_the_result(khmer_lm, beam_width, prune):
    """With ``max_term`` the search asks the LM only about prefixes that can still reach the beam; the
    text, the confidence and the ranking are those of scoring every extension."""
    charset = sorted(khmer_lm.vocab)
    score = khmer_lm.scorer(charset, weight=0.4, bonus=2.5)
    assert score.max_term == 2.5
    asked: dict[str, int] = {"bounded": 0, "every": 0}

    def counting(name: str, with_bound: bool):
        class Counted:
            context = score.context

            def __call__(self, prefix, token):
                asked[name] += 1
                return score(prefix, token)
        if with_bound:
            Counted.max_term = score.max_term
        return Counted()

    rng = np.random.default_rng(7)
    for _ in range(3):  # peaked frames, as a trained model gives: mostly blank, a few likely letters
        logits = rng.normal(0, 1, (40, len(charset) + 1)) * 3
        logits[:, 0] += rng.choice([0.0, 6.0], size=40, p=[0.5, 0.5])
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        bounded = ctc_prefix_beam_search(probs, beam_width=beam_width, prune=prune, lm=counting("bounded", True))
        every = ctc_prefix_beam_search(probs, beam_width=beam_width, prune=prune, lm=counting("every", False))
        assert bounded == every
    assert 0 < asked["bounded"] < asked["every"]
