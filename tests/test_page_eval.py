"""Page-level evaluation: page CER without whitespace, CER of IoU-matched lines, detection counts, ground truth
read in reading order from an `aksar pages` set, the HTML report and `aksar eval DATA --det --rec`."""
from __future__ import annotations

import json

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from aksar.data.det_formats import DetRegion, PageLine, PageRegion, page_xml, read_page_xml
from aksar.infer.document import Line
from aksar.infer.page_eval import page_metrics, page_report, score_page, without_whitespace, write_page_html

CONSONANTS = "កខគឃងចឆជឈញដឋឌឍណតថទធន"  # 20 Khmer consonants: nothing for normalize to change


def box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def gt_lines(*texts: str, ignore: tuple[int, ...] = ()) -> list[DetRegion]:
    """One ground-truth line per text, 200x20 px, stacked 30 px apart."""
    return [DetRegion(np.asarray(box(0, 30 * k, 200, 30 * k + 20), np.float64), t, k in ignore)
            for k, t in enumerate(texts)]


def read_as(regions: list[DetRegion], *texts: str) -> list[Line]:
    """Predicted lines on the ground truth's polygons with the given texts."""
    return [Line(r.polygon.tolist(), t, 1.0) for r, t in zip(regions, texts)]


def test_one_substitution_in_twenty_characters():
    first, second = CONSONANTS[:12], CONSONANTS[12:]
    gt = gt_lines(first, second)
    wrong = second[:3] + CONSONANTS[0] + second[4:]
    assert len(first + second) == 20 and wrong != second
    s = score_page(gt, read_as(gt, first, wrong), "khmer")
    assert s["chars"] == 20 and s["edits"] == 1 and s["cer"] == pytest.approx(1 / 20)
    assert s["matched"] == 2 and s["missed"] == [] and s["false"] == []
    assert s["line_edits"] == 1 and s["line_chars"] == 20


def test_whitespace_and_line_breaks_cost_nothing_on_the_page():
    gt = gt_lines(CONSONANTS[:10] + " " + CONSONANTS[10:15], CONSONANTS[15:])
    pred = read_as(gt, " ".join(CONSONANTS[:8]), "\t" + CONSONANTS[8:15] + "\n" + CONSONANTS[15:] + "  ")
    s = score_page(gt, pred, "khmer")
    assert s["cer"] == 0.0 and s["edits"] == 0 and s["cluster_edits"] == 0 and s["folded_edits"] == 0
    assert s["line_edits"] > 0  # lines are compared with their spaces (and the break moved text across lines)
    assert without_whitespace(s["pred_text"]) == without_whitespace(s["ref_text"]) == CONSONANTS


def test_a_missed_line_is_all_deletions():
    gt = gt_lines(CONSONANTS[:15], CONSONANTS[15:])
    s = score_page(gt, read_as(gt, CONSONANTS[:15]), "khmer")
    assert s["cer"] == pytest.approx(5 / 20)
    assert s["missed"] == [1] and s["missed_text"] == [CONSONANTS[15:]] and s["line_edits"] == 0
    m = page_metrics([s])
    assert m["missed_lines"] == 1 and m["false_lines"] == 0 and m["line_cer"] == 0.0
    assert m["detection"]["recall"] == 0.5 and m["detection"]["precision"] == 1.0


def test_a_split_line_matches_nothing_but_reads_right():
    gt = gt_lines(CONSONANTS)
    halves = [Line(box(0, 0, 95, 20), CONSONANTS[:10], 1.0), Line(box(105, 0, 200, 20), CONSONANTS[10:], 1.0)]
    s = score_page(gt, halves, "khmer")
    assert s["cer"] == 0.0 and s["matched"] == 0 and s["missed"] == [0] and s["false"] == [0, 1]
    assert s["gt_order_edits"] == 0  # both halves sit on the line they split, in their own order
    assert s["line_chars"] == 0 and page_metrics([s])["line_cer"] == 0.0
    assert page_metrics([s])["detection"]["hmean"] == 0.0


def test_reading_order_counts_on_the_page_not_in_lines():
    a, b = CONSONANTS[:10], CONSONANTS[10:]
    gt = gt_lines(a, b)
    pred = read_as(gt, a, b)[::-1] + [Line(box(300, 0, 340, 20), "ឥ", 1.0)]  # wrong order; one line off the truth
    s = score_page(gt, pred, "khmer")
    assert s["line_edits"] == 0 and s["matched"] == 2
    assert s["edits"] == Levenshtein.distance(a + b, b + a + "ឥ") >= 10 and s["false"] == [2]
    assert s["gt_order_edits"] == 1 and page_metrics([s])["page_cer_gt_order"] == pytest.approx(1 / 20)


def test_dont_care_lines_and_their_predictions_do_not_count():
    gt = gt_lines(CONSONANTS[:10], "###", ignore=(1,))
    pred = read_as(gt, CONSONANTS[:10], "ឥឦឧ")
    s = score_page(gt, pred, "khmer")
    assert s["gt"] == 1 and s["dropped"] == [1] and s["cer"] == 0.0 and s["chars"] == 10


def test_dataset_totals_are_micro_averaged():
    gt1, gt2 = gt_lines(CONSONANTS[:4]), gt_lines(CONSONANTS)
    p1 = score_page(gt1, read_as(gt1, CONSONANTS[:3]), "khmer")        # 1 of 4
    p2 = score_page(gt2, read_as(gt2, CONSONANTS[:18]), "khmer")       # 2 of 20
    m = page_metrics([p1, p2])
    assert m["page_cer"] == pytest.approx(3 / 24) and m["page_cer_mean"] == pytest.approx((1 / 4 + 2 / 20) / 2)
    assert m["line_cer"] == pytest.approx(3 / 24) and m["detection"]["matched"] == 2 and m["pages"] == 2


def test_page_xml_is_read_in_its_reading_order(tmp_path):
    """Regions in document order r0, r1 but ReadingOrder r1 then r0; lines of r1 indexed in reverse."""
    xml = page_xml("page.png", 100, 100, [
        PageRegion("paragraph", box(0, 0, 50, 50), [PageLine("A", box(0, 0, 50, 10))]),
        PageRegion("paragraph", box(0, 60, 50, 99), [PageLine("B", box(0, 60, 50, 70)), PageLine("C", box(0, 80, 50, 90))])])
    xml = (xml.replace('index="0" regionRef="r0"', 'index="9" regionRef="r0"')
              .replace('id="r1l0" custom="readingOrder {index:0;}"', 'id="r1l0" custom="readingOrder {index:5;}"'))
    assert xml.index('"r0"') < xml.index('"r1"') and "index:5" in xml
    (tmp_path / "p.xml").write_text(xml, encoding="utf-8")
    assert [r.text for r in read_page_xml(tmp_path / "p.xml").regions] == ["C", "B", "A"]


@pytest.fixture(scope="module")
def one_page(tmp_path_factory, khmer_corpus_dir):
    """A tiny `aksar pages` set of one Khmer validation page."""
    from fixtures.pages import tiny_pages_config

    from aksar.data.pages import generate_pages

    out = tmp_path_factory.mktemp("page_eval") / "pages"
    generate_pages(tiny_pages_config(khmer_corpus_dir, out, splits=["val"], pages={"val": 1}, contact_pages=0))
    return out / "val"


def test_ground_truth_of_an_aksar_pages_set(one_page, tmp_path):
    from aksar.data.det_dataset import read_det_dataset

    [paddle] = read_det_dataset(str(one_page))
    [xml] = read_det_dataset(str(one_page / "page"))
    texts = [r.text for r in paddle.regions]
    assert len(texts) >= 2 and all(t.strip() for t in texts)
    assert [r.text for r in xml.regions] == texts  # both files, the same lines in the same (reading) order
    journal = [json.loads(x) for f in sorted((one_page / ".journal").glob("*.jsonl")) for x in f.read_text().split("\n") if x]
    lines = sorted(journal[0]["lines"], key=lambda ln: ln["order"])
    assert [ln["text"] for ln in lines] == texts  # the renderer's own reading order
    s = score_page(xml.regions, [Line(r.polygon.tolist(), r.text, 1.0) for r in paddle.regions], "khmer")
    assert s["cer"] == 0.0 and s["matched"] == len(texts) and s["chars"] > 0
    s["image"], s["seconds"] = paddle.image, 0.5
    report = page_report([s], one_page, "khmer", {"detector": {"path": "truth"}})
    write_page_html(report, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1 and texts[0].split()[0] in page
    assert report["metrics"]["page_cer"] == 0.0 and report["speed"]["seconds_per_page"] == 0.5


def test_report_marks_differences_of_a_wrong_line(one_page, tmp_path):
    from aksar.data.det_dataset import read_det_dataset

    [sample] = read_det_dataset(str(one_page))
    pred = [Line(r.polygon.tolist(), r.text, 1.0) for r in sample.regions]
    pred[0].text = CONSONANTS[:3] + pred[0].text[3:]
    del pred[-1]
    s = score_page(sample.regions, pred, "khmer")
    assert s["missed"] == [len(sample.regions) - 1] and s["edits"] > 0
    s["image"], s["seconds"] = sample.image, 0.1
    write_page_html(page_report([s], one_page, "khmer"), tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'class="sub"' in html or 'class="ins"' in html
    assert "(missed)" in html


def test_cli_refuses_a_recognizer_as_detector(one_page, run_cli, tmp_path):
    proc = run_cli(["eval", one_page, "--det", "khmer", "--rec", "khmer", "--output-dir", tmp_path / "r"])
    assert proc.returncode == 2 and "not a text-line detector" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["eval", one_page, "--det", tmp_path / "none.onnx", "--rec", "khmer"])
    assert proc.returncode == 2 and "none.onnx" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_eval_reads_whole_pages(one_page, run_cli, tmp_path):
    from aksar.data.det_dataset import read_det_dataset
    from aksar.text.normalize import normalize

    out = tmp_path / "report"
    proc = run_cli(["eval", one_page, "--det", "khmer_det", "--rec", "khmer", "--threads", "1",
                    "--output-dir", out, "--no-progress"])
    assert proc.returncode == 0, proc.stderr
    assert "page CER" in proc.stdout and "1 pages" in proc.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    [page] = report["pages"]
    [sample] = read_det_dataset(str(one_page))
    ref = "".join(normalize(r.text, "khmer") for r in sample.regions).replace(" ", "")
    assert "".join(page["ref_text"].split()) == ref
    pred = "".join(page["pred_text"].split())
    assert report["metrics"]["page_cer"] == pytest.approx(Levenshtein.distance(ref, pred) / len(ref))
    assert report["metrics"]["page_cer"] < 0.5 and page["matched"] > 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 1 and "truth" in html
