"""Settlement runs triggered through the service, and the status changes they cause (events + audit)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from api.service import audit
from api.service.context import ServiceContext
from api.service.db import SignedInstructionRow
from ledger.settlement import RunFigures, SettlementRunner
from ledger.store import InstructionRow

_RUN_LOCK = threading.Lock()


def _states(ctx: ServiceContext) -> dict[int, tuple[str, str | None, str | None, str, str]]:
    with ctx.session() as s:
        ids = select(SignedInstructionRow.instruction_id).where(SignedInstructionRow.instruction_id.is_not(None))
        rows = s.execute(select(InstructionRow.id, InstructionRow.state, InstructionRow.reason, InstructionRow.tx_hash,
                                InstructionRow.deliverer, InstructionRow.receiver)
                         .where(InstructionRow.id.in_(ids)))
        return {int(row[0]): (row[1], row[2], row[3], row[4], row[5]) for row in rows}


def run_settlement(ctx: ServiceContext, actor: str, name: str, final: bool) -> RunFigures:
    """One settlement run over every pending instruction; then publish and audit each change of state."""
    with _RUN_LOCK:
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
    for iid, state, reason, tx, d, r in changed:
        ctx.hub.publish([d, r], "instruction.status",
                        {"instruction_id": iid, "status": state, "reason": reason, "tx_hash": tx,
                         "run_id": figures.run_id})
    return figures
