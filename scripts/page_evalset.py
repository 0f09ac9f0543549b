"""Make a small committed page evaluation set from an `aksar pages` split: the first N pages re-encoded
as JPEG (so the repository stays small), with their PaddleOCR detection list and PAGE-XML rewritten to
the new image names. The result is read by `aksar eval` (detectors, page reading) like any page set.

    python scripts/page_evalset.py PAGES_SPLIT_DIR OUT_DIR --pages 8 --quality 85
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("split_dir", type=Path, help="an `aksar pages` split folder (det_labels.txt, images/, page/)")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--quality", type=int, default=85)
    args = ap.parse_args()
    src, out = args.split_dir, args.out_dir
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out}: not empty; choose an empty folder")
    (out / "images").mkdir(parents=True)
    (out / "page").mkdir()
    labels = (src / "det_labels.txt").read_text(encoding="utf-8").splitlines()[: args.pages]
    rows = []
    for row in labels:
        rel, polys = row.split("\t", 1)
        name = Path(rel).stem
        with Image.open(src / rel) as im:
            buf = io.BytesIO()
            im.convert("L").save(buf, format="JPEG", quality=args.quality, optimize=True)
        (out / "images" / f"{name}.jpg").write_bytes(buf.getvalue())
        xml = (src / "page" / f"{name}.xml").read_text(encoding="utf-8")
        (out / "page" / f"{name}.xml").write_text(xml.replace(f"{name}.png", f"{name}.jpg"), encoding="utf-8")
        rows.append(f"images/{name}.jpg\t{polys}")
    (out / "det_labels.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    meta = src.parent / "pages_metadata.json"
    if meta.is_file():
        shutil.copyfile(meta, out / "source_pages_metadata.json")
    lines = sum(len(json.loads(r.split("\t", 1)[1])) for r in rows)
    print(f"{out}: {len(rows)} pages, {lines} lines")


if __name__ == "__main__":
    main()
