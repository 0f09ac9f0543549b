"""Limits of ``aksar serve`` as ASGI pieces: admission (at most ``max_concurrency`` requests at work and
``max_queue`` waiting, each with its deadline), the request-body size limit enforced while the body streams in,
and the access log."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from fastapi import HTTPException

log = logging.getLogger("aksar.server")

class Gate:
    """Runs blocking work in a bounded pool; refuses (503) when ``max_queue`` requests already wait."""

    def __init__(self, workers: int, queue: int) -> None:
        self.workers, self.queue = workers, queue
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aksar-serve")
        self.slots = asyncio.Semaphore(workers)
        self.active = 0
        self.waiting = 0

    async def run(self, work: Callable[[], Any], deadline: float, timeout_s: float) -> Any:
        if self.slots.locked() and self.waiting >= self.queue:
            raise HTTPException(503, f"server busy: {self.waiting} requests already wait (max_queue={self.queue}); "
                                     "retry later")
        self.waiting += 1
        try:
            await asyncio.wait_for(self.slots.acquire(), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise HTTPException(503, f"server busy: no worker free within timeout_s={timeout_s:g} s; "
                                     "retry later") from None
        finally:
            self.waiting -= 1
        self.active += 1
        future = asyncio.get_running_loop().run_in_executor(self.pool, work)
        future.add_done_callback(self._release)  # the slot stays taken until the work really ends
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise HTTPException(504, f"reading took longer than timeout_s={timeout_s:g} s") from None

    def _release(self, _: Any) -> None:
        self.active -= 1
        self.slots.release()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def past(deadline: float, timeout_s: float) -> None:
    """504 once ``deadline`` (``time.monotonic()``) has passed (checked between steps of the work)."""
    if time.monotonic() > deadline:
        raise HTTPException(504, f"reading took longer than timeout_s={timeout_s:g} s")


# -- ASGI middleware: body limit and access log ---------------------------------------------------------------
class _BodyTooLarge(Exception):
    pass


async def _send_json(send: Callable, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})


async def _drain(receive: Callable, max_bytes: int, max_s: float) -> None:
    """Read and drop what is left of a refused body (up to ``max_bytes`` / ``max_s``), so that the client, still
    sending, reads the refusal instead of a connection reset."""
    stop = time.monotonic() + max_s
    while max_bytes > 0:
        try:
            message = await asyncio.wait_for(receive(), timeout=max(0.0, stop - time.monotonic()))
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        max_bytes -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyLimit:
    """413 for a request body over ``limit`` bytes: from Content-Length before reading, else as soon as the
    streamed body passes it. Nothing past the limit is kept; up to ``drain_factor`` x ``limit`` more bytes are
    read and dropped before answering, so that ordinary clients see the 413 (larger bodies: connection closed)."""

    drain_factor, drain_s = 2, 10.0

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    def _refusal(self, seen: str) -> dict[str, str]:
        return {"detail": f"request body over max_upload_bytes={self.limit} ({seen})"}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            if int(length) <= self.drain_factor * self.limit:
                await _drain(receive, int(length), self.drain_s)
            return await _send_json(send, 413, self._refusal(f"Content-Length: {int(length)}"))
        seen, over, started = 0, False, False

        async def limited_receive() -> dict:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if over:  # whatever the app answers to a cut body, the client gets the 413
                return
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            pass
        if over and not started:
            await _drain(receive, self.drain_factor * self.limit, self.drain_s)
            await _send_json(send, 413, self._refusal(f"stopped reading after {seen} bytes"))


class AccessLog:
    """One log line per request: method, path, status, milliseconds, client."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 0

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception:
            status = status or 500  # answered by Starlette's ServerErrorMiddleware, outside this one
            raise
        finally:
            client = scope.get("client") or ("-", 0)
            log.info("%s %s %s %d %.1f ms", client[0], scope["method"], scope["path"], status,
                     (time.perf_counter() - start) * 1000)
