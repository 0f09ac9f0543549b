"""Load test of ``aksar serve``: N client threads post line images (/recognize) and pages (/ocr) for T seconds,
with a share of bad requests mixed in (not an image, a truncated PNG, a 50000x50000 PNG header, a wrong
format); prints requests/s, p50/p95 latency per kind, and the count of each status.

    python benchmarks/server_load.py --clients 4 --seconds 20            # starts `aksar serve` itself
    python benchmarks/server_load.py --url http://127.0.0.1:8000          # or loads a running server

Without ``--url`` the server runs in its own process (``aksar serve --port FREE --threads 1 ...``; extra
flags after ``--``). /ocr pages are sent only when the server has a detector (GET /health). Exits 1 if any
good request did not get 200, or any bad request got a 5xx (or a 200).
"""
from __future__ import annotations

import argparse
import io
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
LINES = ROOT / "eval" / "khmer" / "heldout_fonts"


def png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def huge_png_header(side: int = 50000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))


def line_images(n: int) -> list[bytes]:
    """The first ``n`` line images of the committed Khmer held-out-font evaluation set."""
    files = sorted((LINES / "images").glob("*.png"))[:n]
    if not files:
        raise SystemExit(f"no line images under {LINES / 'images'}")
    return [f.read_bytes() for f in files]


def page_images(n: int) -> list[bytes]:
    """``n`` clean rendered Khmer pages (900x1200 px at 150 dpi)."""
    from aksar.core.rng import rng_for
    from aksar.render.page import PageConfig, PageRenderer
    from aksar.render.page_degrade import PageDegradeConfig
    from aksar.render.page_layout import LayoutConfig
    from aksar.render.synth import SynthConfig

    texts = [r.split("\t", 1)[1] for r in (LINES / "labels.tsv").read_text(encoding="utf-8").splitlines() if "\t" in r]
    cfg = PageConfig(layout=LayoutConfig(size_px=(900, 1200), dpi=(150, 150)),
                     degrade=PageDegradeConfig(enabled=False), synth=SynthConfig(fonts=["Khmer OS"]))
    renderer = PageRenderer("khmer", cfg)
    return [png(renderer.render(texts, rng_for(i, "server-load")).image) for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(extra: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "aksar.cli.main", "serve", "--port", str(port), "--threads", "1", "-q", *extra]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    url = f"http://127.0.0.1:{port}"
    stop = time.monotonic() + 120
    while time.monotonic() < stop:
        if proc.poll() is not None:
            raise SystemExit(f"aksar serve exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("aksar serve did not answer /health within 120 s")


def requests_of(lines: list[bytes], pages: list[bytes]) -> tuple[list, list]:
    """(good, bad) request makers: each is (kind, function(client) -> response, expected status class)."""
    good = [("recognize", lambda c, b=b: c.post("/recognize", files=[("files", ("line.png", b, "image/png"))]))
            for b in lines]
    good += [("ocr", lambda c, b=b: c.post("/ocr", files={"file": ("page.png", b, "image/png")})) for b in pages]
    cut = lines[0][: len(lines[0]) // 2]
    bad = [
        ("bad:not-image", lambda c: c.post("/recognize", files=[("files", ("x.txt", b"not an image", "text/plain"))])),
        ("bad:truncated", lambda c: c.post("/recognize", files=[("files", ("cut.png", cut, "image/png"))])),
        ("bad:huge", lambda c: c.post("/recognize", files=[("files", ("huge.png", huge_png_header(), "image/png"))])),
        ("bad:format", lambda c: c.post("/ocr?format=docx", files={"file": ("l.png", lines[0], "image/png")})),
    ]
    return good, bad


def run_load(url: str, good: list, bad: list, clients: int, seconds: float, bad_share: float, seed: int) -> list:
    """(kind, is_good, status, seconds) of every request sent by ``clients`` threads for ``seconds``."""
    results: list[tuple[str, bool, int, float]] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        with httpx.Client(base_url=url, timeout=120) as c:
            while time.monotonic() < stop:
                is_good = rng.random() >= bad_share
                kind, send = rng.choice(good if is_good else bad)
                t0 = time.perf_counter()
                try:
                    status = send(c).status_code
                except httpx.TransportError:
                    status = 0  # no answer at all
                with lock:
                    results.append((kind, is_good, status, time.perf_counter() - t0))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def report(results: list, seconds: float) -> int:
    """Print the numbers; the exit status (1: a good request failed or a bad one got a 5xx/200)."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    statuses: Counter = Counter()
    failures = 0
    for kind, is_good, status, secs in results:
        by_kind[kind].append(secs)
        statuses[(kind, status)] += 1
        if (is_good and status != 200) or (not is_good and not 400 <= status < 500):
            failures += 1
    print(f"{len(results)} requests in {seconds:.0f} s: {len(results) / seconds:.1f} requests/s")
    print(f"{'kind':<16}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}  statuses")
    for kind, lat in sorted(by_kind.items()):
        ms = sorted(x * 1000 for x in lat)
        p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
        codes = ", ".join(f"{s}: {n}" for (k, s), n in sorted(statuses.items()) if k == kind)
        print(f"{kind:<16}{len(ms):>6}{statistics.median(ms):>10.1f}{p95:>10.1f}  {codes}")
    print("failures:", failures)
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running server (default: start `aksar serve` on a free port)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--bad-share", type=float, default=0.1, help="share of bad requests")
    ap.add_argument("--lines", type=int, default=32, help="distinct line images")
    ap.add_argument("--pages", type=int, default=2, help="distinct rendered pages (when /ocr is on)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("serve_flags", nargs=argparse.REMAINDER, help="after --: flags of `aksar serve`")
    args = ap.parse_args()
    extra = [f for f in args.serve_flags if f != "--"]
    proc = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        proc, url = start_server(extra)
    try:
        health = httpx.get(url + "/health", timeout=10).json()
        ocr_on = health["models"]["detector"] is not None
        print(f"server {url}: recognizer {health['models']['recognizer']['name']}, detector "
              f"{'on' if ocr_on else 'none (/ocr pages not sent)'}, limits {health['limits']}")
        good, bad = requests_of(line_images(args.lines), page_images(args.pages) if ocr_on else [])
        results = run_load(url, good, bad, args.clients, args.seconds, args.bad_share, args.seed)
        status = report(results, args.seconds)
        after = httpx.get(url + "/health", timeout=10)
        print("health after:", after.status_code, {k: after.json()[k] for k in ("active", "queued")})
        return status if after.status_code == 200 else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
