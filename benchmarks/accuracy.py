"""Accuracy that tells the truth: aksar and Tesseract 5 on the SAME lines of the fixed evaluation sets,
in one run, one thread each.

    python benchmarks/accuracy.py --evalset eval/khmer --model runs/x/checkpoints/best.pt --out acc.json
    python benchmarks/accuracy.py --evalset eval/thai            # Tesseract only

``--evalset`` is a folder built by ``aksar evalset build`` (every set in its manifest) or one set folder
(labels.tsv); repeatable. Per set and engine: CER raw and folded (``fold_visual``), each also with spaces
removed, line accuracy, lines/s on one thread, and the speed ratio aksar/Tesseract. Engines, timing and
scoring are those of ``benchmarks/infer.py`` (shared in ``benchmarks/engines.py``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from engines import TESSERACT_LANGS, load_lines, onnx_model, run_aksar, run_tesseract, score, tesseract_version


def set_dirs(evalset: str) -> list[tuple[str, Path, str | None]]:
    """(set name, folder, script from the manifest) of an evaluation-set root or a single set folder."""
    root = Path(evalset)
    manifest = root / "manifest.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        return [(name, root / name, m.get("script")) for name in m["sets"]]
    if (root / "labels.tsv").is_file():
        parent = root.parent / "manifest.json"
        script = json.loads(parent.read_text(encoding="utf-8")).get("script") if parent.is_file() else None
        return [(root.name, root, script)]
    raise SystemExit(f"{root}: neither an evaluation set (manifest.json) nor a set folder (labels.tsv)")


def run(sets: list[tuple[str, Path, str | None]], model: Path | None, script: str | None, lang: str | None,
        per_image: bool, batch_size: int, max_lines: int | None, workdir: Path,
        lm_options: dict | None = None) -> list[dict]:
    rows = []
    onnx_path = onnx_model(model, workdir, "model") if model else None
    for name, folder, set_script in sets:
        sc = script or set_script
        images, refs, paths = load_lines(folder, max_lines)
        row: dict = {"set": name, "lines": len(refs), "script": sc}
        if onnx_path:
            preds, secs, rec = run_aksar(onnx_path, images, batch_size)
            sc = sc or rec.script
            row["aksar"] = {**score(preds, refs, sc), "lines_per_s": len(refs) / secs, "seconds": secs,
                            "model": rec.info.name}
            if lm_options:
                preds, secs, rec = run_aksar(onnx_path, images, batch_size, **lm_options)
                row["aksar+lm"] = {**score(preds, refs, sc), "lines_per_s": len(refs) / secs, "seconds": secs,
                                   "lm": rec.describe()["lm"], "beam_width": rec.beam_width}
        tess_lang = lang if lang is not None else TESSERACT_LANGS.get(sc or "")
        if tess_lang:
            texts, secs = run_tesseract(tess_lang, paths, per_image, workdir)
            row["tesseract"] = {**score(texts, refs, sc), "lines_per_s": len(refs) / secs, "seconds": secs,
                                "lang": tess_lang}
        if "aksar" in row and "tesseract" in row:
            row["speed_ratio"] = row["aksar"]["lines_per_s"] / row["tesseract"]["lines_per_s"]
        rows.append(row)
        print(f"{name}: " + json.dumps({k: v for k, v in row.items() if k != "set"}), file=sys.stderr)
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| set | lines | engine | CER | CER folded | CER no spaces | CER folded, no spaces | line acc. "
           "| lines/s (1 thread) | aksar speed / Tesseract |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        for engine in ("aksar", "aksar+lm", "tesseract"):
            e = r.get(engine)
            if not e:
                continue
            ratio = f"{r['speed_ratio']:.1f}x" if engine == "aksar" and "speed_ratio" in r else ""
            out.append(f"| {r['set']} | {r['lines']} | {engine} | {100 * e['cer']:.2f}% | "
                       f"{100 * e['cer_folded']:.2f}% | {100 * e['cer_nospace']:.2f}% | "
                       f"{100 * e['cer_folded_nospace']:.2f}% | {100 * e['line_accuracy']:.1f}% | "
                       f"{e['lines_per_s']:.1f} | {ratio} |")
    return "\n".join(out) + "\n"


def lm_options(args: argparse.Namespace) -> dict | None:
    if not args.lm:
        return None
    extra = {"lm_weight": args.lm_weight, "lm_bonus": args.lm_bonus, "beam_width": args.beam_width}
    return {"lm": args.lm, **{k: v for k, v in extra.items() if v is not None}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evalset", action="append", required=True,
                    help="evaluation-set root (eval/khmer) or one set folder; repeatable")
    ap.add_argument("--model", default=None, help="checkpoint or .onnx (default: Tesseract only)")
    ap.add_argument("--script", default=None, help="khmer|thai (default: from the manifest or the model)")
    ap.add_argument("--tesseract-lang", default=None, help="default: khm/tha from the script; '' to skip")
    ap.add_argument("--tesseract-per-image", action="store_true", help="one tesseract process per image")
    ap.add_argument("--max-lines", type=int, default=None, help="at most this many lines per set")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lm", default=None, metavar="FILE", help="also score aksar with this language model "
                    "(beam search; row aksar+lm)")
    ap.add_argument("--lm-weight", type=float, default=None)
    ap.add_argument("--lm-bonus", type=float, default=None)
    ap.add_argument("--beam-width", type=int, default=None)
    ap.add_argument("--out", dest="json", default=None, metavar="FILE", help="write the results here as JSON")
    ap.add_argument("--json", dest="json", default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # old spelling
    args = ap.parse_args(argv)
    sets = [s for e in args.evalset for s in set_dirs(e)]
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(sets, Path(args.model) if args.model else None, args.script, args.tesseract_lang,
                   args.tesseract_per_image, args.batch_size, args.max_lines, Path(tmp), lm_options(args))
    if not any("aksar" in r or "tesseract" in r for r in rows):
        raise SystemExit("nothing to score: give --model or a Tesseract language")
    text = markdown(rows)
    print(f"Command: `python benchmarks/{Path(__file__).name} {' '.join(argv if argv is not None else sys.argv[1:])}`"
          f"\n{tesseract_version()}; one thread each (onnxruntime intra_op=1; OMP_THREAD_LIMIT=1); "
          f"aksar's time: the median of 3 reads of each set, Tesseract's: one\n\n{text}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "tesseract": tesseract_version()}, indent=2,
                                              ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
