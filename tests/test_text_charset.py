"""Charset: dictionary files (PaddleOCR format), encode/decode, audit."""
from __future__ import annotations

import pytest

from aksar.core.errors import AksarError
from aksar.text.charset import Charset, audit_charset


def test_build_save_load_roundtrip(tmp_path, khmer_lines):
    cs = Charset.build(khmer_lines, extra=("digits", "latin", "punct"), script="khmer")
    assert " " in cs and "A" in cs and "7" in cs and "៧" in cs and "\u17d2" in cs
    assert list(cs.tokens) == sorted(cs.tokens)
    path = tmp_path / "dict.txt"
    cs.save(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and lines[:-1] == list(cs.tokens)    # one token per line
    assert " " in lines                                          # the space token is a line " "
    loaded = Charset.load(path)
    assert loaded == cs and loaded.fingerprint() == cs.fingerprint()
    for line in khmer_lines[:200]:
        ids = cs.encode(line)
        assert all(0 <= i < len(cs) for i in ids)
        assert cs.decode(ids) == line


def test_build_is_deterministic_and_min_count(thai_lines):
    a = Charset.build(thai_lines, extra=())
    b = Charset.build(list(reversed(thai_lines)), extra=())
    assert a == b
    rare = Charset.build(thai_lines, extra=(), min_count=1000)
    assert len(rare) < len(a) and "\u0e32" in rare


def test_multi_codepoint_tokens_longest_match():
    cs = Charset(["ក", "្", "ស", "្ត", "ា", "ស្ត"])
    assert cs.tokenize("ស្តា") == ["ស្ត", "ា"]
    assert cs.tokenize("ក្ស") == ["ក", "្", "ស"]
    assert cs.decode(cs.encode("ស្តា")) == "ស្តា"
    assert cs.encode("ស្តា") == [5, 4]


def test_unknown_characters():
    cs = Charset(list("abc "))
    assert cs.unknown("abxyx") == ["x", "y"]
    assert cs.encode("a x b", on_unknown="skip") == [0, 3, 3, 1]
    with pytest.raises(AksarError, match="U\\+0078"):
        cs.encode("ax")
    with pytest.raises(AksarError, match="outside the charset"):
        cs.decode([0, 9])


def test_invalid_token_lists():
    with pytest.raises(AksarError, match="duplicate"):
        Charset(["a", "b", "a"])
    with pytest.raises(AksarError, match="empty"):
        Charset(["a", ""])


@pytest.mark.parametrize("content, message", [
    (b"a\n\nb\n", ":2: empty line"),
    (b"a\nb\na\n", ":3: duplicate token 'a' \\(first on line 1\\)"),
    (b"a\n\xff\xfe\n", ":2: charset file is not valid UTF-8"),
    (b"", "has no tokens"),
])
def test_load_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(AksarError, match=f"bad.txt{message}" if message.startswith(":") else message):
        Charset.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(AksarError, match="not found"):
        Charset.load(tmp_path / "nope.txt")


def test_load_paddleocr_style_file(tmp_path):
    path = tmp_path / "ppocr_keys.txt"
    path.write_bytes("ក\r\nខ\r\n \r\n".encode())   # CRLF line ends and a space token
    assert Charset.load(path).tokens == ("ក", "ខ", " ")


def test_audit_counts_missing(khmer_lines, thai_lines):
    cs = Charset.build(khmer_lines, extra=())
    report = audit_charset(khmer_lines[:100] + ["ภาษา ไทย", "ภา"], cs)
    assert report["lines"] == 102
    assert report["lines_with_missing"] == 2
    missing = {m["char"]: m for m in report["missing"]}
    assert missing["\u0e20"]["count"] == 2 and missing["\u0e32"]["count"] == 3
    assert missing["\u0e32"]["lines"] == 2
    assert missing["\u0e20"]["name"] == "THAI CHARACTER PHO SAMPHAO"
    assert report["missing_chars"] == 9    # 7 + 2 Thai letters
    assert audit_charset(khmer_lines, cs)["missing"] == []
