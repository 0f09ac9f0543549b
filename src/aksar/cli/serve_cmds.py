"""`aksar serve`: the HTTP API over a detector and a recognizer (aksar.infer.server)."""
from __future__ import annotations

import argparse

from aksar.cli.flags import add_config, resolve
from aksar.infer.config import ServeConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve OCR over HTTP (POST /ocr, POST /recognize, GET /health, a web page at /)",
                       description="Load the models once and answer HTTP requests: pages (images or PDFs) with "
                                   "POST /ocr, line images with POST /recognize; /docs documents the API. Every "
                                   "limit below answers a clear 4xx/5xx JSON error (docs/notes/server.md).")
    add_config(p, ServeConfig)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from aksar.infer.server import serve

    serve(resolve(args))
    return 0
