"""Reads on the event loop, for a SQLite database file.

A read handed to the thread pool costs a thread hand-off each way (two context switches and the GIL passed
back and forth; about 0.3 ms of CPU per request under load), and the pool and Core add ~0.1 ms more, for a
query SQLite answers from its page cache in microseconds. So on a SQLite file the hot reads (the auth epoch,
instruction lists, the listed securities) run on the event loop, through sqlite3 itself on one connection
per thread, the statement compiled once per statement object.

Why this cannot hold up the loop: in WAL mode (make_engine sets it) a reader never waits for the writer.
Should the file be busy anyway (another program holding it exclusively), sqlite3 gives up after
BUSY_TIMEOUT_S; and a statement that turns out to be long (a far offset, a filter that scans many rows) is
interrupted after BUDGET_STEPS of SQLite's virtual machine (a few milliseconds). Either way the same
statement runs again through the pool in the thread pool, where waiting is harmless (sqlite3 lets go of
the GIL while it works there). Any other database (PostgreSQL: a server round trip) always goes through
the thread pool.

Rows come back as plain tuples in the statement's column order, with SQLite's own values (a Boolean column
reads as 0 or 1): callers read them by position and let the response model coerce (or convert them, as
instructions.view_fields does).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from sqlalchemy import Select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.compiler import Compiled
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 0.05
BUDGET_STEPS = 200_000  # SQLite VM instructions a read may take on the loop (~2-4 ms here)
_CHECK_EVERY = 10_000  # ... counted in steps of this many
_MAX_STATEMENTS = 256  # compiled statements remembered per database

Rows = Sequence[Sequence[Any]]
AnySelect = Select[Unpack[tuple[Any, ...]]]


class LoopReads:
    """Statements run through sqlite3 on the calling thread's own connection to one database file."""

    def __init__(self, path: str, engine: Engine, budget_steps: int = BUDGET_STEPS,
                 check_every: int = _CHECK_EVERY) -> None:
        self.path = path
        self.dialect = engine.dialect
        self.check_every = check_every
        self.budget_checks = max(1, budget_steps // check_every)
        self._local = threading.local()
        # id -> (statement kept alive, compiled, its arguments without parameters once used so)
        self._compiled: dict[int, tuple[AnySelect, Compiled, tuple[Any, ...] | None]] = {}

    def rows(self, statement: AnySelect, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """All rows of `statement`; sqlite3.OperationalError if the file is busy past the timeout or the
        statement goes over its budget. Meant for statements built once with bound parameters: each is
        compiled on first use."""
        hit = self._compiled.get(id(statement))
        if hit is None:
            if len(self._compiled) >= _MAX_STATEMENTS:  # meant for statements built once; bound it anyway
                self._compiled.clear()
            hit = self._compiled[id(statement)] = (statement, statement.compile(dialect=self.dialect), None)
        compiled, args = hit[1], hit[2]
        if params is not None:
            args = _arguments(compiled, params)
        elif args is None:  # the same every time: worked out once
            args = _arguments(compiled, None)
            self._compiled[id(statement)] = (statement, compiled, args)
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            # autocommit: each SELECT is its own read transaction and sees the latest commit
            conn = local.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

            def over_budget() -> int:  # non-zero interrupts the statement (OperationalError "interrupted")
                local.checks += 1
                return int(local.checks > self.budget_checks)

            conn.set_progress_handler(over_budget, self.check_every)
        local.checks = 0
        return conn.execute(compiled.string, args).fetchall()  # all: a half-read statement keeps its snapshot


def _arguments(compiled: Compiled, params: Mapping[str, Any] | None) -> tuple[Any, ...]:
    values = compiled.construct_params(dict(params or {})) or {}
    return tuple(values[name] for name in compiled.positiontup or ())  # type: ignore[attr-defined]


def _loop_reads(engine: Engine) -> LoopReads | None:
    url = engine.url
    if engine.dialect.name != "sqlite" or not url.database or url.database == ":memory:" or url.query:
        return None  # in-memory or URI-style databases are not reachable by path from another connection
    return LoopReads(url.database, engine)


_READERS: weakref.WeakKeyDictionary[Engine, LoopReads | None] = weakref.WeakKeyDictionary()
_READERS_LOCK = threading.Lock()


def loop_reads(engine: Engine) -> LoopReads | None:
    """The loop reader of `engine`'s database, or None when its reads must go through the thread pool."""
    with _READERS_LOCK:
        if engine not in _READERS:
            _READERS[engine] = _loop_reads(engine)
        return _READERS[engine]


def _pool_rows(engine: Engine, statement: AnySelect, params: Mapping[str, Any] | None) -> Rows:
    with engine.connect() as conn:
        return list(conn.execute(statement, dict(params or {})))


async def read_rows(engine: Engine, statement: AnySelect, params: Mapping[str, Any] | None = None) -> Rows:
    """The rows of a read-only `statement`: on the event loop for a SQLite file, else in the thread pool."""
    reads = loop_reads(engine)
    if reads is not None:
        try:
            return reads.rows(statement, params)
        except sqlite3.OperationalError as exc:  # over its budget ("interrupted"; expected), or busy (not)
            log.log(logging.DEBUG if "interrupt" in str(exc) else logging.WARNING,
                    "read on the event loop gave up (%s); reading through the pool", exc)
    return await run_in_threadpool(_pool_rows, engine, statement, params)
