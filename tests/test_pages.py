"""Synthetic pages: ink-tight line polygons (clean and degraded), the gate, determinism, shards, resume."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fixtures.pages import tiny_page_config, tiny_pages_config
from aksar.core.rng import rng_for
from aksar.data.generate import png_complete
from aksar.data.pages import generate_pages
from aksar.render.page import PageRenderer
from aksar.text.corpus import read_split

pytestmark = pytest.mark.xdist_group("data")


def _union(shape, polygons, grow: int = 0) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(np.asarray(poly)).astype(np.int32)], 1)
    if grow:
        mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return mask.astype(bool)


@pytest.mark.parametrize("script", ["khmer", "thai"])
def test_polygons_hold_all_text_ink_and_hug_it(script, request):
    texts = read_split(request.getfixturevalue(f"{script}_corpus_dir"), "train")[:400]
    cfg = tiny_page_config(script, degrade=False, blocks={"paragraph": 3, "heading": 1, "list": 1, "caption": 1,
                                                          "mixed": 1})
    cfg.paper_texture = (0.0, 0.0)
    renderer = PageRenderer(script, cfg)
    for i in range(2):
        page = renderer.render(texts, rng_for(3, "test", i))
        img = page.image
        paper = int(img.max())
        ink = img < paper  # flat paper: every darker pixel is ink
        assert len(page.lines) >= 8 and ink.any()
        inside = _union(img.shape, [ln.polygon for ln in page.lines])
        assert not (ink & ~inside).any(), "ink outside every line polygon"
        for ln in page.lines:
            (x0, y0), (x1, y1) = ln.polygon[0], ln.polygon[2]
            box = ink[y0:y1, x0:x1]
            # tight: ink on all four edges of the rectangle (stacked marks decide top and bottom)
            assert box[0].any() and box[-1].any() and box[:, 0].any() and box[:, -1].any(), ln
            assert ln.text.strip() == ln.text and ln.text
        assert [ln.order for ln in page.lines] == list(range(len(page.lines)))
        assert all(0 <= ln.block < len(page.regions) for ln in page.lines)


def test_lines_the_gate_refuses_are_skipped_and_counted(khmer_corpus_dir):
    broken = "\u1780\u17b6\u17b6\u17b6"  # a vowel on a vowel: HarfBuzz's dotted circle
    texts = read_split(khmer_corpus_dir, "train")[:50] + [broken] * 50
    page = PageRenderer("khmer", tiny_page_config("khmer", degrade=False)).render(texts, rng_for(1, "gate"))
    assert page.lines and sum(page.skipped.values()) > 0
    assert not any("\u17b6\u17b6" in ln.text for ln in page.lines)


def test_degraded_polygons_follow_the_ink(khmer_corpus_dir):
    from aksar.render.page_degrade import PageDegradeConfig

    texts = read_split(khmer_corpus_dir, "train")[:200]
    cfg = tiny_page_config("khmer", blocks={"paragraph": 1})
    cfg.paper_texture = (0.0, 0.0)
    zero = {k: 0.0 for k in ("clean_p", "bleed_p", "light_p", "blur_p", "noise_p", "speckle_p", "binarize_p",
                             "jpeg_p")}
    cfg.degrade = PageDegradeConfig(**zero, rotate_p=1.0, degrees=(2.5, 3.0), skew_p=1.0, perspective_p=1.0,
                                    lowres_p=1.0, lowres_dpi=(72, 72))
    page = PageRenderer("khmer", cfg).render(texts, rng_for(2, "degrade"))
    ops = [r["op"] for r in page.record]
    assert ops == ["homography", "lowres"] and page.dpi == 72
    img = page.image
    assert img.shape != (560, 400)  # grown by the rotation, shrunk to 72 dpi
    ink = img < int(np.median(img)) - 60
    inside = _union(img.shape, [ln.polygon for ln in page.lines], grow=1)
    assert ink.sum() > 500 and (ink & ~inside).sum() <= 0.002 * ink.sum()


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".journal" not in p.parts
            and p.name != "pages_metadata.json"}


def test_page_set_layout_and_determinism(khmer_pages, khmer_corpus_dir, tmp_path):
    train = khmer_pages / "train"
    assert sorted(p.name for p in (train / "images").iterdir()) == [f"train_{i:06d}.png" for i in range(16)]
    assert all(png_complete(p) for p in (train / "images").iterdir())
    assert len(list((train / "page").glob("*.xml"))) == 16 and (train / "contact_sheet.png").is_file()
    meta = json.loads((train / "metadata.json").read_text(encoding="utf-8"))
    assert meta["pages"] == 16 and meta["lines"] > 100 and meta["lines"] == sum(s["lines"] for s in meta["samples"])
    assert isinstance(meta["skipped_lines"], dict)
    top = json.loads((khmer_pages / "pages_metadata.json").read_text(encoding="utf-8"))
    assert top["kind"] == "aksar-synthetic-pages" and top["splits"]["train"]["lines"] == meta["lines"]
    # shards with other worker counts: the same files
    other = tmp_path / "sharded"
    first = generate_pages(tiny_pages_config(khmer_corpus_dir, other, shard="0/2", workers=2))
    assert not first["splits"]["train"]["complete"]
    second = generate_pages(tiny_pages_config(khmer_corpus_dir, other, shard="1/2"))
    assert second["splits"]["train"]["complete"] and second["splits"]["train"]["rendered"] == 8
    assert _files(other) == _files(khmer_pages)
    # a rerun renders nothing; other settings are refused; a foreign folder is refused
    again = generate_pages(tiny_pages_config(khmer_corpus_dir, other))
    assert again["rendered"] == 0 and again["already_done"] == 18
    from aksar.core.errors import AksarError

    with pytest.raises(AksarError, match="seed"):
        generate_pages(tiny_pages_config(khmer_corpus_dir, other, seed=8))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(AksarError, match="not empty"):
        generate_pages(tiny_pages_config(khmer_corpus_dir, foreign))


_SUBPROCESS = """
import sys
sys.path.insert(0, {tests!r})
from fixtures.pages import tiny_pages_config
from aksar.data.pages import generate_pages
generate_pages(tiny_pages_config({corpus!r}, {out!r}, splits=["train"], workers=1))
"""


def test_resume_after_sigkill_gives_the_same_bytes(khmer_pages, khmer_corpus_dir, tmp_path):
    out = tmp_path / "killed"
    code = _SUBPROCESS.format(tests=str(Path(__file__).parent), corpus=str(khmer_corpus_dir), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=dict(os.environ))
    images = out / "train" / "images"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if images.is_dir() and len(list(images.glob("*.png"))) >= 3:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "train" / "det_labels.txt").exists(), "the run finished before it could be killed"
    # damage of the kind a crash leaves: a truncated image, an orphan XML, a temp file
    victim = sorted(images.glob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    (out / "train" / "page" / "train_000015.xml").write_text("<partial")
    (images / ".train_000009.png.abc.tmp").write_bytes(b"junk")
    totals = generate_pages(tiny_pages_config(khmer_corpus_dir, out, splits=["train"]))
    train = totals["splits"]["train"]
    assert train["complete"] and train["removed_broken"] >= 3
    assert train["rendered"] + train["already_done"] == 16
    want = {k: v for k, v in _files(khmer_pages).items() if k.startswith("train/")}
    assert _files(out) == want
