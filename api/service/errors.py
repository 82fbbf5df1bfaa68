"""One error body for every failure: {"error": {"code", "message", "field"}}; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("ledgerclear.service")

_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
          422: "invalid", 429: "rate_limited", 500: "internal", 503: "unavailable"}


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """Raise anywhere in a request to answer `status` with the standard error body."""

    def __init__(self, status: int, message: str, code: str | None = None, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.field = field
        self.headers = headers


def not_found(what: str = "not found") -> ApiError:
    return ApiError(404, what)


def body(status: int, message: str, code: str | None = None, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code or _CODES.get(status, "error"), "message": message, "field": field}}


def response(status: int, message: str, code: str | None = None, field: str | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(status, message, code, field), status_code=status, headers=headers)


def _field(loc: Any) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return response(exc.status, exc.message, exc.code, exc.field, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = exc.detail if isinstance(exc.detail, str) else _CODES.get(exc.status_code, "error")
        return response(exc.status_code, msg, headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {"loc": (), "msg": "invalid request"}
        field = _field(first.get("loc", ()))
        msg = str(first.get("msg", "invalid request"))
        if len(errs) > 1:
            msg += f" (and {len(errs) - 1} more)"
        return response(422, f"{field}: {msg}" if field else msg, field=field)

    @app.exception_handler(IntegrityError)
    async def _conflict(_: Request, exc: IntegrityError) -> JSONResponse:
        # A uniqueness race lost to a concurrent request: nothing was stored (the transaction rolled back).
        log.info("integrity conflict: %s", exc.orig)
        return response(409, "conflicts with a concurrent change or existing data; nothing was stored")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return response(500, "internal error; it has been logged")
