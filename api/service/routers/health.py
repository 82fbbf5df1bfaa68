"""GET /v1/health: public liveness with the chain it is attached to."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from api.service.context import ServiceContext
from api.service.deps import Ctx
from api.service.routing import COMMON_RESPONSES, resource_router
from api.service.schemas import Health

router = resource_router("health", responses={500: COMMON_RESPONSES[500]})


@router.get("/health", response_model=Health)
async def health(ctx: Ctx) -> Health:
    return Health(status="ok", chain_id=ctx.chain_id, block=await run_in_threadpool(_block, ctx))


def _block(ctx: ServiceContext) -> int:
    with ctx.chain_lock:  # held by chain writers for as long as they take: never waited for on the event loop
        return ctx.deployment.chain.block_number
