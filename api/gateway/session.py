"""One participant's connection: a bounded outbound queue drained by its own writer task.

Nothing the gateway does waits for a participant's socket: `enqueue` puts a message on the
session's queue (the writer's working set) and returns; what does not fit waits in the participant's
mailbox (server.py), from which the writer refills the queue as it drains.  The writer task writes
and drains with a timeout; a participant that does not read (a drain that does not finish within
`write_timeout`, replies piling up while it keeps sending, or a mailbox over its bound) is dropped
with a log line; what was still queued goes back to the mailbox for its next session (a message
being written when the connection broke may be lost: pushes are delivered at most once per session).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from api.gateway.framing import encode

log = logging.getLogger("ledgerclear.gateway")


class Session:
    def __init__(self, participant: str, writer: asyncio.StreamWriter, *, queue_size: int = 1000,
                 write_timeout: float = 10.0, high_water: int = 256 * 1024) -> None:
        self.participant = participant
        self.writer = writer
        self.write_timeout = write_timeout
        self.high_water = high_water  # bytes buffered for the socket before the writer waits
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=queue_size)
        self.closed = False
        self.sent = 0
        self.peer = writer.get_extra_info("peername")
        self._task: asyncio.Task[None] | None = None
        self.refill: Callable[[], None] | None = None  # called after each write: top up from the mailbox
        self._room = asyncio.Event()  # set by the writer when the queue is at most half full
        self._room.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._write_loop(), name=f"session-{self.participant}")

    def busy(self) -> bool:
        """More than half the outbound queue is waiting: the reader should let the writer catch up."""
        return self.queue.qsize() > self.queue.maxsize // 2

    async def wait_room(self) -> None:
        """Back-pressure on a participant that sends faster than it reads: wait (at most
        `write_timeout`) until the writer has brought the queue down to half; else drop the session."""
        self._room.clear()
        try:
            async with asyncio.timeout(self.write_timeout):
                while self.busy() and not self.closed:
                    self._room.clear()
                    await self._room.wait()
        except TimeoutError:
            log.warning("participant %s %s: replies not read for %.1f s, dropping the session", self.participant,
                        self.peer, self.write_timeout)
            self.abort("slow consumer")

    def room(self) -> int:
        return 0 if self.closed else self.queue.maxsize - self.queue.qsize()

    def enqueue(self, text: str) -> bool:
        """Queue one message if there is room; False if not (the caller keeps it in the mailbox)."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def _write_loop(self) -> None:
        try:
            while True:
                frame = await self.queue.get()
                if frame is None:
                    break
                # Everything already queued goes out in one write (one TLS record, one syscall).
                frames: list[str] = [frame]
                stop = False
                while not self.queue.empty() and len(frames) < 256:
                    more = self.queue.get_nowait()
                    if more is None:
                        stop = True
                        break
                    frames.append(more)
                self.writer.write(b"".join(encode(f) for f in frames))
                self.sent += len(frames)
                if stop:
                    break
                if self.refill is not None and self.queue.empty():
                    self.refill()
                if self.queue.qsize() <= self.queue.maxsize // 2:
                    self._room.set()
                if self.writer.transport.get_write_buffer_size() > self.high_water:
                    await asyncio.wait_for(self._below_high_water(), self.write_timeout)
        except TimeoutError:
            log.warning("participant %s %s: not reading for %.1f s, dropping the session", self.participant,
                        self.peer, self.write_timeout)
            self.abort("write timeout")
        except (ConnectionError, OSError) as exc:
            log.info("participant %s %s: connection lost while writing (%s)", self.participant, self.peer, exc)
            self.abort("connection lost")
        finally:
            if not self.closed:
                self.closed = True
                self._close_transport()

    async def _below_high_water(self) -> None:
        # TLS transports do not always pause the writer (drain() returns with megabytes buffered),
        # so watch the buffer ourselves.
        await self.writer.drain()
        while self.writer.transport.get_write_buffer_size() > self.high_water:
            await asyncio.sleep(0.005)

    def close(self) -> None:
        """Graceful: send what is queued, then close."""
        if self.closed:
            return
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.abort("closing with a full queue")

    def abort(self, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._room.set()
        log.info("participant %s %s: session closed (%s)", self.participant, self.peer, why)
        self.writer.transport.abort()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    def _close_transport(self) -> None:
        try:
            self.writer.close()
        except Exception:  # closing a broken transport may fail; it is gone either way
            pass

    def unsent(self) -> list[str]:
        """Messages still queued when the session ended (the server puts them back in the mailbox)."""
        out: list[str] = []
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if item is not None:
                out.append(item)
        return out

    async def wait_closed(self) -> None:
        if self._task is not None:
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass


__all__ = ["Session"]
