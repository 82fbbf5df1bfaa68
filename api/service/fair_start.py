"""Requests start in the order their connections were last answered (uvicorn's httptools protocol).

Why: under load the event loop alternates between reading every socket that is ready and running every
request task it created. epoll hands ready sockets back in a stable order, so a client whose next request
arrives a moment after the loop looked goes to the back of the following batch, behind requests sent up to
a whole batch later: with 50 busy clients about one request in fifty waited two batches, which set the
99th percentile at twice the median. Here the requests read in one pass are started oldest-answered first
(a new connection counts from when it opened), so each waits about one batch. Measured with
scripts/bench_api.py; see README.md, "Participant service performance".

uvicorn starts a request in `HttpToolsProtocol._start_asgi_task`; this protocol defers that call to one
callback per loop pass, which sorts what the pass read. uvicorn is pinned; tests/service/test_fair_start.py
fails if the hook stops being called.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _StartQueue:
    """The request starts deferred during one pass of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: list[tuple[float, Callable[[], None]]] = []

    def add(self, answered_at: float, start: Callable[[], None]) -> None:
        if not self.waiting:
            self.loop.call_soon(self.start_all)  # runs after the callbacks of this pass: it sees them all
        self.waiting.append((answered_at, start))

    def start_all(self) -> None:
        batch, self.waiting = self.waiting, []
        batch.sort(key=lambda item: item[0])  # stable: equal times keep the order they were read in
        for _, start in batch:
            start()


_QUEUES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _StartQueue] = weakref.WeakKeyDictionary()


def _queue(loop: asyncio.AbstractEventLoop) -> _StartQueue:
    q = _QUEUES.get(loop)
    if q is None:
        q = _QUEUES[loop] = _StartQueue(loop)
    return q


class FairHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; among requests read together, the connection answered longest ago
    starts first."""

    _answered_at = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._answered_at = time.monotonic()
        super().connection_made(transport)

    def on_response_complete(self) -> None:
        self._answered_at = time.monotonic()
        super().on_response_complete()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        start = super()._start_asgi_task
        _queue(self.loop).add(self._answered_at, lambda: start(cycle, app))
