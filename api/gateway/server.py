"""The gateway server: TLS listener, participant sessions, routing, timers.

Mutual TLS: the server presents `server.pem`; every client must present a certificate signed by
the local CA (`ca.pem`) and its common name is the participant id the session acts for.  A
certificate from another CA fails the handshake; a CN that is not a registered participant is
closed at once.  One session per participant: a new connection replaces the old one.

Messages for a participant without a session wait in its mailbox (bounded) and are delivered, in
order, when it next connects.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import ssl
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.gateway.engine import Engine
from api.gateway.framing import BadFrame, FrameReader
from api.gateway.journal import Journal, read_journal
from api.gateway.refdata import RefData
from api.gateway.session import Session
from api.gateway.worker import LedgerSpec, LedgerWorker

log = logging.getLogger("ledgerclear.gateway")


@dataclass(frozen=True)
class GatewayConfig:
    realtime: bool = True  # settle each match at once by DvP (else wait for batch runs)
    batch_interval: float | None = None  # seconds between batch runs (recycling); None: operator only
    queue_size: int = 1000  # outbound messages per session before it is dropped as a slow consumer
    write_timeout: float = 10.0  # seconds a session's socket may refuse writes before it is dropped
    idle_timeout: float = 600.0  # seconds without any inbound frame (send a zero-length keep-alive)
    frame_timeout: float = 30.0  # seconds for a frame's body to arrive once its length was read
    mailbox_size: int = 10_000  # messages kept for a participant that is not connected
    send_buffer: int | None = None  # SO_SNDBUF per session (bytes); None: the OS default (autotuned)
    freeze_gc: bool = True  # move surviving objects out of the collector's scans every second
    journal: Path | None = None  # accepted messages, replayed on start (see journal.py)


def server_context(certs: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certs / "server.pem", certs / "server.key")
    ctx.load_verify_locations(cafile=str(certs / "ca.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(certs: Path, participant: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs / "ca.pem"))
    ctx.load_cert_chain(certs / f"{participant}.pem", certs / f"{participant}.key")
    return ctx


def peer_participant(writer: asyncio.StreamWriter) -> str | None:
    cert: Any = writer.get_extra_info("peercert")
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class Gateway:
    """Use `await Gateway.create(...)`, then `await start(host, port)`, ..., `await close()`."""

    def __init__(self, ledger: LedgerWorker, refdata: RefData, certs: Path, config: GatewayConfig) -> None:
        self.ledger = ledger
        self.refdata = refdata
        self.certs = certs
        self.config = config
        self.sessions: dict[str, Session] = {}
        self.mailboxes: dict[str, deque[str]] = {}
        self.journal = Journal(config.journal) if config.journal is not None else None
        self.engine = Engine(refdata, ledger, self.route, realtime=config.realtime, journal=self.journal)
        self.replayed = 0
        if config.journal is not None:
            self.replayed = self.engine.replay(read_journal(config.journal))
            if self.replayed:
                log.info("replayed %d accepted messages from %s", self.replayed, config.journal)
        self.server: asyncio.Server | None = None
        self._timers: list[asyncio.Task[None]] = []
        self._conns: set[asyncio.Task[Any]] = set()
        self._readers: dict[Session, FrameReader] = {}

    @classmethod
    async def create(cls, certs: Path, config: GatewayConfig | None = None, *, participants: Sequence[str] = (),
                     rpc_url: str | None = None, db_url: str = "sqlite://", deployment_file: Path | None = None,
                     in_thread: bool = False, market_dir: Path | None = None) -> Gateway:
        """Start the ledger worker (the market in `market_dir`, a fresh demo market for `participants`, or
        the deployment in `deployment_file` with the store at `db_url`) and build the gateway around it."""
        spec = LedgerSpec(tuple(participants), rpc_url, db_url, deployment_file, market_dir)
        ledger = LedgerWorker(spec, in_thread=in_thread)
        try:
            refdata = await ledger.call("refdata")
        except BaseException:
            ledger.shutdown()
            raise
        return cls(ledger, refdata, certs, config or GatewayConfig())

    # ---- lifecycle ------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        # The chain, contracts and reference data loaded so far live for the whole process: move them
        # out of the collector's sight so a full collection never scans them (tens of ms on the
        # acknowledgement path otherwise).
        gc.collect()
        gc.freeze()
        self.engine.start()
        self.server = await asyncio.start_server(self._connection, host, port, ssl=server_context(self.certs),
                                                 ssl_handshake_timeout=10.0, limit=1 << 16)
        self._timers.append(asyncio.get_running_loop().create_task(self._watchdog()))
        if self.config.batch_interval:
            self._timers.append(asyncio.get_running_loop().create_task(self._batch_timer(self.config.batch_interval)))
        sock = self.server.sockets[0].getsockname()
        log.info("gateway listening on %s:%d (TLS, client certificates from %s)", sock[0], sock[1], self.certs)
        return str(sock[0]), int(sock[1])

    def install_signals(self) -> None:
        """SIGUSR1: a batch run now; SIGUSR2: day end (final run, statements). SIGTERM/SIGINT: stop."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: loop.create_task(self._operator("batch")))
        loop.add_signal_handler(signal.SIGUSR2, lambda: loop.create_task(self._operator("day end")))

    async def _operator(self, what: str) -> None:
        try:
            figures = await (self.engine.day_end() if what == "day end" else self.engine.run_batch("operator run"))
            if what == "day end" and self.config.freeze_gc:
                gc.unfreeze()  # a quiet moment: collect the day's garbage cycles once, then freeze again
                gc.collect()
                gc.freeze()
            log.info("%s: settled %s, pending %s %s", what, figures.get("settled"), figures.get("pending"),
                     figures.get("pending_by_reason"))
        except Exception:
            log.exception("%s failed", what)

    async def _batch_timer(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._operator("batch")

    async def _watchdog(self) -> None:
        """Close sessions idle too long or stuck inside a frame (one timer for all, none per frame)."""
        period = max(0.05, min(1.0, self.config.frame_timeout / 4, self.config.idle_timeout / 4))
        last_freeze = time.monotonic()
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            if self.journal is not None:
                self.journal.sync()
            if self.config.freeze_gc and now - last_freeze >= 1.0:
                # What survived the last second is mostly the day's state (book, references): keep it out
                # of the collector's scans, so a collection stays short (a full one over a busy day's heap
                # pauses the loop for 50-100 ms).  Day end collects everything once (engine.day_end).
                gc.freeze()
                last_freeze = now
            for session, frames in list(self._readers.items()):
                if frames.in_frame_since is not None and now - frames.in_frame_since > self.config.frame_timeout:
                    session.abort(f"frame body not received within {self.config.frame_timeout:g} s")
                elif frames.in_frame_since is None and now - frames.last_frame_at > self.config.idle_timeout:
                    session.abort(f"idle for {self.config.idle_timeout:g} s")

    async def close(self) -> None:
        for t in self._timers:
            t.cancel()
        if self.server is not None:
            self.server.close()
        sessions = list(self.sessions.values())
        for s in sessions:
            s.abort("gateway stopping")
        for s in sessions:
            await s.wait_closed()
        for t in list(self._conns):
            t.cancel()
        if self._conns:
            await asyncio.gather(*self._conns, return_exceptions=True)
        await self.engine.stop()
        if self.journal is not None:
            self.journal.close()
        self.ledger.shutdown()

    # ---- routing --------------------------------------------------------------------------------

    def route(self, participant: str, text: str) -> None:
        """Queue a message for a participant: its session's queue, or its mailbox (in order)."""
        session = self.sessions.get(participant)
        box = self.mailboxes.get(participant)
        if session is not None and not session.closed and not box and session.enqueue(text):
            return
        box = self._mailbox(participant)
        box.append(text)
        if session is not None and not session.closed:
            self._refill(session)
            if len(box) >= self.config.mailbox_size:
                log.warning("participant %s: %d messages waiting, dropping the session (slow consumer)",
                            participant, len(box))
                session.abort("slow consumer")

    def _mailbox(self, participant: str) -> deque[str]:
        box = self.mailboxes.get(participant)
        if box is None:
            box = self.mailboxes[participant] = deque(maxlen=self.config.mailbox_size)
        elif len(box) == box.maxlen:
            log.warning("participant %s: mailbox full (%d), the oldest message is dropped", participant, box.maxlen)
        return box

    def _refill(self, session: Session) -> None:
        """Move mailbox messages into the session's queue as far as it has room (the writer calls this
        after each write, so a long backlog is delivered at the participant's pace)."""
        if session.closed or self.sessions.get(session.participant) is not session:
            return
        box = self.mailboxes.get(session.participant)
        while box and session.room() > 0:
            session.enqueue(box.popleft())

    # ---- connections ----------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            pass  # the gateway is stopping; the session was aborted
        finally:
            if task is not None:
                self._conns.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pid = peer_participant(writer)
        peer = writer.get_extra_info("peername")
        if pid is None or pid not in self.refdata.participants:
            log.warning("connection from %s with certificate CN %r: not a participant, closed", peer, pid)
            writer.transport.abort()
            return
        if self.config.send_buffer:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.config.send_buffer)
        session = Session(pid, writer, queue_size=self.config.queue_size, write_timeout=self.config.write_timeout)
        old = self.sessions.get(pid)
        if old is not None:
            old.abort("replaced by a new session")
        self.sessions[pid] = session
        session.start()
        log.info("participant %s connected from %s", pid, peer)
        session.refill = lambda: self._refill(session)
        self._refill(session)
        frames = FrameReader(reader, body_timeout=None)  # timeouts: the watchdog, no timer per frame
        self._readers[session] = frames
        why = "closed by the participant"
        handled = 0
        try:
            while not session.closed:
                if session.busy():
                    await session.wait_room()  # read no more from a participant that does not read
                    continue
                handled += 1
                if handled % 16 == 0:
                    await asyncio.sleep(0)  # a burst from one participant never starves the others
                item = await frames.read()
                if item is None:
                    break
                if isinstance(item, BadFrame):
                    self.engine.handle_bad_frame(pid, item)
                    if item.fatal:
                        why = f"unrecoverable frame ({item.reason})"
                        break
                    continue
                self.engine.handle(pid, item)
        except asyncio.IncompleteReadError:
            why = "connection ended inside a frame"
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            why = f"connection lost ({exc})"
        except asyncio.CancelledError:
            session.abort("gateway stopping")
            raise
        finally:
            self._readers.pop(session, None)
            if self.sessions.get(pid) is session:
                del self.sessions[pid]
        log.info("participant %s %s: %s", pid, peer, why)
        session.close()
        await session.wait_closed()
        self._keep(pid, session.unsent())

    def _keep(self, participant: str, texts: list[str]) -> None:
        """Put undelivered messages (in order) in front of the participant's mailbox."""
        if not texts:
            return
        live = self.sessions.get(participant)
        if live is not None and not live.closed:  # a newer session took over: it gets them now
            for t in texts:
                self.route(participant, t)
            return
        self._mailbox(participant).extendleft(reversed(texts))


__all__ = ["Gateway", "GatewayConfig", "client_context", "peer_participant", "server_context"]
