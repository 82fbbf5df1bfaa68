"""Status changes per participant channel, kept in the database (`svc_events`).

An event is written in the transaction of the change it announces (or in its own), so it exists exactly
when the change does, every worker process sees it, and a client that reconnects with `Last-Event-ID`
resumes even after a restart. Ids are given in commit order (on PostgreSQL writers take the `events` lock
first; SQLite has one writer at a time anyway), so a reader that asks for `id > last` never skips one that
commits later. One pump thread per process polls for
new rows and hands them to that process's open streams; a commit in this process wakes it at once, a
commit in another worker is seen within `poll_s`.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (JSON, BigInteger, DateTime, Index, Integer, String, Table, delete, event, func, insert,
                        select)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from api.service import locks
from api.service.db import ServiceBase, utcnow

OPERATOR = "*operator*"  # the operator's channel sees every event
log = logging.getLogger(__name__)
_PENDING = "lc_events_written"  # Session.info flag: wake the pump after this session commits


class EventRow(ServiceBase):
    __tablename__ = "svc_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_svc_events_channel_id", "channel", "id"),)


@dataclass(frozen=True)
class Event:
    id: int
    participant_id: str
    type: str
    data: dict[str, Any]


def _event(r: EventRow) -> Event:
    return Event(r.id, r.channel, r.type, r.data)


class EventHub:
    def __init__(self, sessions: sessionmaker[Session], poll_s: float = 0.05, keep: int = 1_000_000,
                 idle_exit_s: float = 30.0) -> None:
        self._sessions = sessions
        self.poll_s = poll_s
        self.keep = keep  # rows kept for replay; older ones are pruned by the pump
        self.idle_exit_s = idle_exit_s
        self._lock = threading.Lock()
        self._subs: dict[str, set[queue.Queue[Event]]] = {}
        self._wake = threading.Event()
        self._pump: threading.Thread | None = None
        self._last = 0
        event.listen(sessions, "after_commit", self._after_commit)

    # ---- writing ----------------------------------------------------------------------------------------

    def publish(self, participant_ids: list[str], type_: str, data: dict[str, Any],
                session: Session | None = None) -> None:
        """One event per channel (each participant named, and the operator's). Inside `session`'s transaction
        when given (it commits or rolls back with the change), else in a transaction of its own."""
        self.publish_many([(participant_ids, type_, data)], session)

    def publish_many(self, notices: Sequence[tuple[list[str], str, dict[str, Any]]],
                     session: Session | None = None) -> None:
        """`publish` for several (participant_ids, type, data) at once: one insert, ids in the given order."""
        if not notices:
            return
        if session is None:
            with self._sessions.begin() as s:
                self.publish_many(notices, s)
            return
        if session.get_bind().dialect.name != "sqlite":  # SQLite: the open write already orders commits
            locks.hold(session, locks.EVENTS)
        now = utcnow()
        session.execute(insert(cast(Table, EventRow.__table__)),  # Core: no ORM bulk-insert pass over the dicts
                        [{"channel": pid, "type": type_, "data": data, "created_at": now}
                         for participant_ids, type_, data in notices
                         for pid in dict.fromkeys([*participant_ids, OPERATOR])])
        session.info[_PENDING] = True

    def _after_commit(self, s: Session) -> None:
        if s.info.pop(_PENDING, False):
            self._wake.set()

    # ---- reading ----------------------------------------------------------------------------------------

    def recent(self, channel: str, after: int = 0, limit: int = 1000) -> list[Event]:
        with self._sessions() as s:
            rows = s.scalars(select(EventRow).where(EventRow.channel == channel, EventRow.id > after)
                             .order_by(EventRow.id).limit(limit))
            return [_event(r) for r in rows]

    def subscribe(self, channel: str, after: int = 0, backlog_limit: int = 1000) -> tuple[queue.Queue[Event],
                                                                                          list[Event]]:
        """A queue of new events and the stored ones with id > after. The two may overlap (a consumer skips
        ids it has seen); nothing falls between them: the pump's starting point is fixed before the backlog
        is read."""
        q: queue.Queue[Event] = queue.Queue()
        with self._lock:
            self._subs.setdefault(channel, set()).add(q)
            if self._pump is None or not self._pump.is_alive():
                with self._sessions() as s:
                    self._last = int(s.scalar(select(func.coalesce(func.max(EventRow.id), 0))) or 0)
                self._pump = threading.Thread(target=self._run, name="event-pump", daemon=True)
                self._pump.start()
        return q, self.recent(channel, after, backlog_limit)

    def unsubscribe(self, channel: str, q: queue.Queue[Event]) -> None:
        with self._lock:
            subs = self._subs.get(channel)
            if subs is not None:
                subs.discard(q)
                if not subs:
                    del self._subs[channel]

    # ---- the pump ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        idle_since = time.monotonic()
        next_prune = time.monotonic() + 60.0
        while True:
            self._wake.wait(self.poll_s)
            self._wake.clear()
            try:
                self._deliver_new()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + 60.0
                    self._prune()
            except Exception:  # a database hiccup must not end the stream for everyone; retry next tick
                log.exception("event pump: reading new events failed")
                time.sleep(1.0)
            with self._lock:
                if self._subs:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > self.idle_exit_s:
                    self._pump = None  # the next subscriber starts a new pump
                    return

    def _deliver_new(self) -> None:
        while True:
            with self._sessions() as s:
                rows = [_event(r) for r in s.scalars(select(EventRow).where(EventRow.id > self._last)
                                                     .order_by(EventRow.id).limit(1000))]
            if not rows:
                return
            with self._lock:
                for e in rows:
                    for q in self._subs.get(e.participant_id, ()):
                        q.put(e)
                self._last = rows[-1].id

    def _prune(self) -> None:
        with self._sessions.begin() as s:
            s.execute(delete(EventRow).where(EventRow.id <= self._last - self.keep))
