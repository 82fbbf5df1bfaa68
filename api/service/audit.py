"""The audit log: append-only and hash-chained. Entry hash = sha256(prev_hash ‖ canonical JSON of the entry),
where the entry is {seq, ts, actor, participant_id, action, target, detail} and canonical JSON is sorted keys,
no spaces, UTF-8. `verify` walks the chain and names the first entry that was edited, deleted or inserted."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from api.service.db import AuditHeadRow, AuditRow

GENESIS = "0" * 64
_LOCK = threading.Lock()  # one writer at a time in this process; the head row serialises across processes


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(entry)).hexdigest()


def _entry(row: AuditRow) -> dict[str, Any]:
    return {"seq": row.seq, "ts": row.ts, "actor": row.actor, "participant_id": row.participant_id,
            "action": row.action, "target": row.target, "detail": row.detail}


@dataclass(frozen=True)
class Entry:
    """What one audit entry records (its sequence number, time and hashes are given when it is appended)."""

    actor: str
    action: str
    target: str
    detail: dict[str, Any] | None = None
    participant_id: str | None = None


def append(s: Session, actor: str, action: str, target: str, detail: dict[str, Any] | None = None,
           participant_id: str | None = None) -> int:
    """Append one entry inside the caller's transaction (so the entry commits with the change it records);
    its sequence number."""
    return append_many(s, [Entry(actor, action, target, detail, participant_id)])[0]


# Write the head row first: that takes the lock before it is read (PostgreSQL: the row; SQLite: the database
# write lock, since SQLite's driver would otherwise read it outside the transaction), so two worker processes
# never chain onto the same entry.
_LOCK_HEAD = (update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=AuditHeadRow.seq)
              .execution_options(synchronize_session=False))
_READ_HEAD = select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1)
_MOVE_HEAD = (update(AuditHeadRow).where(AuditHeadRow.id == 1)
              .values(seq=bindparam("to_seq"), hash=bindparam("to_hash"))
              .execution_options(synchronize_session=False))


def append_many(s: Session, entries: Sequence[Entry]) -> list[int]:
    """Append `entries`, in order, inside the caller's transaction: the head is locked, read and moved once,
    the entries written in one bulk insert (no ORM objects). Their sequence numbers."""
    if not entries:
        return []
    with _LOCK:
        s.execute(_LOCK_HEAD)
        head = s.execute(_READ_HEAD).first()
        seq, prev = (int(head[0]), str(head[1])) if head is not None else (0, GENESIS)
        rows: list[dict[str, Any]] = []
        for e in entries:
            seq += 1
            entry = {"seq": seq, "ts": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"), "actor": e.actor,
                     "participant_id": e.participant_id, "action": e.action, "target": e.target,
                     "detail": json.loads(canonical(e.detail or {}))}
            digest = entry_hash(prev, entry)
            rows.append({**entry, "prev_hash": prev, "hash": digest})
            prev = digest
        s.execute(insert(cast(Table, AuditRow.__table__)), rows)  # Core: no ORM bulk-insert pass over the dicts
        if head is None:
            s.execute(insert(AuditHeadRow), {"id": 1, "seq": seq, "hash": prev})
        else:
            s.execute(_MOVE_HEAD, {"to_seq": seq, "to_hash": prev})
        return [r["seq"] for r in rows]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    problem: str | None = None
    seq: int | None = None  # the first bad entry


def verify(s: Session) -> Verdict:
    prev = GENESIS
    expected = 1
    n = 0
    for row in s.scalars(select(AuditRow).order_by(AuditRow.seq)).yield_per(1000):
        if row.seq != expected:
            return Verdict(False, n, f"entry {expected} is missing (next is {row.seq}): deleted", expected)
        if row.prev_hash != prev:
            return Verdict(False, n, f"entry {row.seq}: prev_hash does not match entry {row.seq - 1}", row.seq)
        if entry_hash(prev, _entry(row)) != row.hash:
            return Verdict(False, n, f"entry {row.seq}: content does not match its hash: edited", row.seq)
        prev = row.hash
        expected += 1
        n += 1
    head = s.get(AuditHeadRow, 1)
    if head is not None and (head.seq != n or head.hash != prev):
        return Verdict(False, n, f"log ends at entry {n} but the head records entry {head.seq}: "
                                 "newest entries deleted or head edited", n + 1)
    if head is None and n:
        return Verdict(False, n, "head record missing", None)
    return Verdict(True, n)
