"""`aksar corpus`, `aksar charset` and `aksar lm`: build a text corpus, charsets and a character LM."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from aksar.cli.configs import (CharsetAuditConfig, CharsetBuildConfig, CorpusBuildConfig, CorpusStatsConfig,
                               LmBuildConfig)
from aksar.cli.flags import add_config, resolve
from aksar.core.errors import AksarError
from aksar.text.charset import EXTRA_SETS
from aksar.text.corpus import DROP_REASONS, CorpusConfig
from aksar.text.presets import PRESETS
from aksar.text.scripts import SCRIPTS

def register(sub: argparse._SubParsersAction) -> None:
    scripts = {"script": sorted(SCRIPTS)}
    corpus = sub.add_parser("corpus", help="build a text corpus (normalize, filter, dedupe, split)")
    csub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    p = csub.add_parser("build", help="build DIR/{train,val,test}.txt, charset.txt and stats.json")
    add_config(p, CorpusBuildConfig, fields=["preset", "input", "output_dir", "script", "corpus.*"],
               exclude=("corpus.script",), progress=True, helps=CORPUS_HELP,
               choices={**scripts, "preset": sorted(PRESETS), "corpus.charset_extra": sorted(EXTRA_SETS)})
    p.set_defaults(func=cmd_corpus_build)

    p = csub.add_parser("stats", help="print the stats of a built corpus")
    add_config(p, CorpusStatsConfig, positional={"corpus_dir": "DIR"})
    p.set_defaults(func=cmd_corpus_stats)

    charset = sub.add_parser("charset", help="build or audit a charset (dictionary file)")
    ssub = charset.add_subparsers(dest="charset_command", metavar="ACTION", required=True)
    p = ssub.add_parser("build", help="build a dictionary file from corpus files")
    add_config(p, CharsetBuildConfig, required=("input", "out"), aliases={"out": ["--output"]},
               choices={**scripts, "extra": sorted(EXTRA_SETS)})
    p.set_defaults(func=cmd_charset_build)

    p = ssub.add_parser("audit", help="characters of a corpus missing from a charset, with counts")
    add_config(p, CharsetAuditConfig, required=("charset", "input"), aliases={"out": ["--json"]},
               formats=("table", "json"))
    p.set_defaults(func=cmd_charset_audit)

    lm = sub.add_parser("lm", help="character n-gram language model for beam-search decoding")
    lsub = lm.add_subparsers(dest="lm_command", metavar="ACTION", required=True)
    p = lsub.add_parser("build", help="count a character n-gram model (use with predict/eval --lm FILE)")
    add_config(p, LmBuildConfig, required=("input", "out"), aliases={"out": ["--output"]}, progress=True)
    p.set_defaults(func=cmd_lm_build)


CORPUS_HELP = {  # CorpusConfig (aksar.text.corpus) keeps its fields free of CLI metadata
    "corpus.min_length": "shortest line kept, in code points",
    "corpus.max_length": "longest line kept, in code points",
    "corpus.min_script_share": "share of letters that must be of the script",
    "corpus.val_fraction": "share of lines in val.txt",
    "corpus.test_fraction": "share of lines in test.txt",
    "corpus.dedupe": "drop duplicate lines",
    "corpus.max_lines": "stop once this many lines are kept",
    "corpus.charset_extra": "extra token sets added to charset.txt",
}


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
    import dataclasses

    from aksar.text.corpus import build_corpus, check_inputs
    from aksar.text.presets import preset_script

    cfg = resolve(args)
    if not cfg.preset and not cfg.input:
        raise AksarError("corpus build: give --preset NAME or --input FILE...")
    check_inputs(cfg.input)
    script = cfg.script or (preset_script(cfg.preset) if cfg.preset else _detect_input_script(cfg.input))
    if cfg.preset and cfg.script and cfg.script != preset_script(cfg.preset):
        raise AksarError(f"--script {cfg.script} does not match preset {cfg.preset!r} "
                         f"({preset_script(cfg.preset)})")
    corpus = dataclasses.replace(cfg.corpus, script=script)
    stats = build_corpus([Path(p) for p in cfg.input] or None, corpus, cfg.output_dir, preset=cfg.preset,
                         progress=args.progress)
    _print_summary(stats, cfg.output_dir)
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

    corpus_dir = resolve(args).corpus_dir
    _print_summary(read_stats(corpus_dir), corpus_dir)
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

    cfg = resolve(args)
    invalid: Counter = Counter()
    charset = Charset.build(_texts(cfg.input, invalid), extra=cfg.extra, min_count=cfg.min_count,
                            script=cfg.script)
    charset.save(cfg.out)
    _report_invalid(invalid)
    print(f"charset: {len(charset)} tokens -> {cfg.out}")
    return 0


def cmd_charset_audit(args: argparse.Namespace) -> int:
    from aksar.core.io import atomic_write_json
    from aksar.text.charset import Charset, audit_charset

    cfg = resolve(args)
    charset = Charset.load(cfg.charset)
    invalid: Counter = Counter()
    report = audit_charset(_texts(cfg.input, invalid), charset)
    report["invalid_utf8_lines"] = len(invalid)
    _report_invalid(invalid)
    missing = report["missing"]
    if cfg.out:
        atomic_write_json(cfg.out, report)
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 1 if (cfg.strict and missing) else 0
    print(f"charset {cfg.charset}: {len(charset)} tokens; corpus: {report['lines']:,} lines, "
          f"{report['chars']:,} characters")
    if not missing:
        print("all characters are covered")
    else:
        print(f"{len(missing)} distinct characters missing ({report['missing_chars']:,} occurrences "
              f"in {report['lines_with_missing']:,} lines):")
        print(f"  {'count':>8} {'lines':>7}  char  code points  name")
        for m in missing[: cfg.top]:
            shown = m["char"] if m["char"].isprintable() and not m["char"].isspace() else " "
            print(f"  {m['count']:>8,} {m['lines']:>7,}  {shown:<4}  {m['codepoints']:<11}  {m['name']}")
        if len(missing) > cfg.top:
            print(f"  ... {len(missing) - cfg.top} more (see --out FILE or --format json)")
    return 1 if (cfg.strict and missing) else 0


def cmd_lm_build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from aksar.text.charlm import CharLM

    cfg = resolve(args)
    invalid: Counter = Counter()
    lines = tqdm(_texts(cfg.input, invalid, splits=("train",)), desc=f"lm: counting {cfg.order}-grams",
                 unit=" lines", mininterval=0.5, dynamic_ncols=True, disable=not args.progress)
    lm = CharLM.build(lines, order=cfg.order, min_count=cfg.min_count)
    lines.close()
    _report_invalid(invalid)
    if args.progress:
        print(f"lm: writing {len(lm.grams):,} n-grams to {cfg.out}", file=sys.stderr, flush=True)
    lm.save(cfg.out)
    print(f"language model: order {lm.order}, {len(lm.vocab)} characters, {len(lm.grams):,} n-grams, "
          f"{len(lm.contexts):,} contexts -> {cfg.out} ({Path(cfg.out).stat().st_size / 1e6:.1f} MB)")
    return 0
