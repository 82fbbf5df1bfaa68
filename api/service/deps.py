"""Request dependencies: the service context, the authenticated caller (session token or API key),
role checks, and pagination."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from api.service.context import ServiceContext
from api.service.db import OPERATOR_GROUPS, ApiKeyRow, SessionRow, UserRow
from api.service.errors import ApiError
from api.service.schemas import PageOf
from api.service.security import same, token_hash

_bearer = HTTPBearer(auto_error=False, description="Session token from POST /v1/sessions")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key lck_<id>_<secret>")


def aware(t: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything here is UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


# Dependencies that do no I/O are `async def`: FastAPI runs a sync dependency in the thread pool, one
# thread hand-off each per request.
async def get_ctx(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServiceContext, Depends(get_ctx)]


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "api_key"
    id: int
    name: str
    participant_id: str | None  # None: the exchange operator
    groups: frozenset[str]
    session_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{'user' if self.kind == 'user' else 'key'}:{self.name}"

    @property
    def is_operator(self) -> bool:
        return self.participant_id is None

    def has(self, *groups: str) -> bool:
        return bool(self.groups.intersection(groups))


def _unauthenticated(message: str = "credentials required: a session token (Bearer) or an API key") -> ApiError:
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
