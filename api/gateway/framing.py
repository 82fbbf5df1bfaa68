"""Wire framing of the gateway: one ISO 15022 message per frame.

    frame = length (4 bytes, unsigned, big-endian) + message (ASCII bytes, exactly `length` of them)

The message is the FIN text as the codec reads it (CRLF or bare LF line ends).  A message may be at
most 10,000 characters (the network limit, counted with CRLF line ends); a frame may carry up to
MAX_FRAME bytes (the limit plus room for an envelope and stray line ends) so that a slightly oversize
message still reaches the validator and is answered with the exact reason (L04).  A frame longer than
MAX_FRAME is read and discarded (never buffered whole) and answered with a rejection; a declared
length above DISCARD_LIMIT cannot be a message at all and the session is closed after the rejection.
A zero length is a keep-alive and is ignored (no reply).

Everything here is pure: `encode` for the sending side, `FrameReader` for the receiving side of an
asyncio stream.  Problems come back as `BadFrame` values (never exceptions), so the caller can
answer them with a 548 and keep the session.
"""

from __future__ import annotations

import asyncio
import re
import struct
import time
from dataclasses import dataclass

HEADER = struct.Struct(">I")
MAX_MESSAGE_CHARS = 10_000
MAX_FRAME = MAX_MESSAGE_CHARS + 2_000  # envelope slack: answered by the validator (L04), not here
DISCARD_LIMIT = 1 << 20  # a declared length above this closes the session
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FrameError(Exception):
    """A frame that cannot be sent (encode side)."""


@dataclass(frozen=True)
class BadFrame:
    """A frame we could read but not use: `code` (our L-codes / SWIFT M60) and a reason.
    `fatal`: the stream cannot be resynchronised; answer, then close."""

    code: str
    reason: str
    fatal: bool = False


def encode(message: str | bytes) -> bytes:
    """One frame for `message` (str is encoded as ASCII; anything else raises FrameError)."""
    if isinstance(message, str):
        try:
            body = message.encode("ascii")
        except UnicodeEncodeError as exc:
            raise FrameError(f"message is not ASCII at position {exc.start}") from None
    else:
        body = bytes(message)
    if len(body) > DISCARD_LIMIT:
        raise FrameError(f"message of {len(body)} bytes is over the frame limit")
    return HEADER.pack(len(body)) + body


def encode_raw(body: bytes) -> bytes:
    """A frame around arbitrary bytes (tests and fuzzing: no checks)."""
    return HEADER.pack(len(body)) + body


class FrameReader:
    """Reads frames from an asyncio StreamReader.

    `read()` returns the message text, a `BadFrame`, or None at a clean end of stream.  A stream
    that ends inside a frame raises asyncio.IncompleteReadError; a frame whose body does not
    arrive within `body_timeout` seconds raises TimeoutError (the caller closes the session).
    """

    def __init__(self, reader: asyncio.StreamReader, body_timeout: float | None = 30.0) -> None:
        self.reader = reader
        self.body_timeout = body_timeout  # None: no timer per frame (the caller watches `in_frame_since`)
        self.in_frame_since: float | None = None  # monotonic time a frame's length was read, until its body is
        self.last_frame_at = time.monotonic()

    async def read(self) -> str | BadFrame | None:
        while True:
            try:
                head = await self.reader.readexactly(HEADER.size)
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    return None
                raise
            (length,) = HEADER.unpack(head)
            if length == 0:
                self.last_frame_at = time.monotonic()
                continue  # keep-alive
            if length > DISCARD_LIMIT:
                return BadFrame("L04", f"frame length {length} is over {DISCARD_LIMIT} bytes", fatal=True)
            self.in_frame_since = time.monotonic()
            async with asyncio.timeout(self.body_timeout):  # no task per frame (unlike wait_for)
                if length > MAX_FRAME:
                    await self._discard(length)
                    self._done()
                    return BadFrame("L04", f"frame of {length} bytes: a message is at most {MAX_MESSAGE_CHARS} "
                                           "characters")
                body = await self.reader.readexactly(length)
            self._done()
            return decode_body(body)

    def _done(self) -> None:
        self.in_frame_since = None
        self.last_frame_at = time.monotonic()

    async def _discard(self, n: int) -> None:
        while n > 0:
            chunk = await self.reader.read(min(n, 65536))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", n)
            n -= len(chunk)


def decode_body(body: bytes) -> str | BadFrame:
    """Frame body -> message text, or a BadFrame for bytes outside ASCII / set X control chars."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        return BadFrame("M60", f"byte 0x{body[exc.start]:02x} at offset {exc.start} is not ASCII")
    bad = _CONTROL.search(text)
    if bad is not None:
        return BadFrame("M60", f"control character 0x{ord(bad.group()):02x} at offset {bad.start()}")
    return text


__all__ = ["BadFrame", "DISCARD_LIMIT", "FrameError", "FrameReader", "HEADER", "MAX_FRAME",
           "MAX_MESSAGE_CHARS", "decode_body", "encode", "encode_raw"]
