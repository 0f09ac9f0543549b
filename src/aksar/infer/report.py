"""Evaluation reports: JSON (everything) and a self-contained HTML page (images and plot embedded).

The HTML shows the metrics raw and folded side by side, error counts, breakdowns (font, length, ...),
a confusion plot (matplotlib, Agg), the confusion pairs, per-character accuracy and the worst lines
with their image, truth, prediction and a diff by grapheme cluster.
"""
from __future__ import annotations

import base64
import html
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from aksar.core.io import atomic_write_json, atomic_write_text
from aksar.infer.evaluate import LineResult, char_label
from aksar.text.graphemes import clusters
from aksar.text.metrics import edit_ops
from aksar.text.scripts import SCRIPTS

METRIC_LABELS = [
    ("cer", "CER (character error rate)", False),
    ("wer", "WER (space-separated tokens)", False),
    ("wer_segmented", "WER (segmenter words)", False),
    ("grapheme_cer", "Grapheme-cluster error rate", False),
    ("char_accuracy", "Character accuracy", True),
    ("line_accuracy", "Line (sequence) accuracy", True),
    ("norm_edit_distance", "Normalized edit distance (PaddleOCR)", True),
]

# The text font stack: the first two trusted fonts of every registered script.
_FONTS = ",".join(dict.fromkeys(f"'{f}'" for s in SCRIPTS.values() for f in s.reference_fonts[:2]))
CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:middle}
th{background:#f2f2f2} td.num{text-align:right;font-variant-numeric:tabular-nums}
.txt{font-size:1.35em;font-family:%s,sans-serif}
.del{background:#f8b4b4} .ins{background:#b4e6b4} .sub{background:#ffe08a}
img.line{max-height:48px;image-rendering:auto;border:1px solid #ddd}
.small{color:#666;font-size:.85em}
""" % _FONTS


def write_json(report: dict[str, Any], path: str | Path) -> None:
    atomic_write_json(path, report)


def png_b64(img: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{100 * v:.2f}%" if pct else f"{v:.4f}"
    return html.escape(str(v))


def diff_html(ref: str, pred: str) -> tuple[str, str]:
    """Truth and prediction as HTML with differing grapheme clusters highlighted
    (red: missing from the prediction, green: extra in it, yellow: substituted)."""
    r_out, p_out = [], []
    for op in edit_ops(clusters(ref), clusters(pred)):
        a = html.escape(op.a_item or "")
        b = html.escape(op.b_item or "")
        if op.op == "equal":
            r_out.append(a)
            p_out.append(b)
        elif op.op == "replace":
            r_out.append(f'<span class="sub">{a}</span>')
            p_out.append(f'<span class="sub">{b}</span>')
        elif op.op == "delete":
            r_out.append(f'<span class="del">{a}</span>')
        else:
            p_out.append(f'<span class="ins">{b}</span>')
    return "".join(r_out), "".join(p_out)


def confusion_plot(report: dict[str, Any], top: int = 20) -> str | None:
    """Base64 PNG: confusion pairs (ref -> pred) as a heatmap of the most confused characters and
    a bar chart of the top pairs; None when there are no errors."""
    pairs = report.get("confusions") or []
    if not pairs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    family = _plot_font(report.get("model", {}).get("script"), font_manager)
    pairs = pairs[:top]
    refs = sorted({p["ref"] for p in pairs}, key=lambda c: (c == "", c))
    preds = sorted({p["pred"] for p in pairs}, key=lambda c: (c == "", c))
    grid = np.zeros((len(refs), len(preds)), dtype=int)
    for p in pairs:
        grid[refs.index(p["ref"]), preds.index(p["pred"])] += p["count"]

    def label(c: str) -> str:  # U+2420 (the space symbol) is missing from most fonts
        return "space" if c == " " else char_label(c) if c else "∅"

    with plt.rc_context({"font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"]}), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # glyphs missing from the label font
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, max(4, 0.32 * max(len(refs), len(pairs)) + 1.5)))
        im = ax1.imshow(grid, cmap="Reds", aspect="auto")
        ax1.set_xticks(range(len(preds)), [label(c) for c in preds], fontsize=11)
        ax1.set_yticks(range(len(refs)), [label(c) for c in refs], fontsize=11)
        ax1.set_xlabel("predicted (∅ = deleted)")
        ax1.set_ylabel("truth (∅ = inserted)")
        ax1.set_title("Confusions among the top pairs")
        for (i, j), n in np.ndenumerate(grid):
            if n:
                ax1.text(j, i, str(n), ha="center", va="center", fontsize=8)
        fig.colorbar(im, ax=ax1, shrink=0.7)
        names = [f"{label(p['ref'])} → {label(p['pred'])}" for p in pairs][::-1]
        ax2.barh(range(len(pairs)), [p["count"] for p in pairs][::-1], color="#c0392b")
        ax2.set_yticks(range(len(pairs)), names, fontsize=10)
        ax2.set_xlabel("count")
        ax2.set_title("Top confusion pairs")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plot_font(script: str | None, font_manager: Any) -> str | None:
    """Register the script's first installed font with matplotlib; its family name, or None."""
    if not script:
        return None
    try:
        from aksar.render.fonts import discover_fonts

        fonts = discover_fonts(script)
        if not fonts:
            return None
        font_manager.fontManager.addfont(fonts[0].path)
        return font_manager.FontProperties(fname=fonts[0].path).get_name()
    except Exception:  # a plot label font is cosmetic; fall back to the default font
        return None


def html_table(headers: list[str], rows: list[list[str]], num_cols: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in num_cols else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_html(report: dict[str, Any], lines: list[LineResult], dataset: Any, path: str | Path,
               max_per_char: int = 60) -> None:
    """The readable report: self-contained HTML (images as base64 PNG)."""
    esc = html.escape
    model, ds = report["model"], report["dataset"]
    info = SCRIPTS.get(model.get("script") or "")
    lang = info.language if info is not None else ""
    parts = [f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>aksar eval: '
             f'{esc(Path(model["path"]).name)} on {esc(ds["path"])}</title><style>{CSS}</style></head><body>',
             f"<h1>aksar eval</h1><p>Model <b>{esc(model['path'])}</b> ({esc(model['backend'])}, "
             f"{esc(model['kind'])} {esc(model['name'])}, script {esc(str(model['script']))}, "
             f"{model['charset_size']} tokens, decoder {esc(model['decoder'])})<br>"
             f"Dataset <b>{esc(ds['path'])}</b>: {ds['evaluated']} lines evaluated of {ds['items']}; "
             f"skipped {ds['skipped_total']} {esc(str(ds['skipped'])) if ds['skipped'] else ''}; "
             f"labels changed by normalize: {ds['labels_changed_by_normalize']}; "
             f"predictions repaired: {report['counts']['repaired_predictions']}</p>"]
    raw, folded = report["metrics"]["raw"], report["metrics"]["folded"]
    rows = [[esc(label), _fmt(raw[k], not up), _fmt(folded[k], not up)] for k, label, up in METRIC_LABELS]
    parts.append("<h2>Metrics</h2>" + html_table(["metric", "raw", "folded (look-alike encodings)"], rows, {1, 2}))
    notes = report.get("metric_notes", {})
    parts.append("<p class='small'>" + "<br>".join(f"{esc(k)}: {esc(v)}" for k, v in notes.items()) + "</p>")
    e = report["errors"]
    parts.append("<h2>Errors</h2>" + html_table(["substitutions", "insertions", "deletions", "matched characters"],
                                            [[str(e["substitutions"]), str(e["insertions"]), str(e["deletions"]),
                                              str(e["matches"])]], {0, 1, 2, 3}))
    for field, brows in report.get("breakdown", {}).items():
        parts.append(f"<h3>By {esc(field)}</h3>" + html_table(
            [esc(field), "lines", "CER raw", "CER folded", "line accuracy"],
            [[esc(str(r["value"])), str(r["lines"]), _fmt(r["cer"], True), _fmt(r["cer_folded"], True),
              _fmt(r["line_accuracy"], True)] for r in brows], {1, 2, 3, 4}))
    plot = confusion_plot(report)
    if plot:
        parts.append(f'<h2>Confusions</h2><img alt="confusion plot" src="data:image/png;base64,{plot}">')
    for key, title in (("confusions", "Confusion pairs (code points)"),
                       ("cluster_confusions", "Confusion pairs (grapheme clusters)")):
        pairs = report.get(key) or []
        if pairs:
            parts.append(f"<h3>{title}</h3>" + html_table(
                ["truth", "prediction", "kind", "count", "code points"],
                [[f'<span class="txt">{esc(char_label(p["ref"]) if len(p["ref"]) < 2 else p["ref"])}</span>',
                  f'<span class="txt">{esc(char_label(p["pred"]) if len(p["pred"]) < 2 else p["pred"])}</span>',
                  p["kind"], str(p["count"]), esc(f'{p["ref_code"] or "-"} → {p["pred_code"] or "-"}')]
                 for p in pairs], {3}))
    per_char = report.get("per_char") or []
    if per_char:
        parts.append(f"<h2>Per-character accuracy</h2><p class='small'>lowest first, {min(len(per_char), max_per_char)}"
                     f" of {len(per_char)} characters; full list in the JSON report</p>" + html_table(
            ["char", "code", "count", "accuracy", "substituted", "deleted", "inserted (extra)"],
            [[f'<span class="txt">{esc(char_label(r["char"]))}</span>', r["code"], str(r["count"]),
              _fmt(r["accuracy"], True), str(r["substituted"]), str(r["deleted"]), str(r["inserted"])]
             for r in per_char[:max_per_char]], {2, 3, 4, 5, 6}))
    worst = report.get("worst_lines") or []
    if worst:
        rows = []
        for w in worst:
            item = dataset[w["index"]] if dataset is not None else None
            img = (f'<img class="line" src="data:image/png;base64,{png_b64(item["image"])}">'
                   if item is not None else "(image unavailable)")
            ref_html, pred_html = diff_html(w["ref"], w["pred"])
            rows.append([f"{esc(w['name'])}<br>{img}", f'<span class="txt">{ref_html}</span>',
                         f'<span class="txt">{pred_html}</span>', str(w["edits"]), _fmt(w["cer"], True),
                         f"{w['confidence']:.3f}"])
        parts.append("<h2>Worst lines</h2><p class='small'>diff by grapheme cluster: "
                     "<span class='del'>missing</span> <span class='ins'>extra</span> "
                     "<span class='sub'>substituted</span></p>" + html_table(
                         ["image", "truth", "prediction", "edits", "CER", "confidence"], rows, {3, 4, 5}))
    sp = report.get("speed", {})
    parts.append(f"<p class='small'>{sp.get('lines_per_second')} lines/s (prediction only), "
                 f"{sp.get('seconds')} s in all</p></body></html>")
    atomic_write_text(path, "\n".join(parts))


__all__ = ["write_json", "write_html", "confusion_plot", "diff_html", "png_b64", "html_table", "CSS"]
