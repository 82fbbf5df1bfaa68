"""GET /v1/health: public liveness with the chain it is attached to."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.service.context import ServiceContext
from api.service.deps import Ctx
from api.service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health(ctx: Ctx) -> Health:
    return Health(status="ok", chain_id=ctx.chain_id, block=await run_in_threadpool(_block, ctx))


def _block(ctx: ServiceContext) -> int:
    with ctx.chain_lock:  # held by chain writers for as long as they take: never waited for on the event loop
        return ctx.deployment.chain.block_number
