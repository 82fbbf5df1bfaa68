"""Users, API keys and groups, with delegated administration: a participant's administrator manages only
its own participant's users and keys; operator accounts are managed by operator-admins only."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

from fastapi import APIRouter, Response
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.service import audit
from api.service.auth_cache import bump_auth_epoch
from api.service.db import OPERATOR_GROUPS, PARTICIPANT_GROUPS, ApiKeyRow, GroupRow, SessionRow, UserRow
from api.service.deps import Administrator, Caller, Ctx, ObjectId, Paging, Principal
from api.service.errors import ApiError
from api.service.schemas import (
    ApiKeyCreated, ApiKeyIn, ApiKeyOut, GroupOut, PageOf, UserCreated, UserIn, UserOut, UserPatch,
)
from api.service.security import hash_password, new_token, new_totp_secret, token_hash, totp_uri
from ledger.store import ParticipantRow

router = APIRouter(tags=["administration"])


def _target_scope(p: Principal, participant_id: str | None, s: Session) -> str | None:
    """The participant an administrator may create accounts in: its own, or (operator-admin) any."""
    if p.is_operator:
        if participant_id is not None and s.get(ParticipantRow, participant_id) is None:
            raise ApiError(404, f"participant {participant_id} not found", field="participant_id")
        return participant_id
    if participant_id not in (None, p.participant_id):
        raise ApiError(403, "administrators manage accounts of their own participant only", field="participant_id")
    return p.participant_id


def _check_groups(groups: Sequence[str], participant_id: str | None) -> list[str]:
    allowed = OPERATOR_GROUPS if participant_id is None else PARTICIPANT_GROUPS
    bad = [g for g in groups if g not in allowed]
    if bad:
        where = "operator" if participant_id is None else "participant"
        raise ApiError(422, f"group {bad[0]} is not a {where} group; allowed: {', '.join(allowed)}", field="groups")
    return sorted(set(groups))


def _manageable(p: Principal, participant_id: str | None) -> bool:
    return p.is_operator or participant_id == p.participant_id


def _user_out(u: UserRow) -> UserOut:
    return UserOut(id=u.id, username=u.username, participant_id=u.participant_id, groups=list(u.groups),
                   active=u.active)


def _key_out(k: ApiKeyRow) -> ApiKeyOut:
    return ApiKeyOut(key_id=k.key_id, name=k.name, participant_id=k.participant_id, groups=list(k.groups),
                     active=k.active)


def _page_next(offset: int, limit: int, got: int) -> int | None:
    return offset + limit if got > limit else None


@router.get("/groups", response_model=PageOf[GroupOut])
def groups(_: Caller, ctx: Ctx, pg: Paging) -> PageOf[GroupOut]:
    with ctx.session() as s:
        rows = list(s.scalars(select(GroupRow).order_by(GroupRow.scope.desc(), GroupRow.name)
                              .offset(pg.offset).limit(pg.limit + 1)))
    return PageOf(items=[GroupOut(name=g.name, scope=g.scope, description=g.description) for g in rows[:pg.limit]],
                  next_offset=_page_next(pg.offset, pg.limit, len(rows)))


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(body: UserIn, p: Administrator, ctx: Ctx) -> UserCreated:
    secret = new_totp_secret()
    with ctx.session() as s:
        pid = _target_scope(p, body.participant_id, s)
        grp = _check_groups(body.groups, pid)
        if s.scalar(select(func.count()).select_from(UserRow).where(UserRow.username == body.username)):
            raise ApiError(409, f"username {body.username} is taken", field="username")
        u = UserRow(username=body.username, participant_id=pid, password_hash=hash_password(body.password),
                    totp_secret=secret, totp_last_step=0, groups=grp, active=True, created_by=p.actor)
        s.add(u)
        s.flush()
        audit.append(s, p.actor, "user.created", f"user:{u.username}", {"groups": grp}, pid)
        out = _user_out(u)
    return UserCreated(**out.model_dump(), totp_secret=secret, totp_uri=totp_uri(secret, body.username))


@router.get("/users", response_model=PageOf[UserOut])
def list_users(p: Administrator, ctx: Ctx, pg: Paging) -> PageOf[UserOut]:
    with ctx.session() as s:
        q = select(UserRow).order_by(UserRow.id)
        if not p.is_operator:
            q = q.where(UserRow.participant_id == p.participant_id)
        rows = list(s.scalars(q.offset(pg.offset).limit(pg.limit + 1)))
    return PageOf(items=[_user_out(u) for u in rows[:pg.limit]], next_offset=_page_next(pg.offset, pg.limit, len(rows)))


def _user_in_scope(s: Session, p: Principal, user_id: ObjectId) -> UserRow:
    u = s.get(UserRow, user_id)
    if u is None or not _manageable(p, u.participant_id):
        raise ApiError(404, "user not found")
    return u


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: ObjectId, p: Administrator, ctx: Ctx) -> UserOut:
    with ctx.session() as s:
        return _user_out(_user_in_scope(s, p, user_id))


@router.patch("/users/{user_id}", response_model=UserOut)
def patch_user(user_id: ObjectId, body: UserPatch, p: Administrator, ctx: Ctx) -> UserOut:
    with ctx.session() as s:
        u = _user_in_scope(s, p, user_id)
        change: dict[str, object] = {}
        if body.groups is not None:
            u.groups = _check_groups(body.groups, u.participant_id)
            change["groups"] = u.groups
        if body.active is not None:
            u.active = body.active
            change["active"] = body.active
            if body.active:  # (re-)enabling also lifts a sign-in lockout
                u.failed_signins, u.locked_until = 0, None
            if not body.active:  # disabling signs the user out everywhere
                s.execute(update(SessionRow).where(SessionRow.user_id == u.id, SessionRow.revoked_at.is_(None))
                          .values(revoked_at=dt.datetime.now(dt.UTC)))
        if change:  # groups and `active` are part of every remembered principal of this user
            bump_auth_epoch(s)
        audit.append(s, p.actor, "user.changed", f"user:{u.username}", change, u.participant_id)
        return _user_out(u)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_key(body: ApiKeyIn, p: Administrator, ctx: Ctx) -> ApiKeyCreated:
    key_id, secret = secrets.token_hex(6), new_token()
    with ctx.session() as s:
        pid = _target_scope(p, body.participant_id, s)
        grp = _check_groups(body.groups, pid)
        k = ApiKeyRow(key_id=key_id, secret_hash=token_hash(secret), participant_id=pid, name=body.name,
                      groups=grp, active=True, created_by=p.actor)
        s.add(k)
        s.flush()
        audit.append(s, p.actor, "api_key.created", f"key:{key_id}", {"groups": grp, "name": body.name}, pid)
        out = _key_out(k)
    return ApiKeyCreated(**out.model_dump(), key=f"lck_{key_id}_{secret}")


@router.get("/api-keys", response_model=PageOf[ApiKeyOut])
def list_keys(p: Administrator, ctx: Ctx, pg: Paging) -> PageOf[ApiKeyOut]:
    with ctx.session() as s:
        q = select(ApiKeyRow).order_by(ApiKeyRow.id)
        if not p.is_operator:
            q = q.where(ApiKeyRow.participant_id == p.participant_id)
        rows = list(s.scalars(q.offset(pg.offset).limit(pg.limit + 1)))
    return PageOf(items=[_key_out(k) for k in rows[:pg.limit]], next_offset=_page_next(pg.offset, pg.limit, len(rows)))


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response)
def revoke_key(key_id: str, p: Administrator, ctx: Ctx) -> Response:
    with ctx.session() as s:
        k = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id))
        if k is None or not _manageable(p, k.participant_id):
            raise ApiError(404, "API key not found")
        k.active = False
        bump_auth_epoch(s)
        audit.append(s, p.actor, "api_key.revoked", f"key:{key_id}", {}, k.participant_id)
    return Response(status_code=204)
