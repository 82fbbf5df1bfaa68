"""First start: create the exchange operator's first administrator, so someone can sign in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from api.service import audit
from api.service.context import ServiceContext
from api.service.db import UserRow
from api.service.security import hash_password, new_token, new_totp_secret, totp_uri


@dataclass(frozen=True)
class FirstAdmin:
    username: str
    password: str
    totp_secret: str
    totp_uri: str


def ensure_operator_admin(ctx: ServiceContext, username: str = "operator",
                          password: str | None = None) -> FirstAdmin | None:
    """Create an operator-admin when there are no users at all; None when users exist already."""
    with ctx.session() as s:
        if s.scalar(select(func.count()).select_from(UserRow)):
            return None
        pw = password or new_token(18)
        secret = new_totp_secret()
        s.add(UserRow(username=username, participant_id=None, password_hash=hash_password(pw), totp_secret=secret,
                      totp_last_step=0, groups=["operator-admin"], active=True, created_by="system:bootstrap"))
        audit.append(s, "system:bootstrap", "user.created", f"user:{username}", {"groups": ["operator-admin"]})
    return FirstAdmin(username, pw, secret, totp_uri(secret, username))
