"""Serialisation that holds across processes: several `serve` workers share one database, so an in-process
lock is not enough where two requests must not interleave (matching both sides of an instruction, the order
of events).

A named lock is one row of `svc_locks`; taking it is an UPDATE of that row, held until the transaction ends.
On PostgreSQL that is a row lock (the statements after it, READ COMMITTED, see everything committed before
it was granted). On SQLite the UPDATE is the transaction's first write, so it takes the database's write
lock; SQLite's driver starts the transaction only at that write, so the reads after it see the latest
commits too.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import BigInteger, String, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from api.service.db import ServiceBase

MATCHING = "matching"  # submit, authorise, cancel: one side's change and the match it makes
EVENTS = "events"  # event rows get their ids in commit order, so a reader polling `id > last` misses none
NAMES = (MATCHING, EVENTS)


class LockRow(ServiceBase):
    __tablename__ = "svc_locks"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    taken: Mapped[int] = mapped_column(BigInteger, default=0)  # how often; the UPDATE is what matters


def hold(s: Session, name: str) -> None:
    """Take lock `name` for the rest of transaction `s` (released by its commit or rollback)."""
    res = s.execute(update(LockRow).where(LockRow.name == name).values(taken=LockRow.taken + 1)
                    .execution_options(synchronize_session=False))
    if getattr(res, "rowcount", 1) != 1:
        raise RuntimeError(f"lock row {name!r} is missing: the service schema is not migrated")


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


class Busy(Exception):
    """Another process (or thread) holds the lock."""


@contextmanager
def exclusive_run(engine: Engine, name: str) -> Iterator[None]:
    """A long, non-transactional critical section (a settlement run spans many transactions and chain
    transactions), held by at most one thread of one process; raises Busy instead of waiting.
    PostgreSQL: a session-level advisory lock on a connection kept for the duration. SQLite: an flock on a
    file beside the database (SQLite is one host by construction); in-memory: this process only."""
    with _GUARD:
        local = _THREAD_LOCKS.setdefault(name, threading.Lock())
    if not local.acquire(blocking=False):
        raise Busy(name)
    try:
        if engine.dialect.name == "postgresql":
            key = int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "big") & 0x7FFF_FFFF_FFFF_FFFF
            with engine.connect() as conn:
                if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                    raise Busy(name)
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
            return
        db = engine.url.database
        if engine.dialect.name != "sqlite" or not db or db == ":memory:":
            yield
            return
        fd = os.open(Path(db).with_name(Path(db).name + f".{name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Busy(name) from None
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        local.release()
