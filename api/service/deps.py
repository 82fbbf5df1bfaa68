"""Request dependencies: the service context, the authenticated caller (session token, API key or client
certificate), role checks, and pagination."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic_core import to_json
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.service.context import ServiceContext
from api.service.db import OPERATOR_GROUPS, ApiKeyRow, AuthEpochRow, ClientCertRow, SessionRow, UserRow
from api.service.errors import ApiError
from api.service.loop_reads import read_rows
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


# --- Authentication cache -----------------------------------------------------------------------------------
# Looking a credential up costs an ORM transaction with one or two queries on every request. Each process
# remembers the credentials that authenticated, but only while the database's auth epoch (one row of
# svc_auth_epoch) is unchanged: every change that can revoke or alter a credential raises it in its own
# transaction (bump_auth_epoch), so all worker processes forget at once when it commits. Only successes are
# remembered (a new session, key or certificate is found by the lookup), keyed by the token's sha256 or the
# certificate's fingerprint, never a secret in clear; expiry is still checked on every request.

AUTH_CACHE_SIZE = 10_000  # entries per process and database; the least recently used go first
_EPOCH_ID = 1
_READ_EPOCH = select(AuthEpochRow.epoch).where(AuthEpochRow.id == _EPOCH_ID)
_BUMP_EPOCH = (update(AuthEpochRow).where(AuthEpochRow.id == _EPOCH_ID)
               .values(epoch=AuthEpochRow.epoch + 1).execution_options(synchronize_session=False))


def bump_auth_epoch(s: Session) -> None:
    """In the transaction of a change that can revoke or alter a credential: once it commits, every process's
    authentication cache is void (deps.authenticate reads the epoch first on each request)."""
    res = s.execute(_BUMP_EPOCH)
    if getattr(res, "rowcount", 1) != 1:
        raise _epoch_missing()


def auth_epoch(engine: Engine) -> int:
    """The current auth epoch: one Core query on a pooled connection (no ORM session)."""
    with engine.connect() as conn:
        value = conn.execute(_READ_EPOCH).scalar()
    if value is None:
        raise _epoch_missing()
    return int(value)


def _epoch_missing() -> RuntimeError:
    return RuntimeError("auth epoch row is missing: the service schema is not migrated")


async def current_epoch(engine: Engine) -> int:
    """`auth_epoch` from the event loop: read on the loop itself on a SQLite file (api/service/loop_reads.py),
    in the thread pool otherwise."""
    rows = await read_rows(engine, _READ_EPOCH)
    if not rows:
        raise _epoch_missing()
    return int(rows[0][0])


@dataclass(frozen=True)
class Remembered:
    epoch: int  # read before the lookup: valid only while the database still has this epoch
    principal: Principal
    until: dt.datetime | None  # a session's expires_at or a certificate's not_after (aware)


class AuthCache:
    """Bounded LRU of credentials that authenticated (thread-safe: several event loops may share it, e.g. test
    clients, each on its own thread)."""

    def __init__(self, max_entries: int = AUTH_CACHE_SIZE) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Remembered] = OrderedDict()
        self._epoch: int | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, epoch: int) -> Remembered | None:
        with self._lock:
            if epoch != self._epoch:  # the epoch moved: nothing remembered is valid any more
                self._entries.clear()
                self._epoch = epoch
                return None
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: str, entry: Remembered) -> None:
        with self._lock:
            if entry.epoch != self._epoch:  # read under an epoch the cache has left: stale already
                return
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


_CACHES: weakref.WeakKeyDictionary[Engine, AuthCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def auth_cache(engine: Engine) -> AuthCache:
    """The cache of this process for the database behind `engine`."""
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = AuthCache()
        return cache


Lookup = Callable[[Session, dt.datetime], tuple[Principal, dt.datetime | None]]  # raises the 401 itself


async def _authenticated(request: Request, ctx: ServiceContext, key: str, now: dt.datetime, expired: str,
                         lookup: Lookup) -> Principal:
    """The principal behind credential `key`: remembered under the current epoch, else looked up (in the thread
    pool). A remembered credential costs no thread hand-off on a SQLite database."""
    cache = auth_cache(ctx.engine)
    epoch = await current_epoch(ctx.engine)  # first: a revocation committed after this read leaves a newer epoch
    hit = cache.get(key, epoch)
    if hit is None:
        p, until = await run_in_threadpool(_look_up, ctx, lookup, now)
        hit = Remembered(epoch, p, until)
        cache.put(key, hit)
    elif hit.until is not None and hit.until <= now:
        cache.drop(key)
        raise _unauthenticated(expired)
    request.state.principal = hit.principal  # for the audit of refused requests
    return hit.principal


def _look_up(ctx: ServiceContext, lookup: Lookup, now: dt.datetime) -> tuple[Principal, dt.datetime | None]:
    with ctx.session() as s:
        return lookup(s, now)


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
# The two credential schemes (the client certificate comes with the connection). Dependencies that take them
# declare them, so the OpenAPI document lists the schemes on every operation that needs credentials, and read
# them from the request themselves: routes of ServiceRoute (api/service/routing.py) run without the two
# declared dependencies.
SCHEMES = (_bearer, _api_key)


async def authenticate(request: Request, bearer: Bearer = None, api_key: ApiKey = None) -> Principal:
    """A dependency: the caller, by session token, API key or client certificate (401 if none is valid).
    `bearer` and `api_key` are declarations (see SCHEMES): the credentials are read from `request`."""
    return await _caller(request)


# A plain coroutine, not a dependency: FastAPI resolves each dependency on every request (two fewer saved
# ~35 us in-process), so `require` calls this itself instead of depending on `authenticate`, and neither
# depends on `Ctx`.
async def _caller(request: Request) -> Principal:
    ctx = service_context(request)
    now = dt.datetime.now(dt.UTC)
    bearer, api_key = await _bearer(request), await _api_key(request)
    if bearer is not None and bearer.credentials:
        hashed = token_hash(bearer.credentials)
        return await _authenticated(request, ctx, f"session:{hashed}", now, _SESSION_REFUSED,
                                    _session_lookup(hashed))
    if api_key:
        parts = api_key.split("_", 2)
        if len(parts) == 3 and parts[0] == "lck":
            # keyed by the hash of the whole key: a hit means this exact key and secret passed the check
            return await _authenticated(request, ctx, f"api_key:{token_hash(api_key)}", now, _KEY_REFUSED,
                                        _key_lookup(parts[1], parts[2]))
        raise _unauthenticated(_KEY_REFUSED)
    cert = peer_certificate(request)  # verified against the client CA by the TLS layer (api/service/tls.py)
    if cert is not None:
        fp = fingerprint(cert)
        return await _authenticated(request, ctx, f"client_cert:{fp}", now, _CERT_REFUSED, _cert_lookup(fp))
    raise _unauthenticated()


Caller = Annotated[Principal, Depends(authenticate)]


def require(*groups: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller (as `authenticate`) must hold one of `groups`."""

    async def check(request: Request, bearer: Bearer = None, api_key: ApiKey = None) -> Principal:
        p = await _caller(request)
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
