"""Balances from the chain, for the caller's own participant (the operator may read any)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.service.deps import Ctx, Paging, ParticipantPath, Reader, own
from api.service.errors import ApiError
from api.service.schemas import Balances, CashBalance, PageOf, SecurityBalance
from ledger.store import ParticipantRow, SecurityRow

router = APIRouter(tags=["accounts"])


@router.get("/accounts/{pid}/balances", response_model=Balances)
def balances(pid: ParticipantPath, p: Reader, ctx: Ctx, pg: Paging) -> Balances:
    """Cash per currency and non-zero security holdings (paged over the listed securities)."""
    own(p, pid, "account not found")
    with ctx.session() as s:
        part = s.get(ParticipantRow, pid)
        if part is None:
            raise ApiError(404, "account not found")
        secs = list(s.scalars(select(SecurityRow).order_by(SecurityRow.code)))
    with ctx.chain_lock:
        cash = [CashBalance(currency=c, cents=ctx.onchain.cash_balance(part.address, c))
                for c in ctx.deployment.currencies]
        qty = ctx.onchain.security_balances([(part.address, r.token_id) for r in secs]) if secs else []
    held = [SecurityBalance(security_code=r.code, quantity=q) for r, q in zip(secs, qty, strict=True) if q]
    chunk = held[pg.offset:pg.offset + pg.limit]
    nxt = pg.offset + pg.limit if len(held) > pg.offset + pg.limit else None
    return Balances(participant_id=pid, address=part.address, cash=cash,
                    securities=PageOf(items=chunk, next_offset=nxt))
