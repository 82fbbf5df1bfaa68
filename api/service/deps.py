"""Request dependencies: the service context, the authenticated caller (session token, API key or client
certificate), role checks, and pagination."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from api.service.context import ServiceContext
from api.service.db import OPERATOR_GROUPS, ApiKeyRow, ClientCertRow, SessionRow, UserRow
from api.service.errors import ApiError
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


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "api_key" | "client_cert"
    id: int
    name: str
    participant_id: str | None  # None: the exchange operator
    groups: frozenset[str]
    session_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{_ACTOR_PREFIX.get(self.kind, self.kind)}:{self.name}"

    @property
    def is_machine(self) -> bool:
        return self.kind in ("api_key", "client_cert")

    @property
    def is_operator(self) -> bool:
        return self.participant_id is None

    def has(self, *groups: str) -> bool:
        return bool(self.groups.intersection(groups))


_ACTOR_PREFIX = {"user": "user", "api_key": "key", "client_cert": "cert"}


def _unauthenticated(message: str = "credentials required: a session token (Bearer), an API key or a registered "
                                    "client certificate") -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


def authenticate(
    request: Request,
    ctx: Ctx,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    now = dt.datetime.now(dt.UTC)
    if bearer is not None and bearer.credentials:
        with ctx.session() as s:
            sess = s.scalar(select(SessionRow).where(SessionRow.token_hash == token_hash(bearer.credentials)))
            if sess is None or sess.revoked_at is not None or aware(sess.expires_at) <= now:
                raise _unauthenticated("session token unknown, expired or signed out")
            user = s.get(UserRow, sess.user_id)
            if user is None or not user.active:
                raise _unauthenticated("user disabled")
            p = Principal("user", user.id, user.username, user.participant_id, frozenset(user.groups), sess.id)
            request.state.principal = p  # for the audit of refused requests
            return p
    if api_key:
        parts = api_key.split("_", 2)
        if len(parts) == 3 and parts[0] == "lck":
            with ctx.session() as s:
                key = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_id == parts[1]))
                if key is not None and key.active and same(key.secret_hash, token_hash(parts[2])):
                    p = Principal("api_key", key.id, key.key_id, key.participant_id, frozenset(key.groups))
                    request.state.principal = p
                    return p
        raise _unauthenticated("API key unknown or revoked")
    cert = peer_certificate(request)  # verified against the client CA by the TLS layer (api/service/tls.py)
    if cert is not None:
        fp = fingerprint(cert)
        with ctx.session() as s:
            row = s.scalar(select(ClientCertRow).where(ClientCertRow.fingerprint == fp))
            if row is not None and row.active and (row.not_after is None or aware(row.not_after) > now):
                p = Principal("client_cert", row.id, fp[:16], row.participant_id, frozenset(row.groups))
                request.state.principal = p
                return p
        raise _unauthenticated("client certificate not registered, revoked or expired")
    raise _unauthenticated()


Caller = Annotated[Principal, Depends(authenticate)]


def require(*groups: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller must hold one of `groups`."""

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
        more = len(rows) > self.limit
        return PageOf(items=[convert(r) for r in rows[:self.limit]],
                      next_offset=self.offset + self.limit if more else None)


async def page(
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9, description="items to skip")] = 0,
) -> Page:
    return Page(limit, offset)


Paging = Annotated[Page, Depends(page)]


ObjectId = Annotated[int, Path(ge=1, le=2**62, description="object id")]
ParticipantPath = Annotated[str, Path(pattern=r"^[A-Z][0-9]{5}$", description="participant id, e.g. B01234")]
