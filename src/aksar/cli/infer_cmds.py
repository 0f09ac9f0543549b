"""`aksar eval`, `aksar export` and `aksar predict`: measure, export and run trained models."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from aksar.cli.flags import add_config, resolve
from aksar.core.errors import AksarError
from aksar.infer.config import EvalRunConfig, ExportConfig, InferConfig, PredictConfig

log = logging.getLogger(__name__)


def _add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", nargs="?", default=None,
                   help="checkpoint (.pt or run directory), exported .onnx, or a shipped model's name (aksar models)")
    p.add_argument("--model", dest="model_name", metavar="NAME_OR_PATH",
                   help="the model by name or path (instead of MODEL), e.g. --model khmer")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint or .onnx model on a dataset (JSON + HTML report)",
                       description="A recognizer on line images: CER, WER, grapheme CER, confusions. A text-line "
                                   "detector on pages (a PaddleOCR detection list, PAGE-XML or ICDAR folder): "
                                   "precision, recall and hmean at IoU 0.5, pages drawn with matched, missed "
                                   "and false lines. Both (--det and --rec) on pages with transcriptions (an "
                                   "aksar pages split): whole pages read, page CER without whitespace, CER of "
                                   "matched lines, detection precision/recall/hmean.")
    _add_model_arg(p)
    p.add_argument("--det", metavar="NAME_OR_PATH",
                   help="a text-line detector: with a recognizer (--rec, --model or MODEL), read whole pages")
    p.add_argument("--rec", metavar="NAME_OR_PATH", help="the recognizer of page reading (as --model)")
    p.add_argument("data", metavar="DATA", help="dataset: a folder with labels.tsv, a label list (- = stdin), "
                                                "LMDB, a split of the pre-generated layout, or a tesstrain, "
                                                "trdg or docTR folder; for a detector, page data")
    add_config(p, EvalRunConfig, fields=["output_dir", "eval.*", "infer.*"], aliases={"output_dir": ["--out-dir"]},
               progress=True)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("export", help="export a checkpoint to ONNX (self-sufficient, parity-checked)")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint file or run directory")
    add_config(p, ExportConfig, required=("out",))
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="recognise line images with a checkpoint or .onnx model")
    _add_model_arg(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="images, folders of images, or list files (labels.tsv or one path per line; "
                        "- reads a list from stdin)")
    add_config(p, PredictConfig, fields=["out", "skip_bad", "allow_outside_root", "infer.*"],
               formats=("tsv", "json"), progress=True)
    p.set_defaults(func=cmd_predict)


def _model_arg(args: argparse.Namespace) -> str:
    """The model named by MODEL or --model; with --model, a MODEL positional of `predict` is an input."""
    if args.model_name and args.model:
        if not hasattr(args, "inputs"):
            raise AksarError(f"two models given ({args.model!r} and --model {args.model_name!r}); give one")
        args.inputs = [args.model, *args.inputs]  # `predict --model khmer a.png b.png`: MODEL was an input
        args.model = None
    model = args.model_name or args.model
    if not model:
        raise AksarError("no model given: pass MODEL (a path or a shipped model's name) or --model NAME")
    return model


def _recognizer(args: argparse.Namespace, cfg: InferConfig, model: str | None = None):
    from aksar.infer.recognizer import Recognizer

    model = model or _model_arg(args)
    return Recognizer(model, device=cfg.device, threads=cfg.threads, decoder=cfg.decoder,
                      beam_width=cfg.beam_width, batch_size=cfg.batch_size, lm=cfg.lm,
                      lm_weight=cfg.lm_weight, lm_bonus=cfg.lm_bonus)


def cmd_eval(args: argparse.Namespace) -> int:
    from aksar.infer.evaluate import evaluate
    from aksar.infer.report import write_html, write_json

    from aksar.infer.det_eval import is_detector

    cfg = resolve(args)
    det, rec = _page_models(args)
    if det and rec:
        return _eval_pages(args, cfg, det, rec)
    if det or rec:
        args.model, args.model_name = det or rec, None
    if is_detector(_model_arg(args)):
        return _eval_detector(args, cfg)
    rec = _recognizer(args, cfg.infer)
    report, lines, dataset = evaluate(rec, args.data, cfg.eval, progress=args.progress)
    out = Path(cfg.output_dir)
    write_json(report, out / "report.json")
    write_html(report, lines, dataset, out / "report.html")
    raw, folded = report["metrics"]["raw"], report["metrics"]["folded"]
    print(f"{report['dataset']['evaluated']} lines ({report['dataset']['skipped_total']} skipped), "
          f"{report['speed']['lines_per_second']} lines/s")
    print(f"{'metric':<22}{'raw':>10}{'folded':>10}")
    for key in ("cer", "wer", "wer_segmented", "grapheme_cer", "char_accuracy", "line_accuracy",
                "norm_edit_distance"):
        r, f = raw[key], folded[key]
        print(f"{key:<22}{'n/a' if r is None else f'{r:.4f}':>10}{'n/a' if f is None else f'{f:.4f}':>10}")
    e = report["errors"]
    print(f"substitutions {e['substitutions']}, insertions {e['insertions']}, deletions {e['deletions']}")
    print(f"report: {out / 'report.json'}, {out / 'report.html'}")
    return 0


def _page_models(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(detector, recognizer) named by --det, --rec, --model and MODEL; MODEL may be either one."""
    from aksar.infer.det_eval import is_detector
    from aksar.models.zoo import resolve_model

    det, rec = args.det, args.rec
    named = [m for m in (args.model_name, args.model) if m]
    if rec and args.model_name:
        raise AksarError(f"two recognizers given (--rec {rec!r} and --model {args.model_name!r}); give one")
    if len(named) > 1:
        raise AksarError(f"two models given ({args.model!r} and --model {args.model_name!r}); give one")
    if named and (det or rec):
        if not det and _is_detector(named[0]):
            det = named[0]
        elif not rec:
            rec = named[0]
        else:
            raise AksarError(f"{named[0]!r}: --det {det!r} and --rec {rec!r} are given already; which model "
                             "is MODEL?")
    if det:
        det = str(resolve_model(det))
        if not is_detector(det):
            raise AksarError(f"--det {det}: not a text-line detector (a recognizer? pass it as --rec)")
    return det, rec


def _is_detector(model: str) -> bool:
    """True if ``model`` (a path or a shipped model's name) is a text-line detector."""
    from aksar.infer.det_eval import is_detector

    try:
        return is_detector(model)
    except AksarError:
        return False  # not found: the recognizer's loading names the problem


def _eval_pages(args: argparse.Namespace, cfg: EvalRunConfig, det: str, rec: str) -> int:
    """``aksar eval DATA --det D --rec R``: whole pages read by a Reader, scored against their transcriptions."""
    from aksar.infer.detector import Detector
    from aksar.infer.page_eval import evaluate_pages, write_page_html
    from aksar.infer.reader import Reader
    from aksar.infer.report import write_json

    detector = Detector(det, threads=cfg.infer.threads, device=cfg.infer.device)
    recognizer = _recognizer(args, cfg.infer, model=rec)
    reader = Reader(det=detector, rec=recognizer)
    report = evaluate_pages(reader, args.data, script=recognizer.script, max_pages=cfg.eval.max_lines,
                            progress=args.progress, allow_outside_root=cfg.eval.allow_outside_root,
                            models=reader.describe())
    out = Path(cfg.output_dir)
    write_json(report, out / "report.json")
    write_page_html(report, out / "report.html", max_pages=cfg.eval.worst)
    m, sp = report["metrics"], report["speed"]
    d = m["detection"]
    print(f"{report['dataset']['pages']} pages, {d['gt']} lines; {sp['seconds_per_page']} s per page")
    print(f"page CER {m['page_cer']:.4f} (whitespace removed; grapheme {m['page_grapheme_cer']:.4f}, "
          f"folded {m['page_cer_folded']:.4f}; in the truth's line order {m['page_cer_gt_order']:.4f})")
    print(f"line CER {m['line_cer']:.4f} over {d['matched']} matched lines")
    print(f"detection hmean {d['hmean']:.4f}  precision {d['precision']:.4f}  recall {d['recall']:.4f}; "
          f"{m['missed_lines']} lines missed, {m['false_lines']} false")
    print(f"report: {out / 'report.json'}, {out / 'report.html'}")
    return 0


def _eval_detector(args: argparse.Namespace, cfg: EvalRunConfig) -> int:
    """``aksar eval`` of a text-line detector: precision/recall/hmean at IoU 0.5 and a report with pages drawn."""
    from aksar.infer.det_eval import evaluate_detection, write_detection_html
    from aksar.infer.detector import Detector
    from aksar.infer.report import write_json

    model = _model_arg(args)
    detector = Detector(model, threads=cfg.infer.threads, device=cfg.infer.device)
    report, _ = evaluate_detection(detector, args.data, model=model, max_pages=cfg.eval.max_lines,
                                   progress=args.progress, allow_outside_root=cfg.eval.allow_outside_root)
    out = Path(cfg.output_dir)
    write_json(report, out / "report.json")
    write_detection_html(report, out / "report.html", max_pages=cfg.eval.worst)
    m, sp = report["metrics"], report["speed"]
    print(f"{report['dataset']['pages']} pages, {m['gt']} lines; {sp['ms_per_page']} ms per page")
    print(f"hmean {m['hmean']:.4f}  precision {m['precision']:.4f}  recall {m['recall']:.4f}  (IoU {m['iou']})")
    print(f"report: {out / 'report.json'}, {out / 'report.html'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from aksar.infer.export import DEFAULT_ATOL, DEFAULT_OPSET, export_onnx

    cfg = resolve(args)
    summary = export_onnx(args.checkpoint, cfg.out, check=cfg.check,
                          atol=DEFAULT_ATOL if cfg.atol is None else cfg.atol,
                          opset=DEFAULT_OPSET if cfg.opset is None else cfg.opset)
    par = summary["parity"]
    what = f"{summary['charset_size']} tokens" if "charset_size" in summary else summary.get("task", "")
    print(f"wrote {summary['out']} ({summary['bytes'] / 1e6:.1f} MB, {summary['kind']} {summary['model_name']}, "
          f"{what}, opset {summary['opset']})")
    if par.get("checked"):
        seen = f"{par['pages']} pages" if "pages" in par else \
            f"{par['lines']} lines ({'rendered' if par['rendered'] else 'synthetic'}), identical texts"
        print(f"parity: {seen}, max |diff| {par['max_abs_diff']:.2e} <= atol {par['atol']:.0e}")
    else:
        print("parity: not checked (--no-check)")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from aksar.infer.images import gather_inputs, load_image

    cfg = resolve(args)
    _model_arg(args)
    items = gather_inputs(args.inputs, allow_outside_root=cfg.allow_outside_root)  # bad input before loading
    if not items:
        raise AksarError("no images given")
    rec = _recognizer(args, cfg.infer)
    results: list[dict] = []
    bad: list[str] = []
    chunk = max(256, cfg.infer.batch_size * 8)
    with tqdm(total=len(items), unit="line", desc="predict", file=sys.stderr, dynamic_ncols=True,
              disable=not args.progress or len(items) <= cfg.infer.batch_size) as bar:
        for start in range(0, len(items), chunk):
            part = items[start:start + chunk]
            arrays, names = [], []
            for it in part:
                try:
                    arrays.append(load_image(it.path, rec.max_pixels))
                    names.append(it.name)
                except AksarError as exc:
                    if not cfg.skip_bad:
                        raise
                    bad.append(it.name)
                    print(f"skipped: {exc}", file=sys.stderr)
            if arrays:
                for name, pred in zip(names, rec.predict(arrays)):
                    results.append({"path": name, "text": pred.text, "confidence": round(pred.confidence, 6)})
            bar.update(len(part))
    if args.format == "json":
        text = json.dumps(results, ensure_ascii=False, indent=1) + "\n"
    else:
        text = "".join(f"{r['path']}\t{r['text']}\t{r['confidence']:.4f}\n" for r in results)
    if cfg.out:
        from aksar.core.io import atomic_write_text

        atomic_write_text(cfg.out, text)
        print(f"wrote {len(results)} predictions to {cfg.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if bad:
        print(f"{len(bad)} image(s) skipped as unreadable, empty or too large", file=sys.stderr)
    return 0
