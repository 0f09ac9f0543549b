"""`aksar eval`, `aksar export` and `aksar predict`: measure, export and run trained models."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from aksar.core.errors import AksarError
from aksar.infer.config import DECODERS, LM_BONUS, LM_WEIGHT, EvalConfig, InferConfig

log = logging.getLogger(__name__)


def _add_runtime_args(p: argparse.ArgumentParser) -> None:
    d = InferConfig()
    p.add_argument("--decoder", choices=DECODERS, default=d.decoder,
                   help="greedy, or beam search (CTC: prefix beam search) (default %(default)s)")
    p.add_argument("--beam-width", type=int, default=d.beam_width, help="(default %(default)s)")
    p.add_argument("--lm", default=d.lm, metavar="FILE|shipped",
                   help="character language model (aksar lm build) fused into the beam search (CTC; implies "
                        "--decoder beam); 'shipped': the one that ships with --model NAME")
    p.add_argument("--lm-weight", type=float, default=d.lm_weight,
                   help=f"weight of the LM log probability per token (default: the shipped LM's, else {LM_WEIGHT})")
    p.add_argument("--lm-bonus", type=float, default=d.lm_bonus,
                   help=f"score added per emitted token with --lm (default: the shipped LM's, else {LM_BONUS})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="lines per batch (default %(default)s)")
    p.add_argument("--threads", type=int, default=d.threads, metavar="N",
                   help="CPU threads (onnxruntime intra-op / torch.set_num_threads; default: library default)")
    p.add_argument("--device", default=d.device, help="torch device for checkpoints (default %(default)s)")


def _add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", nargs="?", default=None,
                   help="checkpoint (.pt or run directory), exported .onnx, or a shipped model's name (aksar models)")
    p.add_argument("--model", dest="model_name", metavar="NAME_OR_PATH",
                   help="the model by name or path (instead of MODEL), e.g. --model khmer")


def _add_outside_root_arg(p: argparse.ArgumentParser) -> None:
    from aksar.data.files import OUTSIDE_ROOT_FLAG

    p.add_argument(OUTSIDE_ROOT_FLAG, action="store_true", default=EvalConfig().allow_outside_root,
                   help="let a list name images outside its folder (absolute, ../ or symlinked paths); "
                        "refused by default")


def register(sub: argparse._SubParsersAction) -> None:
    e = EvalConfig()
    p = sub.add_parser("eval", help="evaluate a checkpoint or .onnx model on a dataset (JSON + HTML report)")
    _add_model_arg(p)
    p.add_argument("data", metavar="DATA", help="dataset: a folder with labels.tsv, a label list (- = stdin), "
                                                "LMDB, a split of the pre-generated layout, or a tesstrain, "
                                                "trdg or docTR folder")
    p.add_argument("--out-dir", default="eval_report", metavar="DIR",
                   help="where report.json and report.html go (default %(default)s)")
    p.add_argument("--max-lines", type=int, default=e.max_lines, help="evaluate only the first N lines")
    p.add_argument("--worst", type=int, default=e.worst, help="worst lines shown in the HTML (default %(default)s)")
    p.add_argument("--top-confusions", type=int, default=e.top_confusions, help="(default %(default)s)")
    p.add_argument("--segmenter", choices=("auto", "none"), default=e.segmenter,
                   help="word segmenter for the second WER (default %(default)s: one for the script if installed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_outside_root_arg(p)
    _add_runtime_args(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("export", help="export a checkpoint to ONNX (self-sufficient, parity-checked)")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint file or run directory")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--no-check", action="store_true", help="skip the PyTorch/onnxruntime parity check")
    p.add_argument("--atol", type=float, default=None, metavar="X",
                   help="parity tolerance on output probabilities (default 1e-4)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="recognise line images with a checkpoint or .onnx model")
    _add_model_arg(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="images, folders of images, or list files (labels.tsv or one path per line; "
                        "- reads a list from stdin)")
    p.add_argument("--out", default=None, metavar="FILE", help="write predictions here (default: stdout)")
    p.add_argument("--format", choices=("tsv", "json"), default="tsv",
                   help="tsv: path<TAB>text<TAB>confidence per line; json: a list of objects (default %(default)s)")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable/empty/huge images (each named on stderr, counted) instead of stopping")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_outside_root_arg(p)
    _add_runtime_args(p)
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


def _recognizer(args: argparse.Namespace):
    from aksar.infer.recognizer import Recognizer

    model = _model_arg(args)
    return Recognizer(model, device=args.device, threads=args.threads, decoder=args.decoder,
                      beam_width=args.beam_width, batch_size=args.batch_size, lm=args.lm,
                      lm_weight=args.lm_weight, lm_bonus=args.lm_bonus)


def cmd_eval(args: argparse.Namespace) -> int:
    from aksar.infer.evaluate import evaluate
    from aksar.infer.report import write_html, write_json

    cfg = EvalConfig(worst=args.worst, top_confusions=args.top_confusions, max_lines=args.max_lines,
                     segmenter=args.segmenter, allow_outside_root=args.allow_outside_root)
    rec = _recognizer(args)
    report, lines, dataset = evaluate(rec, args.data, cfg, progress=not args.no_progress)
    out = Path(args.out_dir)
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


def cmd_export(args: argparse.Namespace) -> int:
    from aksar.infer.export import DEFAULT_ATOL, DEFAULT_OPSET, export_onnx

    summary = export_onnx(args.checkpoint, args.out, check=not args.no_check,
                          atol=DEFAULT_ATOL if args.atol is None else args.atol,
                          opset=DEFAULT_OPSET if args.opset is None else args.opset)
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

    _model_arg(args)
    items = gather_inputs(args.inputs, allow_outside_root=args.allow_outside_root)  # bad input before loading
    if not items:
        raise AksarError("no images given")
    rec = _recognizer(args)
    results: list[dict] = []
    bad: list[str] = []
    chunk = max(256, args.batch_size * 8)
    with tqdm(total=len(items), unit="line", desc="predict", file=sys.stderr, dynamic_ncols=True,
              disable=args.no_progress or len(items) <= args.batch_size) as bar:
        for start in range(0, len(items), chunk):
            part = items[start:start + chunk]
            arrays, names = [], []
            for it in part:
                try:
                    arrays.append(load_image(it.path, rec.max_pixels))
                    names.append(it.name)
                except AksarError as exc:
                    if not args.skip_bad:
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
    if args.out:
        from aksar.core.io import atomic_write_text

        atomic_write_text(args.out, text)
        print(f"wrote {len(results)} predictions to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if bad:
        print(f"{len(bad)} image(s) skipped as unreadable, empty or too large", file=sys.stderr)
    return 0
