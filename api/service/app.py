"""Assembly: routers under /v1, error bodies, size and rate limits, the context on app.state."""

from __future__ import annotations

import gc
from typing import Any

from fastapi import FastAPI

from api import portal
from api.service import errors
from api.service.context import ServiceContext
from api.service.errors import ErrorBody
from api.service.limits import BodyLimit, RateLimit, TokenBuckets
from api.service.request_audit import AuditRefused
from api.service.routers import (
    accounts, audit, client_certs, events, health, instructions, margin, participants, reports, runs, sessions, users,
)

API_PREFIX = "/v1"
# The routers that need credentials, in the order the OpenAPI document lists their paths; health is public.
ROUTERS = (accounts, instructions, sessions, users, client_certs, participants, runs, margin, reports, events, audit)

_ERR: dict[str, Any] = {"model": ErrorBody}
# The error responses every operation that needs credentials documents (an operation's own entries win).
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERR, "description": "bad request"},
    401: {**_ERR, "description": "no or bad credentials"},
    403: {**_ERR, "description": "not allowed for this caller"},
    404: {**_ERR, "description": "not found (or not the caller's)"},
    409: {**_ERR, "description": "conflicts with the current state"},
    413: {**_ERR, "description": "request body too large"},
    422: {**_ERR, "description": "invalid input"},
    429: {**_ERR, "description": "rate limited; see Retry-After"},
    500: {**_ERR, "description": "internal error (logged; no details)"},
}


def keep_out_of_collections() -> None:
    """Move everything alive now out of the garbage collector's scans: the chain, the app and its models live
    as long as the process, and a full collection under load would scan them every time. Called by `serve`
    and each worker once the app is built, not by create_app: a test process builds many apps."""
    gc.collect()
    gc.freeze()


def create_app(ctx: ServiceContext) -> FastAPI:
    app = FastAPI(
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
    for module in ROUTERS:
        app.include_router(module.router, prefix=API_PREFIX, responses=COMMON_RESPONSES)
    app.include_router(health.router, prefix=API_PREFIX, responses={500: COMMON_RESPONSES[500]})
    s = ctx.settings
    portal.mount(app)  # the client portal's static pages at /portal (and / redirects there)
    app.add_middleware(AuditRefused, ctx=ctx, prefix=API_PREFIX)  # innermost: sees the handlers' answers
    app.add_middleware(RateLimit, buckets=TokenBuckets(s.rate_per_s, s.rate_burst),
                       exempt=(f"{API_PREFIX}/health",))
    app.add_middleware(BodyLimit, max_bytes=s.max_body_bytes)
    return app
