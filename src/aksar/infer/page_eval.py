"""Page-level OCR evaluation: whole pages read (detect -> recognize -> order) against page ground truth.

Ground truth is any detection dataset that carries transcriptions in reading order
(:func:`aksar.data.det_dataset.read_det_dataset`: an ``aksar pages`` split, its PaddleOCR ``det_labels.txt``
or PAGE-XML folder). Both sides pass through ``aksar.text.normalize.normalize`` (the recognizer's script).

Per page (:func:`score_page`), from the ground-truth lines and the predicted lines (anything with
``.polygon`` and ``.text``, e.g. :class:`aksar.infer.document.Line`), both in reading order:

- **page CER** (whitespace-insensitive): edit distance between the page texts with ALL whitespace removed,
  over the ground-truth length; also by grapheme cluster, and after ``fold_visual``. Line breaks, word
  spaces and block gaps cost nothing; reading order does (a line read out of order is deleted and inserted).
  ``page_cer_gt_order`` first puts each predicted line at the ground-truth line it overlaps most (split
  lines in their own order, lines overlapping none last): the difference is what reading order costs.
- **line matching**: predicted lines matched one-to-one to ground-truth lines by polygon IoU > 0.5
  (:func:`aksar.data.det_metrics.match_image`, the detection metrics' ICDAR 2015 protocol: predictions
  mostly inside a don't-care region are dropped and their text does not count in the page text either);
  **line CER** over the matched pairs (code points, whitespace removed as for the page CER: engines differ in
  where they put spaces, e.g. Tesseract between Thai words), detection
  precision/recall/hmean, missed and false lines.

Dataset totals (:func:`page_metrics`) are micro-averaged: total edits over total reference characters.
:func:`evaluate_pages` runs a :class:`aksar.infer.reader.Reader` over a dataset; :func:`write_page_html`
draws each page (matched, missed and false lines) with truth and prediction of its lines, differences marked.
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from aksar.core.io import atomic_write_text
from aksar.data.det_formats import DetRegion
from aksar.text import metrics as M
from aksar.text.graphemes import clusters
from aksar.text.normalize import fold_visual, normalize


def without_whitespace(text: str) -> str:
    """``text`` with every whitespace character removed (spaces, tabs, line breaks, form feeds)."""
    return "".join(text.split())


def score_page(gt: Sequence[DetRegion], pred: Sequence[Any], script: str | None = None,
               iou: float = 0.5) -> dict[str, Any]:
    """The JSON-able score of one page: ``gt`` its ground-truth lines, ``pred`` the predicted lines (objects
    with ``.polygon`` and ``.text``), both in reading order. Texts are normalized for ``script``."""
    from aksar.data.det_metrics import match_image, most_overlapped, ratios

    gt_polys = [np.asarray(r.polygon, np.float64) for r in gt]
    ignore = [bool(r.ignore) for r in gt]
    pred_polys = [np.asarray(p.polygon, np.float64) for p in pred]
    refs = [normalize(r.text, script) for r in gt]
    hyps = [normalize(p.text, script) for p in pred]
    res = match_image(gt_polys, pred_polys, ignore, iou)
    dropped = set(res.dropped)
    ref_text = "\n".join(t for t, ign in zip(refs, ignore) if not ign)
    pred_text = "\n".join(t for j, t in enumerate(hyps) if j not in dropped)
    ref_flat, pred_flat = without_whitespace(ref_text), without_whitespace(pred_text)
    # the predicted lines rearranged into the ground truth's order: each at the truth line it overlaps most
    # (split lines keep their own order), lines overlapping none after all others
    at = most_overlapped(gt_polys, pred_polys)
    live = [j for j in range(len(hyps)) if j not in dropped]
    by_gt = sorted(live, key=lambda j: (at[j] is None, at[j] or 0, j))
    gt_order_flat = without_whitespace("".join(hyps[j] for j in by_gt))
    pairs = [{"gt": i, "pred": j, "iou": v, "ref": refs[i], "text": hyps[j],
              "edits": M.edit_distance(without_whitespace(refs[i]), without_whitespace(hyps[j]))}
             for i, j, v in res.matched]
    return {
        "gt": res.gt_care, "pred": res.pred_care, "matched": len(res.matched), "missed": res.missed,
        "false": res.false, "dropped": res.dropped,
        "hmean": round(ratios(len(res.matched), res.gt_care, res.pred_care)["hmean"], 4),
        "chars": len(ref_flat), "edits": M.edit_distance(ref_flat, pred_flat),
        "clusters": len(clusters(ref_flat)), "cluster_edits": M.edit_distance(clusters(ref_flat), clusters(pred_flat)),
        "gt_order_edits": M.edit_distance(ref_flat, gt_order_flat),
        "folded_chars": len(fold_visual(ref_flat, script)),
        "folded_edits": M.edit_distance(fold_visual(ref_flat, script), fold_visual(pred_flat, script)),
        "line_chars": sum(len(without_whitespace(p["ref"])) for p in pairs),
        "line_edits": sum(p["edits"] for p in pairs),
        "cer": M.error_rate(M.edit_distance(ref_flat, pred_flat), len(ref_flat)),
        "ref_text": ref_text, "pred_text": pred_text, "pairs": pairs,
        "missed_text": [refs[i] for i in res.missed], "false_text": [hyps[j] for j in res.false],
        "gt_polygons": [g.round(1).tolist() for g in gt_polys], "ignore": ignore,
        "pred_polygons": [p.round(1).tolist() for p in pred_polys],
    }


def page_metrics(pages: Sequence[dict[str, Any]], iou: float = 0.5) -> dict[str, Any]:
    """Dataset totals of :func:`score_page` records (micro averages; ``page_cer_mean`` is the plain mean)."""
    from aksar.data.det_metrics import ratios

    def total(key: str) -> int:
        return sum(int(p[key]) for p in pages)

    matched, gt, pred = total("matched"), total("gt"), total("pred")
    return {
        "page_cer": M.error_rate(total("edits"), total("chars")),
        "page_grapheme_cer": M.error_rate(total("cluster_edits"), total("clusters")),
        "page_cer_folded": M.error_rate(total("folded_edits"), total("folded_chars")),
        "page_cer_mean": sum(p["cer"] for p in pages) / len(pages) if pages else 0.0,
        "page_cer_gt_order": M.error_rate(total("gt_order_edits"), total("chars")),
        "line_cer": M.error_rate(total("line_edits"), total("line_chars")),
        "detection": {**ratios(matched, gt, pred), "matched": matched, "gt": gt, "pred": pred, "iou": iou},
        "missed_lines": gt - matched, "false_lines": pred - matched,
        "chars": total("chars"), "edits": total("edits"), "pages": len(pages),
    }


METRIC_NOTES = {
    "page_cer": "edit distance of the page texts (reading order) with all whitespace removed / reference "
                "characters, summed over pages",
    "page_grapheme_cer": "the same over grapheme clusters",
    "page_cer_folded": "the same after aksar.text.normalize.fold_visual (look-alike encodings folded)",
    "page_cer_mean": "mean of the per-page CERs",
    "page_cer_gt_order": "page_cer with each predicted line put at the ground-truth line it overlaps most "
                         "(lines overlapping none last): what is left without reading-order errors",
    "line_cer": "CER over predicted lines matched to ground-truth lines (IoU > 0.5), whitespace removed",
    "detection": "precision, recall and hmean of the line polygons at IoU > 0.5 (ICDAR 2015 protocol)",
}


def evaluate_pages(reader: Any, data: str | Path, script: str | None = None, max_pages: int | None = None,
                   progress: bool = True, allow_outside_root: bool = False,
                   models: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report of ``reader`` (a :class:`aksar.infer.reader.Reader`) reading every page of ``data``.

    Each page's time is that of ``reader.read_page(image_path)``: decoding, detection, recognition, order."""
    from tqdm import tqdm

    from aksar.data.det_dataset import read_det_dataset

    samples = read_det_dataset(str(data), key="DATA", allow_outside_root=allow_outside_root)
    if max_pages:
        samples = samples[:max_pages]
    pages = []
    for k, sample in enumerate(tqdm(samples, desc="pages", unit="page", disable=not progress, dynamic_ncols=True)):
        t0 = time.perf_counter()
        page = reader.read_page(sample.image, index=k, source=sample.image)
        elapsed = time.perf_counter() - t0
        pages.append({"image": str(sample.image), "seconds": round(elapsed, 4),
                      **score_page(sample.regions, page.lines, script)})
    return page_report(pages, data, script, models)


def page_report(pages: list[dict[str, Any]], data: str | Path, script: str | None = None,
                models: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report of scored pages (:func:`score_page` records with ``image`` and ``seconds``)."""
    seconds = sum(p["seconds"] for p in pages)
    return {
        "task": "page",
        "models": models or {},
        "dataset": {"path": str(data), "pages": len(pages), "gt_lines": sum(p["gt"] for p in pages),
                    "dont_care": sum(sum(p["ignore"]) for p in pages), "script": script},
        "metrics": page_metrics(pages),
        "metric_notes": METRIC_NOTES,
        "speed": {"seconds_reading": round(seconds, 3),
                  "seconds_per_page": round(seconds / max(1, len(pages)), 3),
                  "pages_per_second": round(len(pages) / seconds, 3) if seconds > 0 else None},
        "pages": pages,
    }


def _line_rows(page: dict[str, Any]) -> list[list[str]]:
    """Table rows of a page's lines in ground-truth order: matched pairs diffed, missed and false lines."""
    from aksar.infer.report import diff_html

    esc = html.escape
    rows: list[tuple[int, list[str]]] = []
    for p in page["pairs"]:
        ref_html, pred_html = diff_html(p["ref"], p["text"])
        rows.append((p["gt"], [str(p["gt"]), f'<span class="txt">{ref_html}</span>',
                               f'<span class="txt">{pred_html}</span>', str(p["edits"]), f"{p['iou']:.2f}"]))
    for i, text in zip(page["missed"], page["missed_text"]):
        rows.append((i, [str(i), f'<span class="txt del">{esc(text)}</span>', "(missed)", str(len(text)), ""]))
    false = [["", "(false)", f'<span class="txt ins">{esc(t)}</span>', str(len(t)), ""] for t in page["false_text"]]
    return [r for _, r in sorted(rows, key=lambda t: t[0])] + false


def write_page_html(report: dict[str, Any], path: str | Path, max_pages: int = 20) -> None:
    """The readable report: metrics, then the worst pages (highest page CER first), each drawn with its
    lines (matched green, missed orange, false red) and its lines' truth and prediction, differences marked."""
    from aksar.infer.det_eval import draw_page
    from aksar.infer.report import CSS, html_table, png_b64

    esc = html.escape
    m, ds, sp = report["metrics"], report["dataset"], report["speed"]
    det = m["detection"]
    names = ", ".join(f"{k} {esc(str(v.get('path', v)) if isinstance(v, dict) else str(v))}"
                      for k, v in report.get("models", {}).items())
    parts = [f'<!doctype html><html><head><meta charset="utf-8"><title>aksar eval (pages) on {esc(ds["path"])}'
             f"</title><style>{CSS}</style></head><body>",
             f"<h1>aksar eval (pages)</h1><p>Models: <b>{names}</b><br>Dataset <b>{esc(ds['path'])}</b>: "
             f"{ds['pages']} pages, {ds['gt_lines']} lines ({ds['dont_care']} don't care)</p>",
             "<h2>Metrics</h2>" + html_table(
                 ["page CER", "page grapheme CER", "page CER folded", "page CER in truth's order",
                  "line CER (matched)", "detection hmean", "precision", "recall", "missed lines", "false lines"],
                 [[f"{100 * m[k]:.2f}%" for k in ("page_cer", "page_grapheme_cer", "page_cer_folded",
                                                  "page_cer_gt_order", "line_cer")]
                  + [f"{det[k]:.4f}" for k in ("hmean", "precision", "recall")]
                  + [str(m["missed_lines"]), str(m["false_lines"])]], set(range(10))),
             "<p class='small'>" + "<br>".join(f"{esc(k)}: {esc(v)}" for k, v in report["metric_notes"].items())
             + f"<br>{sp['seconds_per_page']} s per page (decoding, detection, recognition, order)</p>",
             "<h2>Pages</h2><p class='small'>worst first; lines: <span style='color:#00a000'>matched</span>, "
             "<span style='color:#eb7800'>missed</span>, <span style='color:#dc0000'>false</span>, "
             "<span style='color:#969696'>don't care</span>; text diff by grapheme cluster: "
             "<span class='del'>missing</span> <span class='ins'>extra</span> "
             "<span class='sub'>substituted</span></p>"]
    for page in sorted(report["pages"], key=lambda p: (-p["cer"], p["image"]))[:max_pages]:
        parts.append(f"<h3>{esc(Path(page['image']).name)}: page CER {100 * page['cer']:.2f}%, "
                     f"{page['matched']} of {page['gt']} lines matched, {len(page['missed'])} missed, "
                     f"{len(page['false'])} false, {page['seconds']} s</h3>"
                     f'<img alt="page" src="data:image/png;base64,{png_b64(draw_page(page))}">'
                     + html_table(["line", "truth", "prediction", "edits", "IoU"], _line_rows(page), {3, 4}))
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))


__all__ = ["without_whitespace", "score_page", "page_metrics", "evaluate_pages", "page_report", "write_page_html",
           "METRIC_NOTES"]
