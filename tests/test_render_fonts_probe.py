"""The font probe: real fonts damaged with fontTools (GSUB dropped, GSUB lookups emptied, GSUB bytes
corrupted, outlines zeroed, file truncated) are refused with a reason; sound installed fonts pass."""
from __future__ import annotations

from pathlib import Path

import pytest
import uharfbuzz as hb
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables._g_l_y_f import Glyph
from fontTools.ttLib.tables.DefaultTable import DefaultTable

from aksar.core.errors import AksarError
from aksar.render.font_probe import probe_font
from aksar.text.scripts import SCRIPTS
from aksar.render.fonts import font_info, resolve_font, scan_fonts
from aksar.render.shaping import ShapingGate
from aksar.render.synth import SynthConfig, Synthesizer

SOURCE = "Noto Sans Khmer"
COENG_TEXT = "ព្រះរាជាណាចក្រ"


def _rename(font: TTFont, name: str) -> None:
    for rec in font["name"].names:
        if rec.nameID in (1, 4, 16):
            rec.string = name


def _drop_gsub(f: TTFont) -> None:
    del f["GSUB"]


def _empty_lookups(f: TTFont) -> None:
    for lookup in f["GSUB"].table.LookupList.Lookup:
        lookup.SubTable, lookup.SubTableCount = [], 0


def _corrupt_gsub(f: TTFont) -> None:
    raw = f.reader["GSUB"]
    table = DefaultTable("GSUB")
    table.data = raw[:10] + b"\xff" * (len(raw) - 10)
    f["GSUB"] = table


def _zero_outlines(f: TTFont) -> None:
    for name in f.getGlyphOrder():
        f["glyf"][name] = Glyph()


DAMAGE = {"no_gsub": _drop_gsub, "empty_lookups": _empty_lookups, "corrupt_gsub": _corrupt_gsub,
          "no_outlines": _zero_outlines}
EXPECTED = {"no_gsub": "not merged", "empty_lookups": "not merged", "corrupt_gsub": "not merged",
            "no_outlines": "no outline", "truncated": "truncated"}


@pytest.fixture(scope="module")
def damaged_fonts(tmp_path_factory) -> dict[str, Path]:
    """One damaged copy of a real Khmer font per kind, each under its own family name."""
    src = resolve_font(SOURCE).path
    d = tmp_path_factory.mktemp("damaged")
    out = {}
    for kind, damage in DAMAGE.items():
        f = TTFont(src)
        damage(f)
        _rename(f, f"Damaged {kind}")
        out[kind] = d / f"{kind}.ttf"
        f.save(out[kind])
    data = Path(src).read_bytes()
    out["truncated"] = d / "truncated.ttf"
    out["truncated"].write_bytes(data[:int(len(data) * 0.9)])  # header and cmap intact, tables cut off
    return out


def _hb_glyph_count(path: Path, text: str) -> int:
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    hb.shape(hb.Font(hb.Face(hb.Blob.from_file_path(str(path)))), buf, {})
    return len(buf.glyph_infos)


def test_damage_is_real_and_the_old_gate_misses_it(damaged_fonts):
    """The damaged fonts really misshape Khmer (COENG not merged: one glyph per character), yet the
    cmap-and-dotted-circle gate passes them: only the probe can catch them."""
    good = resolve_font(SOURCE).path
    assert _hb_glyph_count(Path(good), COENG_TEXT) < len(COENG_TEXT)
    gate = ShapingGate("khmer")
    for kind in ("no_gsub", "empty_lookups", "corrupt_gsub"):
        assert _hb_glyph_count(damaged_fonts[kind], COENG_TEXT) == len(COENG_TEXT), kind
        assert gate.check(COENG_TEXT, font_info(damaged_fonts[kind])) is None


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_probe_refuses_damaged_font(kind, damaged_fonts):
    reason = probe_font(font_info(damaged_fonts[kind]), "khmer")
    assert reason is not None and EXPECTED[kind] in reason, reason


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_probe_passes_installed_fonts(script):
    from aksar.render.fonts import discover_fonts

    fonts = discover_fonts(script, exclude=())
    assert fonts, f"no installed {script} font"
    bad = [(f.name, probe_font(f, script)) for f in fonts]
    assert [b for b in bad if b[1]] == []


def test_scan_reports_refused_fonts(damaged_fonts):
    good = resolve_font(SOURCE).path
    scan = scan_fonts("khmer", [*damaged_fonts.values(), good], include_system=False)
    assert [f.path for f in scan.fonts] == [good]
    refused = {Path(f.path).stem: reason for f, reason in scan.refused}
    assert set(refused) == set(EXPECTED)
    for kind, words in EXPECTED.items():
        assert words in refused[kind]
    assert scan.counts["refused"] == len(EXPECTED)


def test_fonts_cli_lists_refused_with_reason(run_cli, damaged_fonts):
    d = damaged_fonts["no_gsub"].parent
    proc = run_cli(["fonts", "--script", "khmer", "--font-dir", d, "--no-system"])
    assert proc.returncode == 1, proc.stdout + proc.stderr  # nothing usable
    for kind, path in damaged_fonts.items():
        line = next(ln for ln in proc.stdout.splitlines() if str(path) in ln)
        assert "refused" in line and EXPECTED[kind] in line, line
    assert f"0 usable, {len(EXPECTED)} refused" in proc.stdout


def test_synthesis_never_uses_a_refused_font(damaged_fonts):
    good = resolve_font(SOURCE).path
    # explicit fonts: the damaged one is refused, the good one used
    synth = Synthesizer("khmer", SynthConfig(fonts=[str(damaged_fonts["no_gsub"]), good]))
    assert [f.path for f in synth.fonts] == [good]
    # discovered fonts: a folder of damaged fonts only gives none
    synth = Synthesizer("khmer", SynthConfig(font_dirs=[str(damaged_fonts["no_gsub"].parent)],
                                             include_system_fonts=False))
    with pytest.raises(AksarError, match="no khmer fonts"):
        synth.fonts
    with pytest.raises(AksarError, match="refused for khmer: .*not merged"):
        resolve_font(damaged_fonts["no_gsub"], script="khmer")


def test_render_cli_refuses_a_damaged_font(run_cli, damaged_fonts, tmp_path):
    out = tmp_path / "line.png"
    proc = run_cli(["render", COENG_TEXT, "--font", str(damaged_fonts["no_gsub"]), "--out", str(out)])
    assert proc.returncode == 2 and not out.exists(), proc.stdout + proc.stderr
    assert str(damaged_fonts["no_gsub"]) in proc.stderr and EXPECTED["no_gsub"] in proc.stderr
    good = resolve_font(SOURCE).path
    assert run_cli(["render", COENG_TEXT, "--font", good, "--out", str(out)]).returncode == 0
    assert out.is_file()
