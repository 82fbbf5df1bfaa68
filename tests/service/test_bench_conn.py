"""The benchmarks' HTTP client (scripts/bench_api.py Conn): one keep-alive connection for many requests, bodies
both ways, chunked answers, and a new connection when the server closes the old one."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from bench_api import Conn  # noqa: E402


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0

    def setup(self) -> None:
        type(self).connections += 1
        super().setup()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"ab", b"cde"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            self._send(200, b"bye", close=True)
        else:
            self._send(404 if self.path == "/missing" else 200,
                       f"{self.path} {self.headers.get('X-API-Key')}".encode())

    def do_POST(self) -> None:
        self._send(201, self.rfile.read(int(self.headers["Content-Length"])))


@pytest.fixture()
def port() -> Iterator[int]:
    _Handler.connections = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_one_connection_for_many_requests(port: int) -> None:
    c = Conn(port, {"X-API-Key": "k1"})
    for i in range(20):
        assert c.request("GET", f"/r{i}") == (200, f"/r{i} k1".encode())
    assert c.request("GET", "/missing")[0] == 404
    assert c.request("POST", "/echo", {"a": [1, 2]}) == (201, b'{"a": [1, 2]}')
    assert c.json("POST", "/echo", b'{"b": 3}', expect=201) == {"b": 3}
    assert c.request("GET", "/chunked") == (200, b"abcde")
    assert _Handler.connections == 1
    c.close()


def test_a_closed_connection_is_opened_again(port: int) -> None:
    c = Conn(port)
    assert c.request("GET", "/close") == (200, b"bye")
    assert c.request("GET", "/after") == (200, b"/after None")
    assert _Handler.connections == 2
    with pytest.raises(RuntimeError, match="404"):
        c.json("GET", "/missing")
    c.close()
