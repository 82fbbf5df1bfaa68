"""Assembly: routers under /v1, error bodies, size and rate limits, the context on app.state."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import portal
from api.service import errors
from api.service.context import ServiceContext
from api.service.limits import BodyLimit, RateLimit, TokenBuckets
from api.service.request_audit import AuditRefused
from api.service.routing import API_PREFIX, add_routes
from api.service.routers import (
    accounts, audit, client_certs, events, health, instructions, margin, participants, reports, runs, sessions, users,
)

# The routers that need credentials (health, public, comes after them), in the order route matching scans their
# routes: the resources participant nodes call most come first. No path belongs to two routers
# (tests/service/test_router_order.py), so the order changes no answer; the spec lists paths in this order.
ROUTERS = (accounts, instructions, sessions, users, client_certs, participants, runs, margin, reports, events, audit)


def _lifespan(ctx: ServiceContext) -> Any:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        reader = ctx.head_readers.pop(asyncio.get_running_loop(), None)
        if reader is not None:  # its HTTP session belongs to this loop
            await reader.close()

    return lifespan


def keep_out_of_collections() -> None:
    """Move everything alive now out of the garbage collector's scans: the chain, the app and its models live
    as long as the process, and a full collection under load would scan them every time. Called by `serve`
    and each worker once the app is built, not by create_app: a test process builds many apps."""
    gc.collect()
    gc.freeze()


def create_app(ctx: ServiceContext) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan(ctx),
        title="ledgerclear participant service",
        version="1.0.0",
        description="Signed settlement instructions, balances, settlement runs, margin, reports and live events. "
                    "Authenticate with a session token (POST /v1/sessions, password + TOTP) as `Authorization: "
                    "Bearer <token>`, or an API key as `X-API-Key`. Errors are {error: {code, message, field}}.",
        docs_url=None, redoc_url=None,
        telemetry={"tracing": ctx.settings.telemetry, "metrics": ctx.settings.telemetry,
                   "logs": ctx.settings.telemetry},
    )
    app.state.ctx = ctx
    errors.install(app)
    for module in (*ROUTERS, health):
        add_routes(app, module.router)
    s = ctx.settings
    portal.mount(app)  # the client portal's static pages at /portal (and / redirects there)
    # Route matching scans the list in order, ~10 k instructions per route passed: FastAPI's own /openapi.json
    # route, first in the list, goes last (a stable sort: the others keep their order).
    app.router.routes.sort(key=lambda route: getattr(route, "path", None) == app.openapi_url)
    app.add_middleware(AuditRefused, ctx=ctx, prefix=API_PREFIX)  # innermost: sees the handlers' answers
    app.add_middleware(RateLimit, buckets=TokenBuckets(s.rate_per_s, s.rate_burst),
                       exempt=(f"{API_PREFIX}/health",))
    app.add_middleware(BodyLimit, max_bytes=s.max_body_bytes)
    return app
