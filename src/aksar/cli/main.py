"""Entry point of the `aksar` command: builds the subcommand parser from each command module."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from aksar import __version__
from aksar.core.errors import AksarError

# Each module defines `register(subparsers)`, adding its subcommands with `set_defaults(func=handler)`;
# handlers take the parsed args and return an exit status (0 or None for success). Every subcommand declares
# its settings through aksar.cli.flags (--config FILE, -o KEY=VALUE, one flag per config field, -v/-q).
COMMAND_MODULES = [
    "aksar.cli.text_cmds",    # corpus, charset
    "aksar.cli.render_cmds",  # fonts, render, preview
    "aksar.cli.data_cmds",    # generate, valset, dataset
    "aksar.cli.train_cmds",   # train
    "aksar.cli.infer_cmds",   # eval, export, predict
    "aksar.cli.ocr_cmds",     # ocr (whole pages)
    "aksar.cli.models_cmds",  # models (shipped models: list, show, card)
    "aksar.cli.eval_cmds",    # evalset
    "aksar.cli.serve_cmds",   # serve (HTTP API)
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aksar",
        description="Train OCR recognizers for complex scripts (Khmer, Thai, ...) from synthetic data.",
    )
    parser.add_argument("--version", action="version", version=f"aksar {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (also after the subcommand)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only (also after the "
                                                                   "subcommand)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command group not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO,
        format="[%(asctime)s] %(levelname)s %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except AksarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(status or 0)


if __name__ == "__main__":
    raise SystemExit(main())
