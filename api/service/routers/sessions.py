"""Sign-in (password + TOTP) to a short-lived session token; sign-out revokes it."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.service import audit
from api.service.auth_cache import bump_auth_epoch
from api.service.db import SessionRow, UserRow
from api.service.deps import Caller, Ctx, aware
from api.service.errors import ApiError
from api.service.schemas import Me, SessionOut, SignIn
from api.service.security import DUMMY_HASH, new_token, token_hash, verify_password, verify_totp

router = APIRouter(tags=["sessions"])


@router.post("/sessions", response_model=SessionOut, status_code=201, responses={401: {}})
def sign_in(body: SignIn, ctx: Ctx) -> SessionOut:
    now = dt.datetime.now(dt.UTC)
    with ctx.session() as s:
        user = s.scalar(select(UserRow).where(UserRow.username == body.username))
        locked = user is not None and user.locked_until is not None and aware(user.locked_until) > now
        ok_pw = verify_password(user.password_hash if user else DUMMY_HASH, body.password)
        step = verify_totp(user.totp_secret, body.totp, user.totp_last_step) if user and ok_pw else None
        failed = user is None or not user.active or locked or not ok_pw or step is None
        if failed:
            why = "locked" if locked else "bad credentials or second factor"
            if user is not None and not locked:
                user.failed_signins = (user.failed_signins or 0) + 1
                if user.failed_signins >= ctx.settings.max_failed_signins:
                    user.failed_signins, user.locked_until = 0, now + dt.timedelta(seconds=ctx.settings.lockout_s)
                    why = f"locked for {ctx.settings.lockout_s} s after repeated failures"
            audit.append(s, f"anonymous:{body.username}", "session.denied", f"user:{body.username}",
                         {"why": why}, user.participant_id if user else None)
        else:
            assert user is not None and step is not None
            user.totp_last_step, user.failed_signins, user.locked_until = step, 0, None
            token = new_token()
            expires = now + dt.timedelta(seconds=ctx.settings.session_ttl_s)
            s.add(SessionRow(token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=expires))
            audit.append(s, f"user:{user.username}", "session.created", f"user:{user.username}", {},
                         user.participant_id)
    if failed:  # raised after the transaction so the denial is recorded
        raise ApiError(401, "wrong username, password or second factor")
    assert user is not None
    return SessionOut(token=token, expires_at=expires, username=user.username, participant_id=user.participant_id,
                      groups=list(user.groups))


@router.delete("/sessions/current", status_code=204, response_class=Response)
def sign_out(p: Caller, ctx: Ctx) -> Response:
    if p.session_id is None:
        raise ApiError(400, "API keys have no session; revoke the key instead")
    with ctx.session() as s:
        row = s.get(SessionRow, p.session_id)
        if row is not None and row.revoked_at is None:
            row.revoked_at = dt.datetime.now(dt.UTC)
            bump_auth_epoch(s)  # other processes may remember this session
        audit.append(s, p.actor, "session.revoked", f"session:{p.session_id}", {}, p.participant_id)
    return Response(status_code=204)


@router.get("/me", response_model=Me)
async def me(p: Caller) -> Me:
    return Me(kind=p.kind, name=p.name, participant_id=p.participant_id, groups=sorted(p.groups))
