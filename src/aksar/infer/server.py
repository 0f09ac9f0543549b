"""``aksar serve``: the HTTP API (FastAPI on uvicorn) over one Reader and one Recognizer loaded at startup.

    POST /ocr        an image or PDF -> the Document JSON (or hOCR / ALTO / text with ?format=)
    POST /recognize  line images -> {"lines": [{"name", "text", "confidence", "repaired"}, ...]}
    GET  /health     models, limits, busy and queued requests
    GET  /           a small web page to try /ocr; GET /docs: the OpenAPI documentation

Concurrency (see docs/notes/server.md): request bodies are read by the event loop (bounded by
``max_upload_bytes`` while they stream in); decoding and reading run in ``max_concurrency`` worker threads
that share the models (onnxruntime sessions are thread-safe for ``run``). Up to ``max_queue`` requests wait
for a worker, more get 503. Each request has ``timeout_s`` from its arrival: 503 while still queued, 504
once reading (the Reader stops at its deadline). Errors are ``{"detail": "..."}``, never a traceback.
"""
from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from dataclasses import asdict
from importlib import resources
from typing import Any, Callable, Literal

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from aksar import __version__
from aksar.core.errors import AksarError, ReadTimeout
from aksar.infer.config import ServeConfig
from aksar.infer.document import Document
from aksar.infer.server_limits import AccessLog, BodyLimit, Gate, past
from aksar.infer.server_schema import ERRORS, DocumentOut, HealthOut, RecognizeOut
from aksar.infer.uploads import UploadLimits, UploadRejected, decode_pages, decode_upload_image, label

log = logging.getLogger("aksar.server")
FORMATS = ("json", "hocr", "alto", "txt")
Format = Literal["json", "hocr", "alto", "txt"]
MEDIA_TYPES = {"json": "application/json", "hocr": "text/html; charset=utf-8",
               "alto": "application/xml; charset=utf-8", "txt": "text/plain; charset=utf-8"}
NO_DETECTOR = "none"


# -- models ---------------------------------------------------------------------------------------------------
def load_models(cfg: ServeConfig) -> tuple[Any, Any]:
    """(recognizer, reader or None) from the settings: the only place models are chosen (never by a request)."""
    from aksar.infer.recognizer import Recognizer

    recognizer = Recognizer(cfg.rec, threads=cfg.threads, lm=cfg.lm, max_pixels=cfg.max_pixels)
    if not cfg.det or cfg.det.lower() == NO_DETECTOR:
        return recognizer, None
    from aksar.infer.detector import Detector
    from aksar.infer.reader import Reader
    from aksar.models.zoo import resolve_model

    detector = Detector(resolve_model(cfg.det), threads=cfg.threads)
    return recognizer, Reader(det=detector, rec=recognizer)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, ReadTimeout)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
        parts.append(f"{'.'.join(loc) or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def render_format(doc: Document, fmt: str) -> str:
    """hOCR, ALTO or text of a Document (aksar.infer.page_outputs)."""
    from aksar.infer.page_outputs import render

    return render(doc, fmt)


# -- the app --------------------------------------------------------------------------------------------------
def create_app(settings: ServeConfig | None = None, recognizer: Any = None, reader: Any = None) -> FastAPI:
    """The FastAPI app; models load now (from ``settings``) unless given loaded."""
    cfg = settings or ServeConfig()
    for key in ("max_concurrency", "max_upload_bytes", "max_pixels", "max_pages", "max_files"):
        if getattr(cfg, key) < 1:
            raise AksarError(f"{key}: must be >= 1, got {getattr(cfg, key)}")
    if cfg.max_queue < 0 or cfg.timeout_s <= 0 or cfg.dpi <= 0:
        raise AksarError("max_queue must be >= 0, timeout_s and dpi > 0")
    if recognizer is None:
        recognizer, reader = load_models(cfg)
    limits = UploadLimits(max_pixels=cfg.max_pixels, max_pages=cfg.max_pages, dpi=cfg.dpi)
    page_html = resources.files("aksar.infer").joinpath("static/index.html").read_text(encoding="utf-8")
    # as Document.models records them (the detector None: /ocr is off)
    models = reader.describe() if reader is not None else {"recognizer": recognizer.describe(), "detector": None}
    state: dict[str, Gate] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        state["gate"] = Gate(cfg.max_concurrency, cfg.max_queue)
        log.info("aksar serve: recognizer %s, detector %s, %d workers", models["recognizer"]["name"],
                 "none (/ocr off)" if reader is None else "loaded", cfg.max_concurrency)
        yield
        state["gate"].close()

    app = FastAPI(title="aksar", version=__version__, lifespan=lifespan,
                  description="OCR for complex scripts (Khmer, Thai): pages with POST /ocr, lines with POST "
                              "/recognize. Models are chosen when the server starts, never by a request.")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s: %s (traceback follows from the server)", request.method, request.url.path,
                  type(exc).__name__, exc)
        return JSONResponse({"detail": "internal error (logged by the server)"}, status_code=500)

    def _fail(exc: Exception, where: str) -> HTTPException:
        """The HTTP answer to an error raised while reading."""
        if isinstance(exc, HTTPException):
            return exc
        if isinstance(exc, UploadRejected):
            return HTTPException(exc.status, str(exc))
        if _is_timeout(exc):
            return HTTPException(504, f"{where}: {exc} (timeout_s={cfg.timeout_s:g})")
        if isinstance(exc, AksarError):
            return HTTPException(422, f"{where}: {exc}")
        raise exc

    async def _run(work: Callable[[], Any], deadline: float, where: str) -> Any:
        try:
            return await state["gate"].run(work, deadline, cfg.timeout_s)
        except Exception as exc:  # noqa: BLE001 - mapped to an HTTP answer, or re-raised (500, logged)
            raise _fail(exc, where) from None

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page_html)

    @app.get("/health", response_model=HealthOut)
    async def health() -> dict[str, Any]:
        gate = state["gate"]
        lim = {k: v for k, v in asdict(cfg).items() if k.startswith("max_") or k in ("timeout_s", "dpi")}
        return {"status": "ok", "version": __version__, "models": models, "limits": lim,
                "active": gate.active, "queued": gate.waiting}

    @app.post("/recognize", response_model=RecognizeOut, responses=ERRORS)
    async def recognize(files: list[UploadFile] = File(..., description="line images (one text line each)"),
                        ) -> dict[str, Any]:
        deadline = time.monotonic() + cfg.timeout_s
        if len(files) > cfg.max_files:
            raise HTTPException(413, f"{len(files)} files; the limit is max_files={cfg.max_files}")
        blobs = [(label(f.filename), await f.read()) for f in files]

        def work() -> list[dict[str, Any]]:
            arrays = [decode_upload_image(data, name, cfg.max_pixels) for name, data in blobs]
            out = []
            step = recognizer.batch_size
            for start in range(0, len(arrays), step):
                past(deadline, cfg.timeout_s)
                for (name, _), p in zip(blobs[start:start + step], recognizer.predict(arrays[start:start + step])):
                    out.append({"name": name, "text": p.text, "confidence": round(float(p.confidence), 6),
                                "repaired": bool(p.repaired)})
            return out

        return {"lines": await _run(work, deadline, "recognize")}

    @app.post("/ocr", responses={200: {"model": DocumentOut, "description": "the Document JSON (format=json), "
                                       "else hOCR, ALTO or plain text",
                                       "content": {MEDIA_TYPES[f].split(";")[0]: {} for f in FORMATS[1:]}},
                                 **ERRORS})
    async def ocr(file: UploadFile = File(..., description="an image or a PDF (every page is read)"),
                  format: Format | None = Query(None, description="json (default), hocr, alto or txt"),
                  format_form: Format | None = Form(None, alias="format", description="the same as a form field"),
                  ) -> Response:
        deadline = time.monotonic() + cfg.timeout_s
        fmt = format or format_form or "json"
        name = label(file.filename)
        data = await file.read()

        def work() -> Document:
            pages = decode_pages(data, name, limits)  # the upload is checked even when /ocr is off
            if reader is None:
                raise HTTPException(503, "this server reads no pages: it was started without a detector (--det)")
            out = []
            for i, page in enumerate(pages):
                past(deadline, cfg.timeout_s)
                out.append(reader.read_page(page.pixels, index=i, source=name, source_page=page.source_page,
                                            dpi=page.dpi, deadline=deadline))
            return Document(pages=out, models=dict(models))

        doc = await _run(work, deadline, name)
        if fmt == "json":
            return JSONResponse(doc.to_dict())
        return Response(render_format(doc, fmt), media_type=MEDIA_TYPES[fmt])

    app.add_middleware(BodyLimit, limit=cfg.max_upload_bytes)
    app.add_middleware(AccessLog)
    return app


def serve(cfg: ServeConfig) -> None:
    """Load the models, then serve until interrupted (logging through aksar's handlers)."""
    import uvicorn

    app = create_app(cfg)
    uvicorn.run(app, host=cfg.host, port=cfg.port, access_log=False, log_config=None,
                timeout_graceful_shutdown=5)


class BackgroundServer:
    """``app`` served by uvicorn in a thread on a free localhost port (tests, benchmarks, notebooks).

        with BackgroundServer(create_app(ServeConfig(det="none"))) as url:
            httpx.get(f"{url}/health")
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", start_timeout_s: float = 30.0) -> None:
        self.app, self.host, self.start_timeout_s = app, host, start_timeout_s
        self.url = ""

    def __enter__(self) -> str:
        import socket
        import threading

        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, 0))
        port = self._socket.getsockname()[1]
        config = uvicorn.Config(self.app, access_log=False, log_config=None, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="aksar-serve-background", daemon=True)
        self._thread.start()
        stop = time.monotonic() + self.start_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > stop:
                raise AksarError(f"the server did not start on {self.host}:{port}")
            time.sleep(0.02)
        self.url = f"http://{self.host}:{port}"
        return self.url

    def __exit__(self, *_: Any) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


__all__ = ["create_app", "serve", "BackgroundServer", "load_models", "Gate", "BodyLimit", "AccessLog", "DocumentOut", "RecognizeOut",
           "HealthOut", "ErrorOut", "FORMATS", "MEDIA_TYPES"]
