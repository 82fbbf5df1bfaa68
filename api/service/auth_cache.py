"""The authentication cache: credentials that authenticated, remembered per process while the auth epoch holds.

Looking a credential up costs an ORM transaction with one or two queries. Each process remembers the principals
of credentials that authenticated, but only while the database's auth epoch (the one row of svc_auth_epoch) is
unchanged: every change that can revoke or alter a credential raises it in its own transaction
(`bump_auth_epoch`), so every worker process forgets at once when that commits. A request waits for a read of
the epoch that started after it arrived (`EpochReads`: one small Core query shared by the requests that arrive
together), so a revocation committed by any process is seen on the next request. Only successes
are remembered, keyed by a hash of the credential (never a secret in clear); expiry is checked by the caller on
every request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Connection, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.service.db import AuthEpochRow
from api.service.principal import Principal

AUTH_CACHE_SIZE = 10_000  # entries per process and database; the least recently used go first
_EPOCH_ID = 1
_READ_EPOCH = select(AuthEpochRow.epoch).where(AuthEpochRow.id == _EPOCH_ID)
_BUMP_EPOCH = (update(AuthEpochRow).where(AuthEpochRow.id == _EPOCH_ID)
               .values(epoch=AuthEpochRow.epoch + 1).execution_options(synchronize_session=False))

def bump_auth_epoch(s: Session) -> None:
    """In the transaction of a change that can revoke or alter a credential: once it commits, every process's
    cache is void."""
    res = s.execute(_BUMP_EPOCH)
    if getattr(res, "rowcount", 1) != 1:
        raise _epoch_missing()


def read_epoch(conn: Connection) -> int:
    value = conn.execute(_READ_EPOCH).scalar()
    if value is None:
        raise _epoch_missing()
    return int(value)


def auth_epoch(engine: Engine) -> int:
    """The current auth epoch, on a pooled connection (no ORM session)."""
    with engine.connect() as conn:
        return read_epoch(conn)


def _epoch_missing() -> RuntimeError:
    return RuntimeError("auth epoch row is missing: the service schema is not migrated")


@dataclass(frozen=True)
class Remembered:
    epoch: int  # read before the lookup: valid only while the database still has this epoch
    principal: Principal
    until: dt.datetime | None  # a session's expiry or a certificate's not_after (aware)


class AuthCache:
    """A bounded LRU of credentials that authenticated, valid for one epoch. Thread-safe: lookups run in the
    thread pool."""

    def __init__(self, max_entries: int = AUTH_CACHE_SIZE) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Remembered] = OrderedDict()
        self._epoch: int | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, epoch: int) -> Remembered | None:
        with self._lock:
            if epoch != self._epoch:  # the epoch moved: nothing remembered is valid any more
                self._entries.clear()
                self._epoch = epoch
                return None
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: str, entry: Remembered) -> None:
        with self._lock:
            if entry.epoch != self._epoch:  # read under an epoch the cache has left: stale already
                return
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


_CACHES: weakref.WeakKeyDictionary[Engine, AuthCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def auth_cache(engine: Engine) -> AuthCache:
    """This process's cache for the database behind `engine`."""
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = AuthCache()
        return cache


class EpochReads:
    """The auth epoch read for the requests of one event loop together: the requests that ask before a read has
    started share it, so under load one read in the thread pool serves every request of a loop pass instead of
    one hand-off each. Each caller gets a value read after it asked, so a revocation that committed before a
    request arrived is always seen."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._next: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[int]] = (
            weakref.WeakKeyDictionary())  # per loop: the read its callers wait for, not started yet
        self._reading: set[asyncio.Task[None]] = set()

    async def current(self) -> int:
        loop = asyncio.get_running_loop()
        fut = self._next.get(loop)
        if fut is None:
            fut = self._next[loop] = loop.create_future()
            loop.call_soon(self._start, loop)  # after this pass's callbacks: the requests they run join it
        return await asyncio.shield(fut)  # a caller that goes away does not cancel the others' read

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        fut = self._next.pop(loop)  # from now on, callers wait for the next read
        task = loop.create_task(self._read(fut))
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)

    async def _read(self, fut: asyncio.Future[int]) -> None:
        try:
            fut.set_result(await run_in_threadpool(auth_epoch, self._engine))
        except Exception as exc:  # every waiter gets it
            fut.set_exception(exc)
            fut.add_done_callback(lambda f: f.exception())  # retrieved even if every waiter went away


_READS: weakref.WeakKeyDictionary[Engine, EpochReads] = weakref.WeakKeyDictionary()


def epoch_reads(engine: Engine) -> EpochReads:
    """This process's shared epoch reads for the database behind `engine`."""
    with _CACHES_LOCK:
        reads = _READS.get(engine)
        if reads is None:
            reads = _READS[engine] = EpochReads(engine)
        return reads
