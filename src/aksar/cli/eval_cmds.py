"""CLI: ``aksar evalset build`` -- the fixed, versioned evaluation sets (thin wrapper)."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    from aksar.data.evalset import SETS, EvalsetConfig

    d = EvalsetConfig()
    p = sub.add_parser("evalset", help="build (or check) the fixed evaluation sets")
    esub = p.add_subparsers(dest="evalset_command", metavar="ACTION")
    b = esub.add_parser("build", help="render the evaluation sets of a script",
                        description="Sets: heldout_fonts (unseen fonts), pango (another renderer), degraded "
                                    "(scanned print), lowres (6-10 px x-height), domain (UI strings from "
                                    ".mo catalogs). Byte-reproducible from --seed; manifest.json holds the "
                                    "version and every file's sha256.")
    b.add_argument("--script", default=d.script, choices=("khmer", "thai"), help="default: %(default)s")
    b.add_argument("--output-dir", default="", help="default: eval/SCRIPT")
    b.add_argument("--corpus-dir", default="", help="built corpus whose test split gives the texts "
                                                   "(default: data/SCRIPT/corpus)")
    b.add_argument("--lines", type=int, default=d.lines, help="lines per set (default: %(default)s)")
    b.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="default: all")
    b.add_argument("--seed", type=int, default=d.seed, help="default: %(default)s")
    b.add_argument("--locale-dir", default=d.locale_dir, help="gettext catalogs (default: %(default)s)")
    b.add_argument("--validate-only", action="store_true",
                   help="check an existing set against its manifest; name every missing or modified file")
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    b.set_defaults(func=cmd_evalset_build)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def cmd_evalset_build(args: argparse.Namespace) -> int:
    from aksar.data.evalset import EvalsetConfig, build_evalset, validate_evalset

    cfg = EvalsetConfig(script=args.script, output_dir=args.output_dir, corpus_dir=args.corpus_dir,
                        lines=args.lines, sets=list(args.sets), seed=args.seed, locale_dir=args.locale_dir)
    if args.validate_only:
        result = validate_evalset(cfg.output_dir)
        print(json.dumps(result, indent=2) if args.json else
              f"{cfg.output_dir}: OK, version {result['version']}, {result['files']} files, every sha256 "
              f"matches manifest.json; lines: {', '.join(f'{k} {v}' for k, v in result['sets'].items())}")
        return 0
    result = build_evalset(cfg)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"evaluation sets v{result['version']} in {result['output_dir']} ({result['bytes'] / 1e6:.1f} MB, "
          f"{result['elapsed_s']} s)")
    for name, s in result["sets"].items():
        skipped = ", ".join(f"{k} {v}" for k, v in s["skipped"].items()) or "none"
        print(f"  {name}: {s['lines']} lines, {len(s['fonts'])} fonts; skipped: {skipped}")
    return 0
