"""Request size limit (413) and per-caller token-bucket rate limit (429 with Retry-After), as ASGI middleware."""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.service.errors import body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _error(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(body(status, message)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": payload})


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse bodies over `max_bytes`: by Content-Length up front, or while a chunked body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunked = False
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    await _error(send, 400, "bad Content-Length")
                    return
                if declared > self.max_bytes:
                    await _error(send, 413, f"request body over {self.max_bytes} bytes")
                    return
            elif k == b"transfer-encoding":
                chunked = True
        if not chunked:
            # The server reads no more body than Content-Length says, and none without it (HTTP/1.1): nothing
            # to count, so no wrapped receive and send (most requests are bodiless reads).
            await self.app(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return msg

        async def tracking(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited, tracking)
        except _TooLarge:
            if not started:
                await _error(send, 413, f"request body over {self.max_bytes} bytes")


class TokenBuckets:
    """One bucket per caller key: `burst` tokens, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed, else seconds until a token is available."""
        t = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), t))
            tokens = min(float(self.burst), tokens + (t - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, t)
                return 0.0
            self._buckets[key] = (tokens, t)
            if len(self._buckets) > 100_000:  # bound memory: forget full buckets
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst}
            return (1.0 - tokens) / self.rate


def caller_key(scope: Scope) -> str:
    """The caller: its credential (hashed) if it sent one, else its address."""
    for k, v in scope.get("headers", []):
        if k in (b"authorization", b"x-api-key"):
            return "c:" + hashlib.sha256(v).hexdigest()[:32]
    client = scope.get("client")
    return "ip:" + (str(client[0]) if client else "?")


class RateLimit:
    def __init__(self, app: ASGIApp, buckets: TokenBuckets, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.buckets = buckets
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") not in self.exempt:
            wait = self.buckets.take(caller_key(scope))
            if wait > 0:
                await _error(send, 429, "too many requests; slow down",
                             [(b"retry-after", str(max(1, math.ceil(wait))).encode())])
                return
        await self.app(scope, receive, send)
