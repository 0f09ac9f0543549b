"""Detection data readers: PaddleOCR lists and PAGE-XML written by generate_pages, ICDAR files, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aksar.core.errors import AksarError
from aksar.data.det_formats import (DetRegion, DetSample, read_icdar, read_icdar_dir, read_paddle_det,
                                    read_page_xml, write_paddle_det)


def test_paddle_list_and_page_xml_of_generated_pages_agree(khmer_pages, tmp_path):
    split = khmer_pages / "train"
    samples = read_paddle_det(split / "det_labels.txt")
    journal = {}
    for path in (split / ".journal").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            journal[rec["index"]] = rec
    assert len(samples) == 16
    for i, sample in enumerate(samples):
        assert sample.image == str(split / "images" / f"train_{i:06d}.png")
        assert [r.text for r in sample.regions] == [ln["text"] for ln in journal[i]["lines"]]
        assert not any(r.ignore for r in sample.regions)
        page = read_page_xml(split / "page" / f"train_{i:06d}.xml")
        assert page.image == str(split / "page" / ".." / "images" / f"train_{i:06d}.png")
        assert [r.text for r in page.regions] == [r.text for r in sample.regions]  # reading order kept
        for a, b in zip(page.regions, sample.regions):
            assert np.abs(a.polygon - b.polygon).max() <= 0.5 + 1e-9  # PAGE-XML points are integers
    # the writer gives the reader's input back
    copy = tmp_path / "copy.txt"
    write_paddle_det(copy, [DetSample(f"images/train_{i:06d}.png", s.regions) for i, s in enumerate(samples)])
    assert copy.read_text(encoding="utf-8") == (split / "det_labels.txt").read_text(encoding="utf-8")


def test_paddle_list_errors_name_file_and_line(tmp_path):
    path = tmp_path / "det.txt"
    good = 'a.png\t[{"transcription": "###", "points": [[0, 0], [9, 0], [9, 5], [0, 5]]}]'
    path.write_text(good + "\nb.png\t[{\"points\": [[0, 0]]}]\nc.png no tab\n", encoding="utf-8")
    with pytest.raises(AksarError, match=r"det\.txt:2: a polygon needs at least 3"):
        read_paddle_det(path)
    errors: list[str] = []
    samples = read_paddle_det(path, root="/data", errors=errors)
    assert len(samples) == 1 and samples[0].image == "/data/a.png" and samples[0].regions[0].ignore
    assert len(errors) == 2 and ":3:" in errors[1]


def test_icdar_with_bom_commas_and_dont_care(tmp_path):
    gt = tmp_path / "gt" / "gt_img_1.txt"
    gt.parent.mkdir()
    gt.write_bytes("\ufeff377,117,463,117,465,130,378,130,Genaxis Theatre\n"
                   "374,155,409,155,409,170,374,170,###\n"
                   "10,10,50,10,50,20,10,20,a,b\n".encode("utf-8"))
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "img_1.jpg").write_bytes(b"")
    s = read_icdar(gt)
    assert [r.text for r in s.regions] == ["Genaxis Theatre", "###", "a,b"]
    assert [r.ignore for r in s.regions] == [False, True, False]
    assert s.regions[0].polygon.tolist() == [[377, 117], [463, 117], [465, 130], [378, 130]]
    both = read_icdar_dir(tmp_path / "gt", tmp_path / "img")
    assert len(both) == 1 and both[0].image.endswith("img_1.jpg")
    gt.write_text("1,2,3\n", encoding="utf-8")
    with pytest.raises(AksarError, match=r"gt_img_1\.txt:1:"):
        read_icdar(gt)


def test_page_xml_2010_points_and_errors(tmp_path):
    ns = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2010-03-19"
    xml = tmp_path / "p.xml"
    xml.write_text(f"""<?xml version="1.0"?><PcGts xmlns="{ns}"><Page imageFilename="p.tif">
      <TextRegion id="r1"><Coords><Point x="0" y="0"/><Point x="9" y="0"/><Point x="9" y="9"/></Coords>
        <TextLine id="l1"><Coords><Point x="1" y="1"/><Point x="8" y="1"/><Point x="8" y="4"/><Point x="1" y="4"/>
          </Coords><TextEquiv><Unicode>ក្រ</Unicode></TextEquiv></TextLine>
        <TextLine id="l2"><TextEquiv><Unicode>x</Unicode></TextEquiv></TextLine>
      </TextRegion></Page></PcGts>""", encoding="utf-8")
    with pytest.raises(AksarError, match="l2 has no Coords"):
        read_page_xml(xml)
    errors: list[str] = []
    s = read_page_xml(xml, errors=errors)
    assert s.image == str(tmp_path / "p.tif") and len(errors) == 1
    assert s.regions[0].text == "ក្រ" and s.regions[0].polygon.shape == (4, 2)
    (tmp_path / "bad.xml").write_text("<PcGts><Page>", encoding="utf-8")
    with pytest.raises(AksarError, match="bad.xml"):
        read_page_xml(tmp_path / "bad.xml")
    assert DetRegion(np.zeros((3, 2))).ignore is False
