"""The script registry, and the Lao and Myanmar modules: normalization, clusters, repair, folds."""
from __future__ import annotations

import pickle
import sys
import unicodedata
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from aksar.core.errors import AksarError
from aksar.text.domains import DomainText
from aksar.text.graphemes import clusters
from aksar.text.normalize import FOLD_TABLE, fold_visual, normalize
from aksar.text.orthography import SCRIPT_REPAIRS, is_valid, valid_orthography
from aksar.text.scripts import (SCRIPTS, Script, detect_script, get_script, register, script_share,
                                 unregister)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_lines(script: str) -> list[str]:
    return (FIXTURES / f"{script}.txt").read_text(encoding="utf-8").splitlines()


# -- registry ------------------------------------------------------------------------------------------

def test_every_script_has_a_module_and_the_registry_answers():
    assert list(SCRIPTS) == ["khmer", "thai", "lao", "myanmar"]
    for name, info in SCRIPTS.items():
        assert info.__class__ is Script and info.name == name
        assert detect_script(info.sample) == name and script_share(info.sample, name) == 1.0
        assert normalize(info.sample) == info.sample and is_valid(info.sample)
        assert "".join(clusters(info.sample)) == info.sample
    assert set(SCRIPT_REPAIRS) == set(SCRIPTS)
    with pytest.raises(AksarError, match="unknown script 'klingon'; known scripts: khmer, lao, myanmar, thai"):
        get_script("klingon")


@pytest.fixture
def toy_script():
    """A script added at run time (Tifinagh): one module's worth of data, nothing else touched."""
    toy = register(Script(name="tifinagh", language="zgh", ranges=((0x2D30, 0x2D7F),), sample="ⵜⴰⵎⴰⵣⵉⵖⵜ",
                          folds=(("ⵣⵣ", "ⵥ", "toy look-alike"),), cluster="[\u2d30-\u2d67]\u2d6f?"))
    yield toy
    unregister("tifinagh")


def test_a_registered_script_is_known_everywhere(toy_script):
    assert detect_script("ⵜⴰⵎⴰⵣⵉⵖⵜ ok") == "tifinagh"
    assert normalize("ⵜⴰ\u200bⵎⴰ", "tifinagh") == "ⵜⴰⵎⴰ"
    assert fold_visual("ⵣⵣ") == "ⵥ" and any(src == "ⵣⵣ" for src, _, _ in sys.modules["aksar.text.normalize"].FOLD_TABLE)
    assert clusters("ⵜⵯⴰ") == ["ⵜⵯ", "ⴰ"]
    assert valid_orthography("ⵜⴰ", "tifinagh") == ("ⵜⴰ", False)
    with pytest.raises(AksarError, match="no cluster grammar for script 'tifinagh'"):
        DomainText("tifinagh", ["ⵜⴰⵎⴰⵣⵉⵖⵜ"])


# -- Lao -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("ນໍ້າ", "ນ້ຳ"),                         # NIGGAHITA + tone + AA -> tone + SARA AM
    ("ນໍາ", "ນຳ"),
    ("ຍ່ີ", "ຍີ່"),                           # tone typed before the vowel: vowel first
    ("ຫ\u0eb8\u0ebc", "ຫ\u0ebc\u0eb8"),      # semivowel LO before the below vowel
    ("ກິິນ", "ກິນ"),                          # a mark typed twice renders once
    ("ກໍ່", "ກໍ່"),                            # NIGGAHITA is a vowel: before the tone, unchanged
    ("ປະເທດລາວ", "ປະເທດລາວ"),
])
def test_lao_normalize(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


def test_lao_fixture_is_normalized_valid_and_clustered():
    lines = fixture_lines("lao")
    assert len(lines) > 80 and all(script_share(t, "lao") > 0.9 for t in lines)
    for line in lines:
        assert normalize(line) == line and is_valid(line), line
        assert "".join(clusters(line)) == line
    assert clusters("ເກົ້າ ນ້ຳ ຫຼວງ") == ["ເ", "ກົ້", "າ", " ", "ນ້ຳ", " ", "ຫຼ", "ວ", "ງ"]


def test_lao_repair_and_folds():
    assert valid_orthography("\u0eb4ກາ") == ("ກາ", True)                 # a vowel with no consonant
    assert valid_orthography("ກິີ") == ("ກິ", True)                        # two vowels: the first stays
    assert valid_orthography("ກິີ", confidences=[1, .2, .9]) == ("ກີ", True)
    assert valid_orthography("ກ່້") == ("ກ່", True)
    assert fold_visual("ເເກ") == "ແກ" and normalize("ເເກ") == "ເເກ"
    assert any(src == "\u0ec0\u0ec0" for src, _, _ in FOLD_TABLE)


# -- Myanmar ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("ေက", "ကေ"),                   # E typed before its consonant (visual order)
    ("ေကြာင်း", "ကြောင်း"),          # ... with a medial
    ("မေနဲ့ေမာင်", "မေနဲ့မောင်"),       # E after a complete syllable belongs to the next consonant
    ("ကွြ", "ကြွ"),                  # medials in the order YA, RA, WA, HA
    ("မှွ", "မွှ"),
    ("ကုိ", "ကို"),                   # upper vowel before lower vowel
    ("ပဲု", "ပုဲ"),                   # ... but AI (drawn above) after it, as HarfBuzz shapes it
    ("ကာေ", "ကော"),                  # E before AA
    ("ယ့်", "ယ့်"),                   # NFC: DOT BELOW before ASAT
    ("ကိိ", "ကိ"),                    # a mark typed twice renders once
    ("ဥ\u102e", "ဦ"),                # NFC composes U + II
    ("မင်္ဂလာပါ", "မင်္ဂလာပါ"),        # kinzi untouched
])
def test_myanmar_normalize(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


def test_myanmar_rules_leave_real_text_alone():
    """The Burmese UI strings of the fixture (already NFC) are unchanged: the rules only fix misorders."""
    lines = fixture_lines("myanmar")
    assert len(lines) >= 100
    for line in lines:
        assert unicodedata.is_normalized("NFC", line)
        assert normalize(line) == line and is_valid(line), line
        assert "".join(clusters(line)) == line


def test_myanmar_clusters_and_repair():
    assert clusters("ကြောင်း သမ္မတ မင်္ဂလာ") == ["ကြော", "င်း", " ", "သ", "မ္မ", "တ", " ", "မ", "င်္ဂ", "လာ"]
    assert valid_orthography("ေ") == ("", True)                        # an E with no consonant
    assert valid_orthography("ကာျ") == ("ကျာ", True)                   # a medial after the vowel: moved
    assert valid_orthography("ကိီ", confidences=[1, .1, .9]) == ("ကီ", True)
    assert valid_orthography("မင်္ဂလာပါ") == ("မင်္ဂလာပါ", False)
    assert valid_orthography("ဘင်္ဂလားဒေ့ရှ်") == ("ဘင်္ဂလားဒေ့ရှ်", False)  # ASAT after medial HA
    assert valid_orthography("ပိ်") == ("ပိ", True)                   # ASAT after an upper vowel
    assert fold_visual("၀င်") == "ဝင်" and normalize("၀င်") == "၀င်"


@pytest.mark.parametrize("script", ["lao", "myanmar"])
def test_domain_text_of_the_new_scripts(script):
    lines = fixture_lines(script)
    dom = DomainText(script, lines)
    rng = np.random.default_rng(3)
    for kind in ("random_clusters", "numbers", "mixed", "shuffled"):
        for _ in range(20):
            text = dom.generate(kind, rng)
            assert text and normalize(text) == text and is_valid(text), (kind, text)
    digits = get_script(script).digits
    assert any(c in digits for _ in range(40) for c in dom.generate("numbers", rng))


def test_script_is_frozen_picklable_data():
    """A Script travels to data-loader workers (inside DomainText): its hooks are module functions."""
    for info in SCRIPTS.values():
        assert pickle.loads(pickle.dumps(info)) == info
    lao = get_script("lao")
    assert replace(lao, sample="ລາວ").sample == "ລາວ" and lao.sample != "ລາວ"
    with pytest.raises(Exception):
        lao.sample = "x"  # type: ignore[misc]


def test_generic_code_names_no_script():
    """Script knowledge lives in aksar/text/scripts/: the modules that ask the registry hold no script
    name as a string, except the two defaults (``CorpusConfig.script``, ``EvalsetConfig.script``)."""
    import ast

    src = Path(__file__).resolve().parents[1] / "src" / "aksar"
    generic = [*(p for p in (src / "text").glob("*.py")),
               *(src / "render" / n for n in ("fonts.py", "font_probe.py", "shaping.py", "synth.py")),
               *(src / "data" / n for n in ("evalset.py", "evalset_sources.py", "evalset_render.py")),
               src / "infer" / "evaluate.py", src / "infer" / "report.py", src / "infer" / "recognizer.py"]
    found = []
    for path in generic:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in SCRIPTS:
                found.append((str(path.relative_to(src)), node.value, node.lineno))
    assert sorted(f[:2] for f in found) == [("data/evalset.py", "khmer"), ("text/corpus.py", "khmer")], found
