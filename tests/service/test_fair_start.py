"""Requests read in one pass start oldest-answered connection first (api/service/fair_start.py), on a real
uvicorn server and real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from service_world import serving

from api.service import tls
from api.service.fair_start import FairHttpToolsProtocol
from api.service.settings import Settings

BLOCK_S = 0.4


class _App:
    """Answers every request at once, except /block, which holds the event loop (a blocking sleep) so that
    requests sent meanwhile are all read in the loop's next pass."""

    def __init__(self) -> None:
        self.started: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.started.append(scope["path"])
        if scope["path"] == "/block":
            time.sleep(BLOCK_S)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture()
def server() -> Iterator[tuple[int, _App]]:
    app = _App()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with serving(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                http=FairHttpToolsProtocol)):
        yield port, app


def _connect(port: int) -> socket.socket:
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def _send(c: socket.socket, path: str) -> None:
    c.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())


def _answers(c: socket.socket, n: int = 1) -> None:
    got = b""
    while got.count(b"\r\n\r\nok") < n:
        chunk = c.recv(4096)
        assert chunk, "connection closed"
        got += chunk


def test_requests_read_together_start_oldest_answered_first(server: tuple[int, _App]) -> None:
    port, app = server
    a, b, c, blocker = (_connect(port) for _ in range(4))
    try:
        for conn, path in ((c, "/warm-c"), (b, "/warm-b"), (a, "/warm-a")):  # answered: c, then b, then a
            time.sleep(0.02)
            _send(conn, path)
            _answers(conn)
        _send(blocker, "/block")
        time.sleep(BLOCK_S / 4)  # the loop is now held; the next three arrive in the order a, b, c
        for conn, path in ((a, "/a"), (b, "/b"), (c, "/c")):
            _send(conn, path)
            time.sleep(0.01)
        for conn in (blocker, a, b, c):
            _answers(conn)
        assert app.started[-4:] == ["/block", "/c", "/b", "/a"], app.started
    finally:
        for conn in (a, b, c, blocker):
            conn.close()


def test_pipelined_requests_are_answered_in_order(server: tuple[int, _App]) -> None:
    port, app = server
    with _connect(port) as conn:
        conn.sendall(b"".join(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(3)))
        _answers(conn, 3)
    assert app.started[-3:] == ["/p0", "/p1", "/p2"]


def test_serve_uses_the_fair_protocol_with_and_without_tls() -> None:
    assert tls.uvicorn_options(Settings())["http"] is FairHttpToolsProtocol
    assert issubclass(tls.TlsHttpToolsProtocol, FairHttpToolsProtocol)
