"""The participant side (PSS): connect with a client certificate, send messages, collect replies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from api.gateway.framing import FrameReader, encode, encode_raw
from api.gateway.server import client_context


class PssClient:
    """One participant session.  `replies` is an asyncio.Queue of every message the gateway sent."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.replies: asyncio.Queue[str] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, host: str, port: int, certs: Path, participant: str,
                      server_name: str | None = None, timeout: float = 10.0) -> PssClient:
        ctx = client_context(certs, participant)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname=server_name or host, limit=1 << 16), timeout)
        return cls(reader, writer)

    async def _read(self) -> None:
        frames = FrameReader(self.reader, body_timeout=30.0)
        try:
            while True:
                item = await frames.read()
                if item is None or not isinstance(item, str):
                    break
                self.replies.put_nowait(item)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, TimeoutError):
            pass
        finally:
            self.closed.set()

    async def send(self, message: str) -> None:
        self.writer.write(encode(message))
        await self.writer.drain()

    async def send_raw(self, data: bytes, framed: bool = True) -> None:
        self.writer.write(encode_raw(data) if framed else data)
        await self.writer.drain()

    async def next(self, timeout: float = 10.0) -> str:
        return await asyncio.wait_for(self.replies.get(), timeout)

    async def until(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> list[str]:
        """Collect replies until one satisfies `predicate` (returned last); TimeoutError otherwise."""
        got: list[str] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            left = end - loop.time()
            if left <= 0:
                raise TimeoutError(f"no matching reply within {timeout} s; got {len(got)} replies")
            msg = await asyncio.wait_for(self.replies.get(), left)
            got.append(msg)
            if predicate(msg):
                return got

    async def drain_idle(self, idle: float) -> list[str]:
        """Every reply until none arrives for `idle` seconds (or the connection closes)."""
        got: list[str] = []
        while True:
            try:
                got.append(await asyncio.wait_for(self.replies.get(), idle))
            except TimeoutError:
                return got

    async def close(self) -> None:
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)
        except Exception:  # closing a broken connection may fail; it is gone either way
            pass
        self._task.cancel()


async def send_files(host: str, port: int, certs: Path, participant: str, messages: Sequence[str],
                     wait: float, server_name: str | None = None,
                     on_reply: Callable[[str], None] | None = None) -> list[str]:
    """Connect, send every message, print/collect replies until idle for `wait` seconds."""
    client = await PssClient.connect(host, port, certs, participant, server_name)
    try:
        for m in messages:
            await client.send(m)
        got: list[str] = []
        while True:
            try:
                msg = await asyncio.wait_for(client.replies.get(), wait)
            except TimeoutError:
                break
            got.append(msg)
            if on_reply is not None:
                on_reply(msg)
        return got
    finally:
        await client.close()


__all__ = ["PssClient", "send_files"]
