"""CLI: ``aksar evalset build`` -- the fixed, versioned evaluation sets (thin wrapper)."""
from __future__ import annotations

import argparse
import json

from aksar.cli.flags import add_common, add_config, resolve


EVALSET_HELP = {  # EvalsetConfig (aksar.data.evalset) keeps its fields free of CLI metadata
    "script": "script of the sets", "corpus_dir": "built corpus whose test split gives the texts "
                                                  "(default: data/SCRIPT/corpus)",
    "split": "corpus split of the lines: test for the fixed sets, val for a tuning copy",
    "output_dir": "where the sets go (default: eval/SCRIPT)", "lines": "lines per set",
    "sets": "sets to build", "seed": "seed of texts, fonts and degradations",
    "min_length": "shortest line, in code points", "max_length": "longest line, in code points",
    "font_size": "heldout_fonts and domain: pixels per em", "pango_ptsize": "pango: point size range",
    "pango_resolution": "pango: dpi", "degraded_ptsize": "degraded: point size range",
    "degraded_resolution": "degraded: dpi range", "lowres_x_height": "lowres: x-height range in pixels",
    "page_lines": "lines per text2image call", "locale_dir": "gettext catalogs of the domain set",
}


def register(sub: argparse._SubParsersAction) -> None:
    from aksar.data.evalset import SETS, EvalsetConfig
    from aksar.text.scripts import SCRIPTS

    p = sub.add_parser("evalset", help="build (or check) the fixed evaluation sets")
    esub = p.add_subparsers(dest="evalset_command", metavar="ACTION")
    b = esub.add_parser("build", help="render the evaluation sets of a script",
                        description="Sets: heldout_fonts (unseen fonts), pango (another renderer), degraded "
                                    "(scanned print), lowres (6-10 px x-height), domain (UI strings from "
                                    ".mo catalogs). Byte-reproducible from --seed; manifest.json holds the "
                                    "version and every file's sha256.")
    add_config(b, EvalsetConfig, helps=EVALSET_HELP,
               choices={"script": sorted(SCRIPTS), "sets": SETS, "split": ("val", "test")},
               formats=("text", "json"))
    b.add_argument("--validate-only", action="store_true",
                   help="check an existing set against its manifest; name every missing or modified file")
    b.set_defaults(func=cmd_evalset_build)
    add_common(p)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def cmd_evalset_build(args: argparse.Namespace) -> int:
    from aksar.data.evalset import build_evalset, validate_evalset

    cfg = resolve(args)
    if args.validate_only:
        result = validate_evalset(cfg.output_dir)
        print(json.dumps(result, indent=2) if args.format == "json" else
              f"{cfg.output_dir}: OK, version {result['version']}, {result['files']} files, every sha256 "
              f"matches manifest.json; lines: {', '.join(f'{k} {v}' for k, v in result['sets'].items())}")
        return 0
    result = build_evalset(cfg)
    if args.format == "json":
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"evaluation sets v{result['version']} in {result['output_dir']} ({result['bytes'] / 1e6:.1f} MB, "
          f"{result['elapsed_s']} s)")
    for name, s in result["sets"].items():
        skipped = ", ".join(f"{k} {v}" for k, v in s["skipped"].items()) or "none"
        print(f"  {name}: {s['lines']} lines, {len(s['fonts'])} fonts; skipped: {skipped}")
    return 0
