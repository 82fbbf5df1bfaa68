"""The off-chain store: participants, securities, instructions and their states, runs, and chain events.

SQLAlchemy over SQLite by default (one file), PostgreSQL for real deployments. The schema is created
and upgraded by Alembic (ledger/migrations); `Store.open` brings a database to the latest revision.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    JSON, BigInteger, DateTime, Integer, String, Table, UniqueConstraint, create_engine, func, insert, select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ParticipantRow(Base):
    __tablename__ = "participants"
    id: Mapped[str] = mapped_column(String(6), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="active")


class SecurityRow(Base):
    __tablename__ = "securities"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    token_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    isin: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    board_lot: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))


class InstructionRow(Base):
    """A settlement obligation or instruction. `id` is the on-chain instruction id (unique, 64-bit).

    state: pending (waiting for a run, `reason` says why it did not settle last time), submitted (sent in a
    batch whose outcome is not yet recorded: a crash here is recovered from the chain), settled, partial
    (part settled; the remainder is a new instruction with `parent_id` = this id), cancelled, failed
    (unsettled after the final run; carried forward to the next business day).
    """

    __tablename__ = "instructions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(10))  # CNS | SI | REMAINDER
    parent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    settle_date: Mapped[str] = mapped_column(String(10), index=True)
    deliverer: Mapped[str] = mapped_column(String(6), index=True)
    receiver: Mapped[str] = mapped_column(String(6), index=True)
    security_code: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # + receiver pays deliverer, - deliverer pays
    min_partial: Mapped[int] = mapped_column(BigInteger, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(10), index=True, default="pending")
    reason: Mapped[str | None] = mapped_column(String(4), nullable=True)
    settled_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class RunRow(Base):
    __tablename__ = "settlement_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40))
    final: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ChainEventRow(Base):
    __tablename__ = "chain_events"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index", name="uq_chain_event"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    contract: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)


class MetaRow(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


@dataclass(frozen=True)
class NewInstruction:
    id: int
    source: str
    settle_date: str
    deliverer: str
    receiver: str
    security_code: str
    quantity: int
    currency: str
    amount_cents: int
    min_partial: int = 0
    priority: int = 0
    parent_id: int | None = None


def default_url(path: Path | str = "ledgerclear.sqlite") -> str:
    return f"sqlite:///{Path(path)}"


class Store:
    """Sessions over one database. Every write happens in a transaction that commits whole or not at all."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str = "sqlite://", migrate: bool = True) -> Store:
        """Open (and by default migrate to the latest schema) the database at `url`."""
        engine = create_engine(url, future=True)
        if migrate:
            from ledger.migrate import upgrade

            upgrade(engine)
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    # ---- reference data -------------------------------------------------------------------------------

    def add_participants(self, rows: Iterable[ParticipantRow]) -> None:
        with self.session() as s:
            s.add_all(list(rows))

    def add_securities(self, rows: Iterable[SecurityRow]) -> None:
        with self.session() as s:
            s.add_all(list(rows))

    def participants(self) -> list[ParticipantRow]:
        with self.session() as s:
            return list(s.scalars(select(ParticipantRow).order_by(ParticipantRow.id)))

    def securities(self) -> list[SecurityRow]:
        with self.session() as s:
            return list(s.scalars(select(SecurityRow).order_by(SecurityRow.token_id)))

    def set_participant_status(self, pid: str, status: str) -> None:
        with self.session() as s:
            s.execute(update(ParticipantRow).where(ParticipantRow.id == pid).values(status=status))

    # ---- instructions ---------------------------------------------------------------------------------

    def next_instruction_id(self) -> int:
        with self.session() as s:
            top = s.scalar(select(func.max(InstructionRow.id)))
            return int(top or 0) + 1

    def add_instructions(self, items: Sequence[NewInstruction]) -> None:
        """Store new instructions as pending, all or none (a duplicate id rejects the whole set)."""
        if items:
            with self.session() as s:
                self.add_instructions_in(s, items)

    def instructions(self, states: Sequence[str] | None = None) -> list[InstructionRow]:
        with self.session() as s:
            q = select(InstructionRow).order_by(InstructionRow.priority, InstructionRow.id)
            if states is not None:
                q = q.where(InstructionRow.state.in_(list(states)))
            return list(s.scalars(q))

    def count_by_state(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(InstructionRow.state, func.count()).group_by(InstructionRow.state))
            return {state: int(n) for state, n in rows}

    # ---- runs and events ------------------------------------------------------------------------------

    def start_run(self, name: str, final: bool, figures: dict[str, Any] | None = None) -> int:
        with self.session() as s:
            run = RunRow(name=name, final=final, figures=figures or {})
            s.add(run)
            s.flush()
            return int(run.id)

    def finish_run(self, run_id: int, figures: dict[str, Any]) -> None:
        with self.session() as s:
            s.execute(update(RunRow).where(RunRow.id == run_id).values(figures=figures, finished_at=_now()))

    def run(self, run_id: int) -> RunRow | None:
        with self.session() as s:
            return s.get(RunRow, run_id)

    def unfinished_run(self, name: str) -> RunRow | None:
        """The latest run called `name` that was started and never finished (a crash), if any."""
        with self.session() as s:
            return s.scalars(select(RunRow).where(RunRow.name == name, RunRow.finished_at.is_(None))
                             .order_by(RunRow.id.desc()).limit(1)).first()

    def runs(self) -> list[RunRow]:
        with self.session() as s:
            return list(s.scalars(select(RunRow).order_by(RunRow.id)))

    def set_meta(self, key: str, value: Any) -> None:
        with self.session() as s:
            self.set_meta_in(s, key, value)

    @staticmethod
    def set_meta_in(s: Session, key: str, value: Any) -> None:
        """Set `key` inside the caller's transaction `s`."""
        s.merge(MetaRow(key=key, value=json.loads(json.dumps(value))))

    def get_meta(self, key: str) -> Any:
        with self.session() as s:
            row = s.get(MetaRow, key)
            return None if row is None else row.value

    # ---- single instructions (used by the participant service; each may join the caller's transaction) --

    def instruction(self, iid: int, session: Session | None = None) -> InstructionRow | None:
        if session is not None:
            return session.get(InstructionRow, iid)
        with self.session() as s:
            return s.get(InstructionRow, iid)

    def add_instruction_in(self, s: Session, item: NewInstruction, state: str = "pending") -> int:
        """Add one instruction inside the caller's transaction `s`; `item.id` 0 takes the next free id."""
        return self.add_instructions_in(s, [item], state)[0]

    def add_instructions_in(self, s: Session, items: Sequence[NewInstruction], state: str = "pending") -> list[int]:
        """Add instructions inside the caller's transaction `s` in one statement; an `id` of 0 takes the next
        free id (in order). Their ids."""
        if not items:
            return []
        free = int(s.scalar(select(func.max(InstructionRow.id))) or 0) + 1 if any(not i.id for i in items) else 0
        ids: list[int] = []
        for item in items:
            ids.append(item.id or free)
            free += 0 if item.id else 1
        now = _now()
        # a Core insert: the ORM's bulk-insert pass over the same dicts costs more than the statement
        s.execute(insert(cast(Table, InstructionRow.__table__)),
                  [{**item.__dict__, "id": iid, "state": state, "settled_quantity": 0, "settled_amount": 0,
                    "updated_at": now} for item, iid in zip(items, ids, strict=True)])
        return ids

    def transition(self, iid: int, from_states: Sequence[str], to_state: str,
                   session: Session | None = None) -> bool:
        """Move instruction `iid` to `to_state` if it is in one of `from_states`; False if it was not."""
        stmt = (update(InstructionRow).where(InstructionRow.id == iid, InstructionRow.state.in_(list(from_states)))
                .values(state=to_state))
        if session is not None:
            return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
        with self.session() as s:
            return bool(s.execute(stmt).rowcount)  # type: ignore[attr-defined]
