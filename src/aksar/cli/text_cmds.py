"""`aksar corpus`, `aksar charset` and `aksar lm`: build a text corpus, charsets and a character LM."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from aksar.core.errors import AksarError
from aksar.text.charset import EXTRA_SETS
from aksar.text.corpus import DROP_REASONS, CorpusConfig
from aksar.text.presets import PRESETS
from aksar.text.scripts import SCRIPTS

DEFAULT_OUTPUT_DIR = "data/processed"


def register(sub: argparse._SubParsersAction) -> None:
    d = CorpusConfig()
    corpus = sub.add_parser("corpus", help="build a text corpus (normalize, filter, dedupe, split)")
    csub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)

    p = csub.add_parser("build", help="build DIR/{train,val,test}.txt, charset.txt and stats.json")
    src = p.add_argument_group("input (at least one)")
    src.add_argument("--preset", choices=sorted(PRESETS), help="built-in corpus: " + "; ".join(
        f"{k}: {v.description}" for k, v in sorted(PRESETS.items())))
    src.add_argument("--input", nargs="+", default=[], metavar="FILE", help="UTF-8 text files, one line per line")
    p.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR, metavar="DIR",
                   help="where to write the corpus (default %(default)s)")
    p.add_argument("--script", choices=sorted(SCRIPTS), default=None,
                   help="target script (default: the preset's, else detected from the input files)")
    p.add_argument("--min-length", type=int, default=d.min_length,
                   help="shortest line kept, in code points (default %(default)s)")
    p.add_argument("--max-length", type=int, default=d.max_length,
                   help="longest line kept, in code points (default %(default)s)")
    p.add_argument("--min-script-share", type=float, default=d.min_script_share,
                   help="share of letters that must be of the script (default %(default)s)")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction, help="(default %(default)s)")
    p.add_argument("--test-fraction", type=float, default=d.test_fraction, help="(default %(default)s)")
    p.add_argument("--no-dedupe", action="store_true", help="keep duplicate lines")
    p.add_argument("--max-lines", type=int, default=d.max_lines, help="stop once this many lines are kept")
    p.add_argument("--charset-extra", nargs="*", default=d.charset_extra, choices=sorted(EXTRA_SETS),
                   help="extra token sets added to charset.txt (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_corpus_build)

    p = csub.add_parser("stats", help="print the stats of a built corpus")
    p.add_argument("corpus_dir", nargs="?", default=DEFAULT_OUTPUT_DIR, metavar="DIR")
    p.set_defaults(func=cmd_corpus_stats)

    charset = sub.add_parser("charset", help="build or audit a charset (dictionary file)")
    ssub = charset.add_subparsers(dest="charset_command", metavar="ACTION", required=True)
    p = ssub.add_parser("build", help="build a dictionary file from corpus files")
    p.add_argument("--input", nargs="+", required=True, metavar="FILE_OR_DIR",
                   help="text files, or corpus directories (their train/val/test.txt)")
    p.add_argument("--output", required=True, metavar="FILE", help="dictionary file to write")
    p.add_argument("--extra", nargs="*", default=d.charset_extra, choices=sorted(EXTRA_SETS),
                   help="extra token sets (default: %(default)s)")
    p.add_argument("--min-count", type=int, default=1, help="drop characters seen fewer times (default 1)")
    p.add_argument("--script", choices=sorted(SCRIPTS), default=None,
                   help="adds this script's digits to the digits set")
    p.set_defaults(func=cmd_charset_build)

    p = ssub.add_parser("audit", help="characters of a corpus missing from a charset, with counts")
    p.add_argument("--charset", required=True, metavar="FILE", help="dictionary file")
    p.add_argument("--input", nargs="+", required=True, metavar="FILE_OR_DIR",
                   help="text files, or corpus directories (their train/val/test.txt)")
    p.add_argument("--top", type=int, default=50, help="list at most this many characters (default 50)")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 if any character is missing")
    p.set_defaults(func=cmd_charset_audit)

    lm = sub.add_parser("lm", help="character n-gram language model for beam-search decoding")
    lsub = lm.add_subparsers(dest="lm_command", metavar="ACTION", required=True)
    p = lsub.add_parser("build", help="count a character n-gram model (use with predict/eval --lm FILE)")
    p.add_argument("--input", nargs="+", required=True, metavar="FILE_OR_DIR",
                   help="text files, or corpus directories (their train.txt only: val and test score models)")
    p.add_argument("--output", required=True, metavar="FILE", help="model file to write (.json.gz)")
    p.add_argument("--order", type=int, default=5, help="n-gram order (default %(default)s)")
    p.add_argument("--min-count", type=int, default=2,
                   help="prune n-grams of order 3 and up seen fewer times (default %(default)s)")
    p.set_defaults(func=cmd_lm_build)


def _detect_input_script(inputs: list[str]) -> str:
    """The script of most of the first lines of the input files (default: CorpusConfig().script)."""
    from aksar.text.corpus import input_lines
    from aksar.text.scripts import detect_script

    votes: Counter = Counter()
    for n, (_, _, text) in enumerate(input_lines(inputs)):
        if n >= 2000:
            break
        script = detect_script(text) if text else None
        if script:
            votes[script] += 1
    if not votes:
        return CorpusConfig().script
    return votes.most_common(1)[0][0]


def cmd_corpus_build(args: argparse.Namespace) -> int:
    from aksar.text.corpus import build_corpus, check_inputs
    from aksar.text.presets import preset_script

    if not args.preset and not args.input:
        raise AksarError("corpus build: give --preset NAME or --input FILE...")
    check_inputs(args.input)
    script = args.script or (preset_script(args.preset) if args.preset else _detect_input_script(args.input))
    if args.preset and args.script and args.script != preset_script(args.preset):
        raise AksarError(f"--script {args.script} does not match preset {args.preset!r} "
                         f"({preset_script(args.preset)})")
    cfg = CorpusConfig(
        script=script, min_length=args.min_length, max_length=args.max_length,
        min_script_share=args.min_script_share, val_fraction=args.val_fraction,
        test_fraction=args.test_fraction, dedupe=not args.no_dedupe, max_lines=args.max_lines,
        charset_extra=list(args.charset_extra),
    )
    stats = build_corpus([Path(p) for p in args.input] or None, cfg, args.output_dir, preset=args.preset,
                         progress=not args.no_progress)
    _print_summary(stats, args.output_dir)
    return 0


def _print_summary(stats: dict, out_dir: str | Path) -> None:
    sp = stats["splits"]
    print(f"corpus: {out_dir} ({stats['script']}) in {stats.get('seconds', '?')} s")
    print(f"  read     {stats['lines_read']:>9,} lines"
          + ("  (stopped at --max-lines)" if stats.get("stopped_at_max_lines") else ""))
    print(f"  kept     {stats['kept']:>9,}  (train {sp['train']:,} / val {sp['val']:,} / test {sp['test']:,})")
    print(f"  dropped  {stats['dropped_total']:>9,}")
    for reason in DROP_REASONS:
        n = stats["dropped"].get(reason, 0)
        if n:
            print(f"    {reason:<17}{n:>9,}")
    locations = stats.get("invalid_utf8_locations") or []
    if locations:
        more = stats["dropped"].get("invalid_utf8", 0) - min(len(locations), 10)
        print("  invalid UTF-8 lines (skipped): " + ", ".join(locations[:10])
              + (f" and {more} more (stats.json lists up to 100)" if more > 0 else ""))
    length = stats["length"]
    print(f"  length   min {length['min']}, mean {length['mean']}, max {length['max']} code points")
    print(f"  charset  {stats['charset_size']} tokens -> {Path(out_dir) / 'charset.txt'}")


def cmd_corpus_stats(args: argparse.Namespace) -> int:
    from aksar.text.corpus import read_stats

    _print_summary(read_stats(args.corpus_dir), args.corpus_dir)
    return 0


def _texts(inputs: list[str], invalid: Counter, splits: tuple[str, ...] | None = None) -> Iterator[str]:
    """Normalized lines of files or corpus directories (their ``splits``, default all); invalid UTF-8
    lines are counted in ``invalid``."""
    from aksar.text.corpus import SPLITS, input_lines
    from aksar.text.normalize import normalize

    splits = splits or SPLITS
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            split_files = [p / f"{s}.txt" for s in splits if (p / f"{s}.txt").is_file()]
            if not split_files:
                raise AksarError(f"{p}: directory holds no {'/'.join(splits)}.txt")
            files.extend(split_files)
        else:
            files.append(p)
    for source, lineno, text in input_lines(files):
        if text is None:
            invalid[f"{source}:{lineno}"] += 1
            continue
        line = normalize(text)
        if line:
            yield line


def _report_invalid(invalid: Counter) -> None:
    if invalid:
        locs = list(invalid)
        print(f"skipped {len(locs)} lines that are not valid UTF-8: {', '.join(locs[:10])}"
              + (" ..." if len(locs) > 10 else ""), file=sys.stderr)


def cmd_charset_build(args: argparse.Namespace) -> int:
    from aksar.text.charset import Charset

    invalid: Counter = Counter()
    charset = Charset.build(_texts(args.input, invalid), extra=args.extra, min_count=args.min_count,
                            script=args.script)
    charset.save(args.output)
    _report_invalid(invalid)
    print(f"charset: {len(charset)} tokens -> {args.output}")
    return 0


def cmd_charset_audit(args: argparse.Namespace) -> int:
    from aksar.core.io import atomic_write_json
    from aksar.text.charset import Charset, audit_charset

    charset = Charset.load(args.charset)
    invalid: Counter = Counter()
    report = audit_charset(_texts(args.input, invalid), charset)
    report["invalid_utf8_lines"] = len(invalid)
    _report_invalid(invalid)
    missing = report["missing"]
    print(f"charset {args.charset}: {len(charset)} tokens; corpus: {report['lines']:,} lines, "
          f"{report['chars']:,} characters")
    if not missing:
        print("all characters are covered")
    else:
        print(f"{len(missing)} distinct characters missing ({report['missing_chars']:,} occurrences "
              f"in {report['lines_with_missing']:,} lines):")
        print(f"  {'count':>8} {'lines':>7}  char  code points  name")
        for m in missing[: args.top]:
            shown = m["char"] if m["char"].isprintable() and not m["char"].isspace() else " "
            print(f"  {m['count']:>8,} {m['lines']:>7,}  {shown:<4}  {m['codepoints']:<11}  {m['name']}")
        if len(missing) > args.top:
            print(f"  ... {len(missing) - args.top} more (see --json)")
    if args.json:
        atomic_write_json(args.json, report)
    return 1 if (args.strict and missing) else 0


def cmd_lm_build(args: argparse.Namespace) -> int:
    from aksar.text.charlm import CharLM

    invalid: Counter = Counter()
    lm = CharLM.build(_texts(args.input, invalid, splits=("train",)), order=args.order, min_count=args.min_count)
    _report_invalid(invalid)
    lm.save(args.output)
    print(f"language model: order {lm.order}, {len(lm.vocab)} characters, {len(lm.grams):,} n-grams, "
          f"{len(lm.contexts):,} contexts -> {args.output} ({Path(args.output).stat().st_size / 1e6:.1f} MB)")
    return 0
