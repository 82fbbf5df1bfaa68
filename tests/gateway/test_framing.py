"""Framing: 4-byte big-endian length + ASCII message; bad frames are values, never exceptions."""

from __future__ import annotations

import asyncio
import struct

import pytest

from api.gateway.framing import (
    DISCARD_LIMIT,
    MAX_FRAME,
    BadFrame,
    FrameError,
    FrameReader,
    decode_body,
    encode,
    encode_raw,
)


def _read_all(data: bytes, eof: bool = True) -> list[str | BadFrame | None]:
    async def go() -> list[str | BadFrame | None]:
        r = asyncio.StreamReader()
        r.feed_data(data)
        if eof:
            r.feed_eof()
        fr = FrameReader(r, body_timeout=0.5)
        out: list[str | BadFrame | None] = []
        while True:
            item = await fr.read()
            out.append(item)
            if item is None or (isinstance(item, BadFrame) and item.fatal):
                return out
    return asyncio.run(go())


def test_encode_is_length_prefix_big_endian() -> None:
    assert encode("ABC") == b"\x00\x00\x00\x03ABC"
    assert encode(b"\r\n") == struct.pack(">I", 2) + b"\r\n"


def test_encode_refuses_non_ascii() -> None:
    with pytest.raises(FrameError):
        encode("caf\u00e9")


def test_frames_back_to_back_and_keepalive() -> None:
    data = encode("{1:A}") + struct.pack(">I", 0) + encode("{1:B}")
    assert _read_all(data) == ["{1:A}", "{1:B}", None]


def test_non_ascii_and_control_bytes_are_bad_frames_and_reading_goes_on() -> None:
    out = _read_all(encode_raw(b"\xff\xfe garbage") + encode_raw(b"a\x00b") + encode("{1:OK}"))
    assert isinstance(out[0], BadFrame) and out[0].code == "M60" and not out[0].fatal
    assert isinstance(out[1], BadFrame) and out[1].code == "M60"
    assert out[2:] == ["{1:OK}", None]


def test_oversize_frame_is_discarded_and_answered_then_next_frame_reads() -> None:
    out = _read_all(encode_raw(b"X" * (MAX_FRAME + 1)) + encode("{1:NEXT}"))
    assert isinstance(out[0], BadFrame) and out[0].code == "L04" and not out[0].fatal
    assert out[1:] == ["{1:NEXT}", None]


def test_absurd_length_is_fatal() -> None:
    out = _read_all(struct.pack(">I", DISCARD_LIMIT + 1) + b"xx")
    assert isinstance(out[0], BadFrame) and out[0].fatal


def test_stream_ending_inside_a_frame_raises_incomplete_read() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        _read_all(struct.pack(">I", 100) + b"short")


def test_body_that_never_arrives_times_out() -> None:
    with pytest.raises(TimeoutError):
        _read_all(struct.pack(">I", 100) + b"short", eof=False)


def test_decode_body_accepts_crlf() -> None:
    assert decode_body(b"{1:\r\n}") == "{1:\r\n}"
