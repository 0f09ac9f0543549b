"""`aksar serve` over real HTTP: the real app on uvicorn (a thread, a free localhost port), the shipped Khmer
recognizer, rendered Khmer lines; every limit answers its 4xx/5xx JSON error and the server stays healthy."""
from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

from fixtures.server import load_page_models, png_bytes
from aksar.infer.config import ServeConfig
from aksar.infer.document import Block, Document, Line, Page, Word, box_polygon
from aksar.infer.recognizer import Recognizer
from aksar.infer.server import BackgroundServer, DocumentOut, create_app
from aksar.text.metrics import cer

LIMITS = dict(max_upload_bytes=1_500_000, max_pixels=3_000_000, max_pages=2, max_files=8, dpi=72.0)
MAX_CER = 0.15  # the shipped model reads clean held-out-font lines far better than this


@pytest.fixture(scope="module")
def shared_recognizer() -> Recognizer:
    return Recognizer("khmer", threads=1)


@pytest.fixture(scope="module")
def server(shared_recognizer):
    """A server without a detector (/ocr checks uploads, then answers 503), small limits, a long queue."""
    cfg = ServeConfig(det="none", max_concurrency=2, max_queue=32, timeout_s=30, **LIMITS)
    with BackgroundServer(create_app(cfg, recognizer=shared_recognizer)) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client


def lines_upload(items: list[tuple[str, bytes]]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "image/png")) for name, data in items]


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (valid CRCs, one tiny IDAT, no real pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def pdf_bytes(pages: int, size_pt: tuple[float, float] = (200, 100)) -> bytes:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(*size_pt)
    buf = io.BytesIO()
    pdf.save(buf)
    pdf.close()
    return buf.getvalue()


def tiff_bytes(*frames: bytes) -> bytes:
    """A multi-page TIFF whose pages are these encoded images."""
    from PIL import Image

    images = [Image.open(io.BytesIO(f)).convert("L") for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="TIFF", save_all=True, append_images=images[1:])
    return buf.getvalue()


def assert_error(r: httpx.Response, status: int, *words: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "Traceback" not in detail
    for word in words:
        assert word in detail, (word, detail)


def assert_healthy(client: httpx.Client) -> None:
    h = client.get("/health")
    assert h.status_code == 200 and h.json()["status"] == "ok"


# -- what works -----------------------------------------------------------------------------------------------
def test_health_names_the_models_and_the_limits(server):
    h = server.get("/health").json()
    assert h["models"]["recognizer"]["script"] == "khmer" and h["models"]["recognizer"]["backend"] == "onnx"
    assert h["models"]["detector"] is None
    assert {k: h["limits"][k] for k in LIMITS} == LIMITS
    assert (h["active"], h["queued"]) == (0, 0)


def test_recognize_reads_rendered_khmer_lines(server, khmer_line_pngs, shared_recognizer):
    r = server.post("/recognize", files=lines_upload([(f"l{i}.png", png) for i, (_, png) in enumerate(khmer_line_pngs)]))
    assert r.status_code == 200, r.text
    lines = r.json()["lines"]
    assert [ln["name"] for ln in lines] == [f"l{i}.png" for i in range(len(khmer_line_pngs))]
    truth = [t for t, _ in khmer_line_pngs]
    assert cer([ln["text"] for ln in lines], truth) < MAX_CER
    assert all(0 <= ln["confidence"] <= 1 and isinstance(ln["repaired"], bool) for ln in lines)
    # the same texts as the library reading the same files
    from aksar.infer.uploads import decode_upload_image

    direct = shared_recognizer.predict([decode_upload_image(png, "x", 10**7) for _, png in khmer_line_pngs])
    assert [ln["text"] for ln in lines] == [p.text for p in direct]


def test_path_like_file_names_are_labels_not_paths(server, khmer_line_pngs):
    text, png = khmer_line_pngs[0]
    r = server.post("/recognize", files=lines_upload([("../../etc/passwd", png), ("C:\\Windows\\win.ini", png)]))
    assert r.status_code == 200, r.text
    lines = r.json()["lines"]
    assert [ln["name"] for ln in lines] == ["passwd", "win.ini"]
    assert all(cer([ln["text"]], [text]) < MAX_CER for ln in lines)  # the uploaded pixels were read
    assert_error(server.post("/ocr", files={"file": ("/etc/passwd", b"root:x:0:0", "text/plain")}), 415, "passwd")


def test_openapi_documents_the_endpoints_and_the_document_model(server):
    spec = server.get("/openapi.json").json()
    assert {"/ocr", "/recognize", "/health"} <= set(spec["paths"])
    ocr = spec["paths"]["/ocr"]["post"]
    assert ocr["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/DocumentOut")
    assert {"413", "415", "422", "503", "504"} <= set(ocr["responses"])
    assert server.get("/docs").status_code == 200
    # the response model is Document.to_dict's shape, field for field
    line = Line(box_polygon(1, 2, 30, 12), "ក", 0.9, words=[Word("ក", 0.9, box_polygon(1, 2, 30, 12))],
                char_confidences=[0.9])
    doc = Document([Page(0, 40, 20, source="a.png", dpi=300, blocks=[Block.around([line])])], models={"x": {}})
    assert DocumentOut.model_validate(doc.to_dict()).model_dump(by_alias=True) == doc.to_dict()


# -- bad requests ---------------------------------------------------------------------------------------------
def test_oversized_bodies_are_refused_before_being_read(server):
    big = b"\0" * (LIMITS["max_upload_bytes"] + 1000)
    assert_error(server.post("/recognize", files=lines_upload([("big.png", big)])), 413, "max_upload_bytes")

    def streamed():  # no Content-Length: the limit holds while the body streams in
        yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\n'
        for _ in range(25):  # 2.5 MB: over the limit, within what the server drains to answer cleanly
            yield b"\0" * 100_000
        yield b"\r\n--b--\r\n"

    r = server.post("/recognize", content=streamed(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert_error(r, 413, "max_upload_bytes", "stopped reading")
    assert_healthy(server)


def test_unreadable_uploads_get_their_4xx(server, khmer_line_pngs):
    png = khmer_line_pngs[0][1]
    assert_error(server.post("/recognize", files=lines_upload([("notes.txt", b"just text")])), 415, "notes.txt")
    assert_error(server.post("/recognize", files=lines_upload([("cut.png", png[: len(png) // 2])])), 422,
                 "cut.png", "truncated")
    assert_error(server.post("/recognize", files=lines_upload([("empty.png", b"")])), 422, "empty")
    assert_error(server.post("/recognize", files=lines_upload([("bomb.png", png_header(50000, 50000))])), 413,
                 "bomb.png", "max_pixels")
    assert_error(server.post("/ocr", files={"file": ("bomb.png", png_header(50000, 50000), "image/png")}), 413,
                 "max_pixels")
    too_many = [(f"{i}.png", png) for i in range(LIMITS["max_files"] + 1)]
    assert_error(server.post("/recognize", files=lines_upload(too_many)), 413, "max_files")


def test_pdf_limits_and_corrupt_pdfs(server):
    assert_error(server.post("/ocr", files={"file": ("long.pdf", pdf_bytes(3), "application/pdf")}), 413,
                 "long.pdf", "3 pages", "max_pages")
    wide = pdf_bytes(1, size_pt=(3000, 3000))  # 3000x3000 px at 72 dpi > max_pixels
    assert_error(server.post("/ocr", files={"file": ("wide.pdf", wide, "application/pdf")}), 413, "page 1",
                 "max_pixels")
    cut = pdf_bytes(1)[:40]
    assert_error(server.post("/ocr", files={"file": ("cut.pdf", cut, "application/pdf")}), 422, "cut.pdf", "PDF")
    # a good PDF passes the checks; without a detector the server then says /ocr is off
    assert_error(server.post("/ocr", files={"file": ("ok.pdf", pdf_bytes(2), "application/pdf")}), 503, "--det")


def test_every_page_of_a_multipage_tiff_counts(server, khmer_line_pngs):
    from aksar.infer.uploads import UploadLimits, decode_pages

    pngs = [png for _, png in khmer_line_pngs[:3]]
    three = tiff_bytes(*pngs)
    assert_error(server.post("/ocr", files={"file": ("scan.tif", three, "image/tiff")}), 413, "scan.tif",
                 "3 pages", "max_pages")
    pages = decode_pages(three, "scan.tif", UploadLimits(max_pixels=3_000_000, max_pages=3, dpi=72))
    assert [p.source_page for p in pages] == [0, 1, 2]
    for page, png in zip(pages, pngs):  # each frame is its own image, decoded as a PNG of it would be
        assert np.array_equal(page.pixels, decode_pages(png, "x.png", UploadLimits(3_000_000, 3, 72))[0].pixels)


def test_exif_orientation_of_an_upload_is_applied(server, khmer_line_pngs):
    """A line photographed sideways (pixels rotated, EXIF orientation 6 says so) reads as the upright file."""
    import io

    from PIL import Image

    upright = Image.open(io.BytesIO(khmer_line_pngs[0][1]))
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    upright.transpose(Image.Transpose.ROTATE_90).save(buf, "PNG", exif=exif)
    r = server.post("/recognize", files=lines_upload([("up.png", khmer_line_pngs[0][1]), ("side.png", buf.getvalue())]))
    assert r.status_code == 200, r.text
    texts = [ln["text"] for ln in r.json()["lines"]]
    assert texts[0] and texts[1] == texts[0]


def test_missing_fields_and_wrong_parameters(server, khmer_line_pngs):
    png = khmer_line_pngs[0][1]
    assert_error(server.post("/recognize", data={"other": "1"}), 422, "files")
    assert_error(server.post("/ocr"), 422, "file")
    assert_error(server.post("/ocr?format=pdf", files={"file": ("a.png", png, "image/png")}), 422, "format", "hocr")
    assert_error(server.post("/ocr", data={"format": "docx"}, files={"file": ("a.png", png, "image/png")}), 422,
                 "format")
    assert server.get("/nowhere").status_code == 404
    assert server.get("/recognize").status_code == 405


def test_a_concurrent_burst_of_good_and_bad_requests(server, khmer_line_pngs):
    png = khmer_line_pngs[1][1]
    truth = khmer_line_pngs[1][0]
    bad = {
        "notimage": (lambda c: c.post("/recognize", files=lines_upload([("x.txt", b"hello")])), 415),
        "truncated": (lambda c: c.post("/recognize", files=lines_upload([("t.png", png[:100])])), 422),
        "bomb": (lambda c: c.post("/recognize", files=lines_upload([("b.png", png_header(50000, 50000))])), 413),
        "format": (lambda c: c.post("/ocr?format=x", files={"file": ("a.png", png, "image/png")}), 422),
    }
    jobs = []
    for i in range(16):
        if i % 3 == 2:
            name = list(bad)[i % len(bad)]
            jobs.append((name, *bad[name]))
        else:
            jobs.append(("good", lambda c: c.post("/recognize", files=lines_upload([("g.png", png)])), 200))
    start = threading.Barrier(len(jobs))

    def fire(job):
        start.wait()
        return job[0], job[1](server), job[2]

    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(fire, jobs))
    for name, r, want in results:
        assert r.status_code == want, (name, r.status_code, r.text)
        if want == 200:
            assert cer([r.json()["lines"][0]["text"]], [truth]) < MAX_CER
    assert sum(want == 200 for *_, want in results) == 11
    assert_healthy(server)
    h = server.get("/health").json()
    assert (h["active"], h["queued"]) == (0, 0)


# -- time and queue limits ------------------------------------------------------------------------------------
def test_timeouts_and_a_full_queue(khmer_line_pngs):
    """One worker, one queue place, 0.5 s per request. The slow request is ONE batch of 512 lines, which no
    deadline check can cut: it gets its 504 at 0.5 s, but holds the worker until its batch ends, so the request
    queued behind it gets 503 at its own deadline. The lines are cheap to decode and slow to read (1,562 px wide:
    0.2 s to decode, 2.8 s to read on the 2-core test machine): the deadline is checked once, after decoding
    and before the batch, so a decode past 0.5 s would end the work there, and a batch read within 0.5 s would
    free the worker in time; 64 lines 12 times as wide did one or the other now and then."""
    line = np.asarray(Image.open(io.BytesIO(khmer_line_pngs[0][1])))
    slow = lines_upload([(f"{i}.png", png_bytes(np.tile(line, (1, 2)))) for i in range(512)])
    quick = lines_upload([("g.png", khmer_line_pngs[0][1])])
    cfg = ServeConfig(det="none", max_concurrency=1, max_queue=1, timeout_s=0.5, max_files=512,
                      max_upload_bytes=40_000_000)
    one_batch = Recognizer("khmer", threads=1, batch_size=512)
    with BackgroundServer(create_app(cfg, recognizer=one_batch)) as url, \
            httpx.Client(base_url=url, timeout=30) as client, ThreadPoolExecutor(2) as pool:
        t0 = time.monotonic()
        first = pool.submit(client.post, "/recognize", files=slow)
        while client.get("/health").json()["active"] == 0:
            assert not first.done(), first.result().text
            time.sleep(0.01)
        second = pool.submit(client.post, "/recognize", files=quick)
        while client.get("/health").json()["queued"] == 0:
            assert not second.done(), second.result().text
            time.sleep(0.01)
        assert_error(client.post("/recognize", files=quick), 503, "max_queue")
        assert_error(first.result(), 504, "timeout_s=0.5")
        assert time.monotonic() - t0 < 5
        assert_error(second.result(), 503, "no worker free", "timeout_s=0.5")
        while client.get("/health").json()["active"]:  # the slow batch ends by itself and frees the worker
            time.sleep(0.05)
        r = client.post("/recognize", files=quick)
        assert r.status_code == 200, r.text


# -- pages (need the Reader and the shipped detector) ---------------------------------------------------------
@pytest.fixture(scope="module")
def page_server():
    recognizer, reader = load_page_models(threads=1)
    cfg = ServeConfig(det="khmer_det", timeout_s=60)
    with BackgroundServer(create_app(cfg, recognizer=recognizer, reader=reader)) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client


def test_ocr_reads_a_rendered_page(page_server, khmer_page_png):
    truth, png = khmer_page_png
    r = page_server.post("/ocr", files={"file": ("page.png", png, "image/png")})
    assert r.status_code == 200, r.text
    doc = Document.from_dict(r.json())
    DocumentOut.model_validate(r.json())
    assert len(doc.pages) == 1 and doc.pages[0].source == "page.png"
    assert abs(len(doc.pages[0].lines) - len(truth)) <= max(2, len(truth) // 5)
    read = [ln.text for ln in doc.pages[0].lines]
    best = [min(cer([r], [t]) for r in read) for t in truth]  # each true line against its best read line
    assert sorted(best)[len(best) // 2] < 0.2, best  # the median line reads well (tables and merged lines vary)


def test_ocr_reads_every_page_of_a_tiff(page_server, khmer_page_png):
    truth, png = khmer_page_png
    one = page_server.post("/ocr", files={"file": ("page.png", png, "image/png")}).json()["pages"][0]
    r = page_server.post("/ocr", files={"file": ("scan.tif", tiff_bytes(png, png), "image/tiff")})
    assert r.status_code == 200, r.text
    doc = Document.from_dict(r.json())
    assert [p.source_page for p in doc.pages] == [0, 1]
    for page in doc.pages:
        assert [ln.text for ln in page.lines] == [ln["text"] for b in one["blocks"] for ln in b["lines"]]


@pytest.mark.parametrize("fmt,media", [("txt", "text/plain"), ("hocr", "text/html"), ("alto", "application/xml")])
def test_ocr_text_formats(page_server, khmer_page_png, fmt, media):
    upload = {"file": ("page.png", khmer_page_png[1], "image/png")}
    first_line = page_server.post("/ocr", files=upload).json()["pages"][0]["blocks"][0]["lines"][0]["text"]
    r = page_server.post("/ocr", data={"format": fmt}, files=upload)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media)
    assert first_line.split()[0] in r.text


def test_aksar_serve_command_starts_and_answers(tmp_path):
    """The CLI end to end: `aksar serve` in its own process, a config file and a flag, then GET /health."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "serve.yaml").write_text("det: none\nmax_files: 3\n")
    proc = subprocess.Popen([sys.executable, "-m", "aksar", "serve", "--config", str(tmp_path / "serve.yaml"),
                             "--port", str(port), "--max-pages", "5"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        stop = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < stop, proc.stdout.read() if proc.poll() else "timeout"
            try:
                h = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert (h["limits"]["max_files"], h["limits"]["max_pages"], h["models"]["detector"]) == (3, 5, None)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "GET /health 200" in out  # every request is logged with its status
