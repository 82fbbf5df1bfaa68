"""BodyLimit at the ASGI level: declared sizes refused up front, chunked bodies counted while they stream, and
bodiless or declared-size requests passed on with the server's own receive and send."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from api.service.limits import BodyLimit, Message


def _run(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, dict[str, Any], bool]:
    """Status and error body of one request through BodyLimit(max 10 bytes) around an app that reads the whole
    body; and whether the app got the server's own receive and send."""
    sent: list[Message] = []
    pending = list(chunks)
    direct = [False]

    async def receive() -> Message:
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(msg: Message) -> None:
        sent.append(msg)

    async def app(scope: Any, rcv: Any, snd: Any) -> None:
        direct[0] = rcv is receive and snd is send
        more = True
        while more:
            msg = await rcv()
            more = msg.get("more_body", False)
        await snd({"type": "http.response.start", "status": 200, "headers": []})
        await snd({"type": "http.response.body", "body": b"{}"})

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(BodyLimit(app, max_bytes=10)(scope, receive, send))
    return int(sent[0]["status"]), json.loads(sent[1]["body"]), direct[0]


def test_bodiless_and_declared_requests_are_passed_on_unwrapped() -> None:
    assert _run([], []) == (200, {}, True)
    assert _run([(b"content-length", b"10")], [b"x" * 10]) == (200, {}, True)


def test_a_declared_size_over_the_limit_is_refused_up_front() -> None:
    status, err, _ = _run([(b"content-length", b"11")], [b"x" * 11])
    assert status == 413 and err["error"]["code"] == "payload_too_large"
    assert _run([(b"content-length", b"ten")], [])[:1] == (400,)


def test_a_chunked_body_is_counted_as_it_streams() -> None:
    te = [(b"transfer-encoding", b"chunked")]
    assert _run(te, [b"x" * 5, b"x" * 5]) == (200, {}, False)
    status, err, _ = _run(te, [b"x" * 6, b"x" * 5])
    assert status == 413 and err["error"]["code"] == "payload_too_large"
