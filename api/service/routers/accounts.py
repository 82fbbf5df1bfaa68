"""Balances from the chain, for the caller's own participant (the operator may read any)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import bindparam, select
from starlette.concurrency import run_in_threadpool

from api.service.context import ServiceContext
from api.service.deps import Ctx, Page, Paging, ParticipantPath, Reader, own
from api.service.errors import ApiError
from api.service.schemas import Balances, CashBalance, PageOf, SecurityBalance
from ledger.store import ParticipantRow, SecurityRow

router = APIRouter(tags=["accounts"])
_BULK_PAIRS = 2000  # at most this many (participant, security) pairs per bulk read on a cache miss
_SECURITIES = select(SecurityRow.code, SecurityRow.token_id).order_by(SecurityRow.code)
_ADDRESS = select(ParticipantRow.address).where(ParticipantRow.id == bindparam("pid"))
_ADDRESSES = select(ParticipantRow.address).order_by(ParticipantRow.id)

Amounts = tuple[list[int], list[int]]  # cash per currency, quantity per token


@router.get("/accounts/{pid}/balances", response_model=Balances)
async def balances(pid: ParticipantPath, p: Reader, ctx: Ctx, pg: Paging) -> Balances:
    """Cash per currency and non-zero security holdings (paged over the listed securities)."""
    own(p, pid, "account not found")
    # `async`, the reads in the thread pool: one hand-off (a `def` endpoint's answer is validated in another)
    return await run_in_threadpool(_balances, ctx, pid, pg)


def _balances(ctx: ServiceContext, pid: str, pg: Page) -> Balances:
    # The address is remembered (it never changes); the securities are read afresh each time, because the
    # ledger store may list one at any moment.
    with ctx.engine.connect() as conn:
        address = ctx.known_addresses.get(pid)
        if address is None:
            found = conn.execute(_ADDRESS, {"pid": pid}).scalar()
            if found is None:
                raise ApiError(404, "account not found")
            address = ctx.known_addresses[pid] = str(found)
        secs = [(str(code), int(token)) for code, token in conn.execute(_SECURITIES)]
    tokens = tuple(token for _, token in secs)
    cents, qty = _read_chain(ctx, address, tokens)
    cash = [CashBalance(currency=c, cents=v) for c, v in zip(ctx.deployment.currencies, cents, strict=True)]
    held = [SecurityBalance(security_code=code, quantity=q) for (code, _), q in zip(secs, qty, strict=True) if q]
    chunk = held[pg.offset:pg.offset + pg.limit]
    nxt = pg.offset + pg.limit if len(held) > pg.offset + pg.limit else None
    return Balances(participant_id=pid, address=address, cash=cash,
                    securities=PageOf(items=chunk, next_offset=nxt))


def _key(address: str, tokens: tuple[int, ...]) -> tuple[str, str, tuple[int, ...]]:
    return ("balances", address, tokens)


def _read_chain(ctx: ServiceContext, address: str, tokens: tuple[int, ...]) -> Amounts:
    def read() -> Amounts:
        # A miss means the chain has moved on (or a first read): read every participant's balances in the
        # same few bulk calls (one per currency, one for the holdings), so the others' next reads are hits.
        with ctx.engine.connect() as conn:
            others = [str(a) for a, in conn.execute(_ADDRESSES) if a != address]
        addresses = [address, *others][:max(1, min(_BULK_PAIRS, _BULK_PAIRS // max(1, len(tokens))))]
        cash = [ctx.onchain.cash_balances(c, addresses) for c in ctx.deployment.currencies]
        qty = ctx.onchain.security_balances([(a, t) for a in addresses for t in tokens]) if tokens else []
        n = len(tokens)
        for i, a in enumerate(addresses[1:], 1):
            ctx.chain_reads.put(block, _key(a, tokens), ([c[i] for c in cash], qty[i * n:(i + 1) * n]))
        return [c[0] for c in cash], qty[:n]

    with ctx.chain_lock:  # at the current block (the cache forgets everything once a block is added)
        block = ctx.deployment.chain.block_number
        amounts: Amounts = ctx.chain_reads.get(block, _key(address, tokens), read)
        return amounts
