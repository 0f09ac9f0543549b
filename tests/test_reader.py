"""Whole pages: page inputs (images, TIFF frames, PDFs, folders, lists), line crops of rotated lines,
reading order, and the Reader on synthetic Khmer pages with the shipped recognizer and detector."""
from __future__ import annotations

import math
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from fixtures.pages import tiny_page_config
from aksar.core.errors import AksarError, ReadTimeout
from aksar.core.rng import rng_for
from aksar.infer.document import bbox
from aksar.infer.line_crops import crop_line, line_quad
from aksar.infer.page_inputs import PageInputs
from aksar.infer.reading_order import group_blocks, order_boxes, upright_boxes
from aksar.text.metrics import cer

CLEAN_PAGE_CER = 0.2  # whitespace-insensitive page CER on clean synthetic pages (measured 0.04-0.07)


# -- fixtures -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def det_model() -> str:
    """The shipped Khmer line detector, by its alias (its sha256 is checked on the way)."""
    from aksar.models.zoo import resolve_model

    return str(resolve_model("khmer_det"))


@pytest.fixture(scope="module")
def reader(det_model):
    from aksar.infer.reader import Reader

    return Reader(det=det_model, rec="khmer", threads=1)


@pytest.fixture(scope="module")
def recognizer():
    from aksar.infer.recognizer import Recognizer

    return Recognizer("khmer", threads=1)


def synthetic_page(lines: list[str], columns: int, seed: int, dpi: int = 100):
    """A clean Khmer page (aksar.render.page) of 700x560 px at 100 dpi (scaled with ``dpi``)."""
    from aksar.render.page import PageRenderer

    cfg = tiny_page_config("khmer", degrade=False, columns={columns: 1}, blocks={"paragraph": 3, "heading": 1},
                           min_column_em=6)
    cfg.layout.dpi = (dpi, dpi)
    cfg.layout.size_px = (7 * dpi, int(5.6 * dpi))
    cfg.paper_texture = (0.0, 0.0)
    return PageRenderer("khmer", cfg).render(lines, rng_for(seed, "reader-test", columns))


def squash(text: str) -> str:
    return "".join(text.split())


# -- line crops -----------------------------------------------------------------------------------------

def test_line_quad_names_corners_in_reading_order():
    for deg in (0, 10, -30, 44):
        t = math.radians(deg)
        u, v = np.array([math.cos(t), math.sin(t)]), np.array([-math.sin(t), math.cos(t)])
        c = np.array([300.0, 200.0])
        rect = np.array([c - 100 * u - 10 * v, c + 100 * u - 10 * v, c + 100 * u + 10 * v, c - 100 * u + 10 * v])
        quad, ambiguous = line_quad(rect[[2, 0, 3, 1]])  # corner order must not matter
        assert not ambiguous
        assert np.allclose(quad, rect, atol=0.5), (deg, quad, rect)
    quad, ambiguous = line_quad(np.array([[0, 0], [20, 0], [20, 200], [0, 200]], np.float32))
    assert ambiguous and quad[1][1] > quad[0][1]  # a standing box is read top to bottom


def test_rotated_lines_crop_back_to_what_the_recognizer_reads(khmer_lines, recognizer):
    from aksar.infer.reader import read_crops
    from aksar.render.synth import SynthConfig, Synthesizer

    synth = Synthesizer("khmer", SynthConfig(fonts=["Khmer OS"]))
    texts = [t for t in khmer_lines if 15 <= len(t) <= 40][:2]
    for k, text in enumerate(texts):
        line = synth.synthesize(text, rng_for(1, "crop", k), augment=False).image
        upright = recognizer.predict([line])[0].text
        assert cer([upright], [text]) < 0.25, (upright, text)
        h, w = line.shape
        for deg in (0, 8, -20, 90, -90):
            canvas = np.full((w + 200, w + 200), 255, np.uint8)
            y0, x0 = (canvas.shape[0] - h) // 2, (canvas.shape[1] - w) // 2
            canvas[y0:y0 + h, x0:x0 + w] = line
            centre = (canvas.shape[1] / 2, canvas.shape[0] / 2)
            m = cv2.getRotationMatrix2D(centre, deg, 1.0)
            page = cv2.warpAffine(canvas, m, canvas.shape[::-1], borderValue=255)
            corners = np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]], np.float64)
            polygon = np.hstack([corners, np.ones((4, 1))]) @ m.T
            crop = crop_line(page, polygon, pad=0.0)
            (best, pred), = read_crops(recognizer, [crop])
            assert crop.ambiguous == (abs(deg) == 90)
            assert cer([pred.text], [upright]) < 0.1, (deg, pred.text, upright)


def test_page_crops_keep_their_padding_and_loose_lines_are_trimmed(khmer_lines, recognizer):
    from aksar.data.preprocess import trim_to_ink
    from aksar.infer.reader import read_crops
    from aksar.infer.recognizer import Recognizer
    from aksar.render.synth import SynthConfig, Synthesizer

    margin = recognizer.preprocess.trim_margin
    assert margin is not None  # the shipped recognizers cut loose crops to the ink
    untrimmed = Recognizer("khmer", threads=1)
    untrimmed.preprocess.trim_margin = untrimmed.preprocess.trim_to = None
    text = next(t for t in khmer_lines if 15 <= len(t) <= 40)
    synth = Synthesizer("khmer", SynthConfig(fonts=["Khmer OS"]))
    line = synth.synthesize(text, rng_for(2, "trim"), augment=False).image
    h = line.shape[0]
    loose = np.pad(line, ((h // 2, h // 2), (h, h)), constant_values=255)
    cut, kept, plain = (recognizer.predict([loose])[0], recognizer.predict([loose], trim=False)[0],
                        untrimmed.predict([loose])[0])
    to = recognizer.preprocess.trim_to
    assert cut == recognizer.predict([trim_to_ink(loose, margin, to)], trim=False)[0]
    assert kept == plain and kept.confidence != cut.confidence  # read as given: another input width
    crop = crop_line(np.pad(line, h, constant_values=255), np.array([[h, h], [h + line.shape[1], h],
                                                                    [h + line.shape[1], 2 * h], [h, 2 * h]]), pad=0.5)
    (_, pred), = read_crops(recognizer, [crop])
    assert pred == untrimmed.predict([crop.image])[0]  # the page reader's padding is not cut away


# -- reading order --------------------------------------------------------------------------------------

def _two_column_layout(rows: int = 4, gutter: int = 40):
    """(boxes in their true order): a heading across both columns, ``rows`` lines per column, a second
    heading across, two lines per column."""
    boxes = [(50, 20, 550, 60)]
    right = 50 + (500 - gutter) // 2
    for x in (50, right + gutter):
        boxes += [(x, 80 + 30 * i, x + right - 50, 100 + 30 * i) for i in range(rows)]
    y = 80 + 30 * rows
    boxes.append((50, y, 550, y + 30))
    for x in (50, right + gutter):
        boxes += [(x, y + 50 + 30 * i, x + right - 50, y + 70 + 30 * i) for i in range(2)]
    return boxes


def test_reading_order_columns_after_a_spanning_heading():
    boxes = _two_column_layout()
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(boxes))
    shuffled = [boxes[i] for i in perm]
    order = [int(perm[i]) for i in order_boxes(shuffled)]
    assert order == list(range(len(boxes)))
    blocks = group_blocks([boxes[i] for i in order])
    assert [len(b) for b in blocks] == [1, 4, 4, 1, 2, 2]


def test_a_speck_in_a_gutter_leaves_the_columns_alone():
    """A blot below the shorter column, in its gutter (read as '-' on an evaluation page), once split the
    page into bands read across both columns; specks now take no part in the layout and are read beside the
    line nearest to them."""
    left = [(50, 80 + 30 * i, 300, 100 + 30 * i) for i in range(12)]
    right = [(350, 80 + 30 * i, 600, 100 + 30 * i) for i in range(4)]
    boxes = left + right
    assert order_boxes(boxes) == list(range(16))
    for speck, after in [((318, 266, 332, 274), 6), ((330, 266, 346, 274), 6), ((340, 200, 352, 208), 15)]:
        order = order_boxes(boxes + [speck])
        assert [i for i in order if i != 16] == list(range(16)), speck
        assert order.index(16) == order.index(after) + 1, (speck, order)
    # a mark left of a line's start, in its row, is read before that line (a bullet)
    order = order_boxes(boxes + [(335, 144, 343, 152)])
    assert order.index(16) == order.index(14) - 1
    # small boxes alone on a page are still ordered
    assert order_boxes([(10, 10, 15, 15), (10, 40, 15, 45)]) == [0, 1]


def test_a_speck_never_cuts_a_block():
    """Blocks of a two-column page are the same with a speck: it joins the line it leads, else the block
    before it (a blot's height once started a block, and cut the paragraph around it in three)."""
    left = [(50, 80 + 30 * i, 300, 100 + 30 * i) for i in range(12)]
    right = [(350, 80 + 30 * i, 600, 100 + 30 * i) for i in range(4)]
    boxes = left + right

    def blocks(page: list) -> list[list[int]]:
        order = order_boxes(page)
        return [[order[k] for k in block] for block in group_blocks([page[i] for i in order])]

    assert blocks(boxes) == [list(range(12)), list(range(12, 16))]
    assert blocks(boxes + [(318, 266, 332, 274)]) == [list(range(7)) + [16] + list(range(7, 12)), list(range(12, 16))]
    assert blocks(boxes + [(335, 144, 343, 152)]) == [list(range(12)), [12, 13, 16, 14, 15]]
    assert blocks(boxes + [(335, 84, 343, 92)]) == [list(range(12)), [16, 12, 13, 14, 15]]  # before the first line


def test_reading_order_survives_a_skewed_page():
    boxes = _two_column_layout(rows=20, gutter=20)
    t = math.radians(3)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    quads = [np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float) @ rot.T for x0, y0, x1, y1 in boxes]
    straight = [(q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()) for q in quads]
    assert order_boxes(straight) != list(range(len(boxes)))  # the tilted boxes close the gutter ...
    assert order_boxes(upright_boxes(quads)) == list(range(len(boxes)))  # ... turning them back opens it


def _table_layout(grid: bool):
    """(boxes in their true order, rules as segments): a paragraph line, a ruled 3-column table of a header
    and 3 rows (cells of unequal widths), a paragraph line; rules at every row (``grid``) or only at the top,
    under the header and at the bottom."""
    boxes = [(50, 20, 550, 40)]
    for top in (70, 110, 150, 190):
        boxes += [(60 + 170 * c, top + 5, 180 + 150 * c - 20 * c, top + 25) for c in range(3)]
    boxes.append((50, 260, 550, 280))
    ys = [65, 105, 145, 185, 225] if grid else [65, 105, 225]
    return boxes, [(50.0, float(y), 560.0, float(y)) for y in ys]


@pytest.mark.parametrize("grid", [True, False])
def test_ruled_table_is_read_row_by_row(grid):
    from aksar.infer.reading_order import find_tables, upright_rules

    boxes, segments = _table_layout(grid)
    rules = upright_rules(segments, 0.0)
    perm = np.random.default_rng(1).permutation(len(boxes))
    shuffled = [boxes[i] for i in perm]
    assert [int(perm[i]) for i in order_boxes(shuffled, rules)] == list(range(len(boxes)))
    assert [int(perm[i]) for i in order_boxes(shuffled)] != list(range(len(boxes)))  # without rules: by column
    [(members, cuts)] = find_tables(boxes, rules)
    assert sorted(members) == list(range(1, len(boxes) - 1)) and cuts == [r[2] for r in rules]


def test_text_columns_between_two_rules_stay_columns():
    """Rules above and below a two-column section (two rules, no header row) make no table."""
    from aksar.infer.reading_order import find_tables

    boxes = _two_column_layout(rows=6)
    rules = [(50.0, 550.0, 70.0), (50.0, 550.0, 75.0 + 30 * 6)]
    assert find_tables(boxes, rules) == []
    assert order_boxes(boxes, rules) == list(range(len(boxes)))
    far = rules + [(50.0, 550.0, 75.0 + 30 * 6 + 400)]  # a third rule, every gap taller than a header row
    assert find_tables(boxes, far) == []


@pytest.mark.parametrize("degrees, thickness, told", [(1.5, 2, False), (2.5, 1, True)])
def test_horizontal_rules_on_a_noisy_turned_page(degrees, thickness, told):
    """Rules drawn on a noisy page turned by a few degrees are found as one segment each, ends where they are
    drawn (a thin rule on a page turned 2.5 degrees: searched with the page's skew turned back); a text line
    blotted into a bar and short strokes are not rules."""
    import cv2

    from aksar.infer.page_rules import horizontal_rules

    rng = np.random.default_rng(3)
    page = np.full((1400, 1000), 235, np.uint8)
    drawn = [(80, 300, 920), (80, 340, 920), (80, 480, 920), (500, 700, 900)]
    for x0, y, x1 in drawn:
        cv2.line(page, (x0, y), (x1, y), 90, thickness)
    cv2.rectangle(page, (80, 900), (900, 928), 40, -1)           # a blotted text line: thick, no rule
    for x in range(100, 900, 40):
        cv2.line(page, (x, 1000), (x + 30, 1000), 60, 2)           # dashes: each shorter than a rule
    page = (page.astype(np.int16) + rng.normal(0, 12, page.shape)).clip(0, 255).astype(np.uint8)
    turn = cv2.getRotationMatrix2D((500, 700), degrees, 1.0)
    turned = cv2.warpAffine(page, turn, (1000, 1400), borderValue=235)
    found = horizontal_rules(turned, line_height=28, angle=math.radians(-degrees) if told else 0.0)
    assert len(found) == len(drawn)
    for (x0, y, x1), seg in zip(drawn, found):
        (ex0, ey0), (ex1, ey1) = (turn @ np.array([x0, y, 1.0]), turn @ np.array([x1, y, 1.0]))
        assert abs(seg[0] - ex0) < 12 and abs(seg[2] - ex1) < 12
        assert abs(seg[1] - ey0) < 4 and abs(seg[3] - ey1) < 4


def _column_page(joined: bool):
    """(page, detections): two columns of 6 lines (ink bars, x 50-450 and 500-900); the 4th row's two lines
    come as one detection spanning both columns, the page blank across the gutter there (``joined``) or
    inked across it (a heading over both columns)."""
    import cv2

    from aksar.models.det_postprocess import Detection

    page = np.full((600, 950), 240, np.uint8)
    dets = []
    for row in range(6):
        y = 60 + 40 * row
        for x0, x1 in ((50, 450), (500, 900)):
            cv2.rectangle(page, (x0, y), (x1, y + 20), 30, -1)
        if row == 3:
            if not joined:
                cv2.rectangle(page, (450, y), (500, y + 20), 30, -1)
            dets.append(Detection(np.array([[45, y - 3], [905, y - 3], [905, y + 23], [45, y + 23]], np.float32), 0.9))
        else:
            dets += [Detection(np.array([[x0 - 5, y - 3], [x1 + 5, y - 3], [x1 + 5, y + 23], [x0 - 5, y + 23]],
                                        np.float32), 0.9) for x0, x1 in ((50, 450), (500, 900))]
    return page, dets


@pytest.mark.parametrize("joined", [True, False])
def test_a_line_joined_across_the_gutter_is_cut_into_its_columns(joined):
    from aksar.infer.reader import split_at_gutters
    from aksar.infer.reading_order import gutter_cuts

    page, dets = _column_page(joined)
    boxes = upright_boxes([d.polygon for d in dets])
    [(crossing, [(lo, hi)])] = gutter_cuts(boxes).items()
    assert boxes[crossing][0] < 455 <= lo < hi <= 495 < boxes[crossing][2]
    out = split_at_gutters(dets, page)
    assert len(out) == len(dets) + joined
    if joined:
        xs = sorted((float(d.polygon[:, 0].min()), float(d.polygon[:, 0].max())) for d in out[crossing:crossing + 2])
        assert xs[0][0] < 50 and 450 <= xs[0][1] < 500 and 450 < xs[1][0] <= 500 and xs[1][1] > 900
        order = order_boxes(upright_boxes([d.polygon for d in out]))
        assert [int(out[i].polygon[:, 0].min() > 470) for i in order] == [0] * 6 + [1] * 6  # column by column


# -- page inputs ----------------------------------------------------------------------------------------

def _pages(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (200 + 10 * i, 300), (255, 255 - 40 * i, 255)) for i in range(n)]


def test_tiff_pdf_folder_and_list_inputs(tmp_path):
    pages = _pages(3)
    pages[0].save(tmp_path / "b.tif", save_all=True, append_images=pages[1:], dpi=(150, 150))
    pages[0].save(tmp_path / "a.pdf", "PDF", save_all=True, append_images=pages[1:2], resolution=100)
    pages[2].save(tmp_path / "c.png")
    (tmp_path / "d.png").write_bytes(b"not an image")
    (tmp_path / "notes.md").write_text("ignored: not a page")

    inputs = PageInputs.from_inputs([tmp_path], dpi=50)
    assert inputs.count_pages() == 2 + 3 + 1
    got = list(inputs)
    assert [(p.source.rsplit("/", 1)[-1], p.page) for p in got] == [("a.pdf", 0), ("a.pdf", 1), ("b.tif", 0),
                                                                     ("b.tif", 1), ("b.tif", 2), ("c.png", 0)]
    assert [p.image.size for p in got[2:5]] == [pg.size for pg in pages]
    assert got[2].dpi == 150 and got[5].dpi is None and got[0].dpi == 50
    assert got[0].image.size == (100, 150)  # 200x300 px at 100 dpi = 2x3 in, rasterized at 50 dpi
    assert got[0].image.mode == "RGB" and got[3].image.getpixel((0, 0)) == (255, 215, 255)
    assert [name.rsplit("/", 1)[-1] for name, _ in inputs.skipped] == ["d.png"]
    assert "d.png" in inputs.skipped[0][1]

    (tmp_path / "pages.lst").write_text("c.png\nmissing.png\n\na.pdf\n")
    listed = PageInputs.from_inputs([f"@{tmp_path / 'pages.lst'}"])
    assert [p.page for p in listed] == [0, 0, 1]
    assert [name for name, _ in listed.skipped] == ["missing.png"]
    with pytest.raises(AksarError, match="outside the list's folder"):
        (tmp_path / "bad.lst").write_text("../elsewhere.png\n")
        PageInputs.from_inputs([tmp_path / "bad.lst"])


def test_a_corrupt_file_named_directly_is_an_error(tmp_path):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    with pytest.raises(AksarError, match="broken.pdf"):
        list(PageInputs.from_inputs([tmp_path / "broken.pdf"]))
    with pytest.raises(AksarError, match="nothing.png"):
        PageInputs.from_inputs([tmp_path / "nothing.png"])


# -- the Reader -----------------------------------------------------------------------------------------

def test_reader_reads_a_clean_page(reader, khmer_lines):
    page = synthetic_page(khmer_lines, columns=1, seed=3)
    doc = reader.read(Image.fromarray(page.image).convert("RGB"))
    assert len(doc.pages) == 1 and doc.models["recognizer"]["script"] == "khmer"
    assert doc.models["detector"]["path"]
    got = doc.pages[0]
    truth = "".join(ln.text for ln in page.lines)
    assert cer([squash(doc.text())], [squash(truth)]) < CLEAN_PAGE_CER
    assert (got.width, got.height) == page.image.shape[::-1]
    for line in got.lines:
        assert squash("".join(w.value for w in line.words)) == squash(line.text)
        x0, y0, x1, y1 = line.bbox
        for w in line.words:
            wx0, wy0, wx1, wy1 = bbox(w.polygon)
            assert x0 - 1 <= wx0 < wx1 <= x1 + 1 and y0 - 1 <= wy0 < wy1 <= y1 + 1
        assert 0 <= line.confidence <= 1
        cc = line.char_confidences  # greedy CTC: one per character, the line's confidence between them
        assert cc is not None and len(cc) == len(line.text) and all(0 <= c <= 1 for c in cc)
        assert min(cc) - 1e-6 <= line.confidence <= max(cc) + 1e-6


def test_lines_under_the_drop_score_are_left_out_and_counted(reader, recognizer, khmer_lines):
    """drop_score tests the greedy reading's confidence, so the LM changes what lines say, never which lines a
    page has or their order."""
    from aksar.infer.reader import Reader

    page = synthetic_page(khmer_lines, columns=2, seed=5).image.copy()
    page[40:46, 8:30] = 0  # a rule fragment and a speck in the margin, as scans have
    page[200:203, 690:693] = 0
    everything = Reader(det=reader.detector, rec=recognizer, drop_score=0.0)   # greedy
    lines = everything.read_page(page).lines
    scores = sorted(ln.confidence for ln in lines)
    assert len(scores) >= 4 and scores[0] < scores[-1]
    cut = (scores[1] + scores[2]) / 2  # drops the two least confident lines
    strict = Reader(det=reader.detector, rec=recognizer, drop_score=cut)
    kept = strict.read_page(page).lines
    assert sorted(ln.text for ln in kept) == sorted(ln.text for ln in lines if ln.confidence >= cut)
    assert strict.stats["low_confidence_lines"] == 2 and strict.stats["lines"] == len(lines) - 2
    assert everything.stats["low_confidence_lines"] == 0
    assert reader.recognizer.lm is not None
    with_lm = Reader(det=reader.detector, rec=reader.recognizer, drop_score=cut)
    assert [ln.polygon for ln in with_lm.read_page(page).lines] == [ln.polygon for ln in kept]
    assert with_lm.stats["low_confidence_lines"] == 2
    with pytest.raises(AksarError, match="drop_score"):
        Reader(det=reader.detector, rec=reader.recognizer, drop_score=1.5)


def test_reader_reads_two_columns_in_order(reader, khmer_lines):
    page = synthetic_page(khmer_lines, columns=2, seed=4)
    got = reader.read_page(page.image)
    assert len(got.blocks) >= 2
    # each true line -> the read line that covers most of it; their positions in the page must rise
    positions = []
    for true in page.lines:
        tx0, ty0, tx1, ty1 = true.polygon[0] + true.polygon[2]
        cover = [max(0, min(tx1, b[2]) - max(tx0, b[0])) * max(0, min(ty1, b[3]) - max(ty0, b[1]))
                 for b in (ln.bbox for ln in got.lines)]
        if max(cover) > 0:
            positions.append(int(np.argmax(cover)))
    assert len(positions) >= 0.9 * len(page.lines)
    assert positions == sorted(positions), positions
    assert cer([squash(got.text())], [squash("".join(ln.text for ln in page.lines))]) < CLEAN_PAGE_CER


def test_reader_reads_tiff_and_pdf_pages_in_order(reader, khmer_lines, tmp_path):
    images = [Image.fromarray(synthetic_page(khmer_lines, 1, seed=s).image).convert("RGB") for s in (5, 6)]
    images[0].save(tmp_path / "scan.tif", save_all=True, append_images=images[1:], dpi=(100, 100))
    images[0].save(tmp_path / "scan.pdf", "PDF", save_all=True, append_images=images[1:], resolution=100)
    from_tiff = reader.read(tmp_path / "scan.tif")
    from_pdf = reader.read([tmp_path / "scan.pdf"], dpi=100)
    for doc in (from_tiff, from_pdf):
        assert [(p.index, p.source_page, p.dpi) for p in doc.pages] == [(0, 0, 100), (1, 1, 100)]
    for a, b in zip(from_tiff.pages, from_pdf.pages):
        assert cer([squash(b.text())], [squash(a.text())]) < 0.1


def test_deadline_stops_reading(reader, khmer_lines):
    page = synthetic_page(khmer_lines, 1, seed=3)
    with pytest.raises(ReadTimeout):
        reader.read_page(page.image, deadline=time.monotonic() - 1)
    assert issubclass(ReadTimeout, AksarError)


def test_default_detector_is_the_zoo_detector_of_the_script(tmp_path):
    import json

    from aksar.models.zoo import default_detector

    for name, task, script in (("a_rec", "recognition", "khmer"), ("khmer_det_v1", "detection", "khmer")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "card.json").write_text(json.dumps(
            {"name": name, "task": task, "script": script, "file": "model.onnx", "sha256": "0", "size": 1}))
    assert default_detector("khmer", [tmp_path]).name == "khmer_det_v1"
    with pytest.raises(AksarError, match="--det"):
        default_detector("thai", [tmp_path])


def test_overlapping_pieces_of_a_line_merge_and_nothing_else_does():
    from aksar.infer.reader import merge_split_lines
    from aksar.infer.reading_order import split_line_groups
    from aksar.models.det_postprocess import Detection

    def det(x0, y0, x1, y1, score=0.9):
        return Detection(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32), score)

    pieces = [det(62, 425, 246, 446, 0.8), det(234, 422, 639, 449, 0.6)]    # one line split, seam overlapping
    stacked = [det(60, 460, 640, 482), det(60, 478, 640, 500)]               # two lines touching by 4 px
    apart = [det(700, 425, 900, 446), det(905, 425, 990, 446)]               # one row, a gap: two boxes
    tall = [det(60, 520, 640, 580), det(70, 522, 600, 548)]                  # a box spanning two lines' height
    boxes = [tuple(d.polygon.min(0)) + tuple(d.polygon.max(0)) for d in pieces + stacked + apart + tall]
    assert split_line_groups(boxes) == [[0, 1], [2], [3], [4], [5], [6], [7]]
    merged = merge_split_lines(pieces + stacked + apart + tall)
    assert len(merged) == 7
    xs, ys = merged[0].polygon[:, 0], merged[0].polygon[:, 1]
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == pytest.approx((62, 639, 422, 449), abs=1)
    assert merged[0].score == pytest.approx(0.7)
    assert [m.polygon.tolist() for m in merged[1:]] == [d.polygon.tolist() for d in stacked + apart + tall]


def test_pieces_of_a_justified_line_join_and_columns_and_cells_do_not():
    """A paragraph whose lines the detector cut at word spaces (one wide, one of 4 px) is read line by line, not
    as two columns; two real columns and a row of table cells, with no line across their gaps, stay apart."""
    from aksar.infer.reader import merge_split_lines
    from aksar.infer.reading_order import row_piece_groups
    from aksar.models.det_postprocess import Detection

    def det(x0, y0, x1, y1):
        return Detection(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32), 0.9)

    para = [det(60, 100, 940, 120),                          # 0: a whole line
            det(60, 130, 400, 150), det(470, 130, 940, 150),  # 1, 2: cut at a space 3.5 line heights wide
            det(60, 160, 480, 180), det(484, 160, 940, 180),  # 3, 4: cut at a 4 px space, under 2
            det(60, 190, 300, 210)]                           # 5: the paragraph's short last line
    columns = [det(x0, y, x0 + 420, y + 20) for y in (400, 430, 460) for x0 in (60, 520)]  # 6-11
    cells = [det(60, 600, 200, 620), det(300, 600, 500, 620), det(600, 600, 700, 620)]  # 12-14, nothing near
    dets = para + columns + cells
    boxes = upright_boxes([d.polygon for d in dets], 0.0)
    assert order_boxes(boxes[:6]) == [0, 1, 3, 5, 2, 4]  # left alone, the pieces read as two columns
    assert row_piece_groups(boxes) == [[0], [1, 2], [3, 4], [5]] + [[i] for i in range(6, 15)]
    merged = merge_split_lines(dets)
    assert len(merged) == len(dets) - 2
    spans = [(float(m.polygon[:, 0].min()), float(m.polygon[:, 0].max())) for m in merged[1:3]]
    assert spans == [pytest.approx((60, 940), abs=1)] * 2
    assert order_boxes(upright_boxes([m.polygon for m in merged[:4]], 0.0)) == [0, 1, 2, 3]
    assert [m.polygon.tolist() for m in merged[4:]] == [d.polygon.tolist() for d in columns + cells]
    # a caption over a ruled table spans the gap between two cells of its first row: joined only without the rule
    table = [det(100, 700, 900, 720), det(100, 740, 300, 760), det(330, 740, 900, 760)]
    table_boxes = upright_boxes([d.polygon for d in table], 0.0)
    assert row_piece_groups(table_boxes) == [[0], [1, 2]]
    assert row_piece_groups(table_boxes, rules=[(90.0, 910.0, 730.0)]) == [[0], [1], [2]]
    page = np.full((800, 1000), 255, np.uint8)
    cv2.line(page, (90, 730), (910, 730), 0, 2)                        # the rule, drawn on the page
    for y, (x0, x1) in ((705, (100, 900)), (745, (100, 300)), (745, (330, 900))):
        cv2.rectangle(page, (x0, y), (x1, y + 10), 0, -1)              # the lines' ink
    assert len(merge_split_lines(table)) == 2 and len(merge_split_lines(table, page)) == 3


def test_char_confidences_follow_the_final_text(recognizer):
    cs = recognizer.charset
    ids = [cs.index("ក"), cs.index("ា"), cs.index("ខ")]
    assert recognizer.char_confidences(ids, [0.9, 0.5, 0.7], "កាខ") == (0.9, 0.5, 0.7)
    assert recognizer.char_confidences(ids, [0.9, 0.5, 0.7], "កខ") == (0.9, 0.7)        # a mark dropped
    assert recognizer.char_confidences(ids, [0.9, 0.5, 0.7], "កាខ។") == pytest.approx((0.9, 0.5, 0.7, 0.7))
    assert recognizer.char_confidences(ids, None, "កាខ") is None                          # none given
    assert recognizer.char_confidences(ids, [0.9], "កាខ") is None                         # not one per token


def test_a_page_above_the_pixel_limit_is_refused_as_a_page(det_model, tmp_path):
    """Reader and Detector check pages with the page limit and say "page", never "crop the line"."""
    from aksar.infer.detector import Detector
    from aksar.infer.reader import Reader

    small = Reader(det=det_model, rec="khmer", threads=1, max_pixels=100_000)
    page = np.full((400, 300), 255, np.uint8)  # 120,000 pixels
    Image.fromarray(page).save(tmp_path / "page.png")
    for image in (tmp_path / "page.png", page, Image.fromarray(page).convert("RGBA")):
        with pytest.raises(AksarError, match=r"(too large|above the limit of 100000 pixels) for a page") as err:
            small.read_page(image, source="scan")
        assert "crop the line" not in str(err.value)
    assert small.read_page(page[:300]).lines == []          # 90,000 pixels: read (blank, no lines)
    with pytest.raises(AksarError, match="empty image"):
        Detector(det_model).detect_page(page[:0])
