"""Settlement runs triggered through the service, the status changes they cause (events + audit), and one
participant's view of the day's runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select

from api.service import audit, locks
from api.service.context import ServiceContext
from api.service.db import SignedInstructionRow
from api.service.errors import ApiError
from api.service.schemas import CashAmount, ParticipantRunOut
from ledger.settlement import RunFigures, SettlementRunner
from ledger.store import InstructionRow, RunRow



def _states(ctx: ServiceContext) -> dict[int, tuple[str, str | None, str | None, str, str]]:
    with ctx.session() as s:
        ids = select(SignedInstructionRow.instruction_id).where(SignedInstructionRow.instruction_id.is_not(None))
        rows = s.execute(select(InstructionRow.id, InstructionRow.state, InstructionRow.reason, InstructionRow.tx_hash,
                                InstructionRow.deliverer, InstructionRow.receiver)
                         .where(InstructionRow.id.in_(ids)))
        return {int(row[0]): (row[1], row[2], row[3], row[4], row[5]) for row in rows}


def run_settlement(ctx: ServiceContext, actor: str, name: str, final: bool) -> RunFigures:
    """One settlement run over every pending instruction; then publish and audit each change of state."""
    try:
        with locks.exclusive_run(ctx.engine, "settlement-run"):
            return _run(ctx, actor, name, final)
    except locks.Busy:
        raise ApiError(409, "a settlement run is in progress; try again when it has finished",
                       code="run_in_progress") from None


def _run(ctx: ServiceContext, actor: str, name: str, final: bool) -> RunFigures:
    before = _states(ctx)
    parts = ctx.store.participants()
    runner = SettlementRunner(ctx.onchain, ctx.store, {p.id: p.address for p in parts},
                              {sec.code: sec.token_id for sec in ctx.store.securities()})
    with ctx.chain_lock:
        figures = runner.run(name, final=final)
    after = _states(ctx)
    with ctx.session() as s:
        audit.append(s, actor, "settlement.run", f"run:{figures.run_id}", figures.as_dict())
        changed = []
        for iid, (state, reason, tx, d, r) in after.items():
            if before.get(iid, ("",))[0] != state or (before.get(iid) or ("", None))[1] != reason:
                changed.append((iid, state, reason, tx, d, r))
                audit.append(s, "system:settlement", f"settlement.{state}", f"instruction:{iid}",
                             {"reason": reason, "tx_hash": tx, "run_id": figures.run_id}, d)
        for iid, state, reason, tx, d, r in changed:  # last: the events lock comes after the audit's
            ctx.hub.publish([d, r], "instruction.status",
                            {"instruction_id": iid, "status": state, "reason": reason, "tx_hash": tx,
                             "run_id": figures.run_id}, session=s)
    return figures


def participant_runs(ctx: ServiceContext, pid: str, day: dt.date, offset: int, limit: int) -> list[ParticipantRunOut]:
    """The runs started on `day` (UTC), each with what it did to `pid`'s own instructions only (as deliverer or
    receiver). An instruction carries the id of the last run that took it (ledger.settlement), so a pending
    one counts under the run that last tried it; market-wide figures are never part of the answer."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    mine = or_(InstructionRow.deliverer == pid, InstructionRow.receiver == pid)
    with ctx.session() as s:
        runs = list(s.scalars(select(RunRow).where(RunRow.started_at >= start,
                                                   RunRow.started_at < start + dt.timedelta(days=1))
                              .order_by(RunRow.id).offset(offset).limit(limit)))
        ids = [r.id for r in runs]
        counts = s.execute(select(InstructionRow.run_id, InstructionRow.state, InstructionRow.reason, func.count())
                           .where(mine, InstructionRow.run_id.in_(ids))
                           .group_by(InstructionRow.run_id, InstructionRow.state, InstructionRow.reason)).all()
        money = s.execute(select(InstructionRow.run_id, InstructionRow.currency,
                                 func.sum(func.abs(InstructionRow.settled_amount)))
                          .where(mine, InstructionRow.run_id.in_(ids),
                                 InstructionRow.state.in_(("settled", "partial")))
                          .group_by(InstructionRow.run_id, InstructionRow.currency)).all()
    out = {r.id: ParticipantRunOut(run_id=r.id, name=r.name, final=r.final, started_at=r.started_at,
                                   finished_at=r.finished_at, settled=0, partial=0, pending=0,
                                   pending_by_reason={}, failed=0, settled_value=[]) for r in runs}
    for run_id, state, reason, n in counts:
        if run_id is None:
            continue
        o = out[run_id]
        if state in ("settled", "partial", "failed"):
            setattr(o, state, getattr(o, state) + int(n))
        elif state in ("pending", "submitted"):  # submitted: outcome not yet recorded, still open
            o.pending += int(n)
            key = reason or "none"
            o.pending_by_reason[key] = o.pending_by_reason.get(key, 0) + int(n)
    for run_id, currency, cents in money:
        if cents:
            out[int(run_id)].settled_value.append(CashAmount(currency=currency, cents=int(cents)))
    return [out[i] for i in ids]
