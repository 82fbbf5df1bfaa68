"""Request dependencies: the service context, the authenticated caller (session token, API key or client
certificate), role checks, and pagination."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.service.auth_cache import Remembered, auth_cache, epoch_reads
from api.service.context import ServiceContext
from api.service.db import OPERATOR_GROUPS, ApiKeyRow, ClientCertRow, SessionRow, UserRow
from api.service.errors import ApiError
from api.service.principal import Principal as Principal  # re-exported: the routers and services take it from here
from api.service.schemas import PageOf
from api.service.security import SecretKeyError, same, token_hash, totp_cipher
from api.service.tls import fingerprint, peer_certificate

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="Session token from POST /v1/sessions")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key lck_<id>_<secret>")


def aware(t: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything here is UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


# Dependencies that do no I/O are `async def`: FastAPI runs a sync dependency in the thread pool, one
# thread hand-off each per request.
async def get_ctx(request: Request) -> ServiceContext:
    return service_context(request)


def service_context(request: Request) -> ServiceContext:
    """The service context of the app serving `request`, its secrets prepared."""
    ctx: ServiceContext = request.app.state.ctx
    if totp_cipher(ctx.engine) is None:
        # `serve` prepares the service key before listening; an app built another way (tests, embedding)
        # prepares it on its first request (blocking once).
        from api.service.bootstrap import prepare_secrets

        try:
            prepare_secrets(ctx)
        except SecretKeyError as exc:
            log.error("service key: %s", exc)
            raise ApiError(503, "the service is not ready (service key); see the server log") from None
    return ctx


Ctx = Annotated[ServiceContext, Depends(get_ctx)]


def _unauthenticated(message: str = "credentials required: a session token (Bearer), an API key or a registered "
                                    "client certificate") -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


Lookup = Callable[[Session, dt.datetime], tuple[Principal, dt.datetime | None]]  # raises the 401 itself


_SESSION_REFUSED = "session token unknown, expired or signed out"
_KEY_REFUSED = "API key unknown or revoked"
_CERT_REFUSED = "client certificate not registered, revoked or expired"


def _session_lookup(hashed: str) -> Lookup:
    def lookup(s: Session, now: dt.datetime) -> tuple[Principal, dt.datetime | None]:
        sess = s.scalar(select(SessionRow).where(SessionRow.token_hash == hashed))
        if sess is None or sess.revoked_at is not None or aware(sess.expires_at) <= now:
            raise _unauthenticated(_SESSION_REFUSED)
        user = s.get(UserRow, sess.user_id)
        if user is None or not user.active:
            raise _unauthenticated("user disabled")
        p = Principal("user", user.id, user.username, user.participant_id, frozenset(user.groups), sess.id)
        return p, aware(sess.expires_at)

    return lookup


def _key_lookup(key_id: str, secret: str) -> Lookup:
    def lookup(s: Session, _: dt.datetime) -> tuple[Principal, dt.datetime | None]:
        key = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id))
        if key is not None and key.active and same(key.secret_hash, token_hash(secret)):
            return Principal("api_key", key.id, key.key_id, key.participant_id, frozenset(key.groups)), None
        raise _unauthenticated(_KEY_REFUSED)

    return lookup


def _cert_lookup(fp: str) -> Lookup:
    def lookup(s: Session, now: dt.datetime) -> tuple[Principal, dt.datetime | None]:
        row = s.scalar(select(ClientCertRow).where(ClientCertRow.fingerprint == fp))
        if row is not None and row.active and (row.not_after is None or aware(row.not_after) > now):
            p = Principal("client_cert", row.id, fp[:16], row.participant_id, frozenset(row.groups))
            return p, aware(row.not_after) if row.not_after is not None else None
        raise _unauthenticated(_CERT_REFUSED)

    return lookup


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ApiKey = Annotated[str | None, Depends(_api_key)]


def _credential(request: Request, bearer: HTTPAuthorizationCredentials | None,
                api_key: str | None) -> tuple[str, str, Lookup]:
    """The credential the request presents, first of session token, API key, client certificate: (its cache key,
    the message refusing it, its lookup). 401 if there is none."""
    if bearer is not None and bearer.credentials:
        hashed = token_hash(bearer.credentials)
        return f"session:{hashed}", _SESSION_REFUSED, _session_lookup(hashed)
    if api_key:
        parts = api_key.split("_", 2)
        if len(parts) == 3 and parts[0] == "lck":
            # keyed by the hash of the whole key: a hit means this exact key and secret passed the check
            return f"api_key:{token_hash(api_key)}", _KEY_REFUSED, _key_lookup(parts[1], parts[2])
        raise _unauthenticated(_KEY_REFUSED)
    cert = peer_certificate(request)  # verified against the client CA by the TLS layer (api/service/tls.py)
    if cert is not None:
        fp = fingerprint(cert)
        return f"client_cert:{fp}", _CERT_REFUSED, _cert_lookup(fp)
    raise _unauthenticated()


async def authenticate(request: Request, ctx: Ctx, bearer: Bearer, api_key: ApiKey) -> Principal:
    """The caller, by session token, API key or client certificate (401 if none is valid): remembered under the
    current auth epoch (api/service/auth_cache.py), else looked up in the thread pool."""
    key, refused, lookup = _credential(request, bearer, api_key)
    epoch = await epoch_reads(ctx.engine).current()  # first: a revocation committed after it leaves a newer epoch
    cache = auth_cache(ctx.engine)
    now = dt.datetime.now(dt.UTC)
    hit = cache.get(key, epoch)
    if hit is None:
        principal, until = await run_in_threadpool(_look_up, ctx, lookup, now)
        hit = Remembered(epoch, principal, until)
        cache.put(key, hit)
    elif hit.until is not None and hit.until <= now:
        cache.drop(key)
        raise _unauthenticated(refused)
    request.state.principal = hit.principal  # for the audit of refused requests (request_audit.py)
    return hit.principal


def _look_up(ctx: ServiceContext, lookup: Lookup, now: dt.datetime) -> tuple[Principal, dt.datetime | None]:
    with ctx.session() as s:
        return lookup(s, now)


Caller = Annotated[Principal, Depends(authenticate)]


def require(*groups: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller (as `authenticate`, so app.dependency_overrides[authenticate] reaches every
    route) must hold one of `groups`."""

    async def check(p: Caller) -> Principal:
        if not p.has(*groups):
            raise ApiError(403, f"needs one of the groups: {', '.join(groups)}")
        return p

    return check


PARTICIPANT_READERS = ("viewer", "inputter", "authoriser", "administrator")
ANY_READER = (*PARTICIPANT_READERS, *OPERATOR_GROUPS)

Reader = Annotated[Principal, Depends(require(*ANY_READER))]
Inputter = Annotated[Principal, Depends(require("inputter"))]
Authoriser = Annotated[Principal, Depends(require("authoriser"))]
Administrator = Annotated[Principal, Depends(require("administrator", "operator-admin"))]
OperatorReader = Annotated[Principal, Depends(require(*OPERATOR_GROUPS))]
OperatorAdmin = Annotated[Principal, Depends(require("operator-admin"))]


def own(p: Principal, participant_id: str | None, what: str = "not found") -> None:
    """Participants see only their own objects; anything else is 404 (no leak that it exists)."""
    if not p.is_operator and p.participant_id != participant_id:
        raise ApiError(404, what)


R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """A page request. Queries fetch `limit + 1` rows so `of` can tell whether another page follows."""

    limit: int
    offset: int

    def of(self, rows: Sequence[R], convert: Callable[[R], T]) -> PageOf[T]:
        """The page of `rows` (fetched with `.offset(offset).limit(limit + 1)`), converted for output."""
        return PageOf(items=[convert(r) for r in rows[:self.limit]], next_offset=self._next(rows))

    def json(self, rows: Sequence[R], fields: Callable[[R], dict[str, Any]]) -> Response:
        """The page as `of` would answer it, serialised straight from each row's `fields` (which must be the
        item model's fields, in order, with its types): no model built and validated per item, which was 23%
        of the instructions of a list of 20 (callgrind)."""
        page = {"items": [fields(r) for r in rows[:self.limit]], "next_offset": self._next(rows)}
        return Response(to_json(page), media_type="application/json")

    def _next(self, rows: Sequence[object]) -> int | None:
        return self.offset + self.limit if len(rows) > self.limit else None


async def page(
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9, description="items to skip")] = 0,
) -> Page:
    return Page(limit, offset)


Paging = Annotated[Page, Depends(page)]


ObjectId = Annotated[int, Path(ge=1, le=2**62, description="object id")]
ParticipantPath = Annotated[str, Path(pattern=r"^[A-Z][0-9]{5}$", description="participant id, e.g. B01234")]
