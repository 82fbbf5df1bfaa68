"""GET /v1/health: public liveness with the chain it is attached to."""

from __future__ import annotations

from fastapi import APIRouter

from api.service.deps import Ctx
from api.service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(ctx: Ctx) -> Health:
    with ctx.chain_lock:
        block = ctx.deployment.chain.block_number
    return Health(status="ok", chain_id=ctx.chain_id, block=block)
