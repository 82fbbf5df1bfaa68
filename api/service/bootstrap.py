"""First start: seal the TOTP secrets with the service key, and create the exchange operator's first
administrator, so someone can sign in."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import func, select, update

from api.service import audit
from api.service.context import ServiceContext
from api.service.db import UserRow
from api.service.security import (
    TotpCipher, hash_password, install_totp_cipher, is_sealed, load_service_key, new_token, new_totp_secret,
    totp_cipher, totp_uri,
)

log = logging.getLogger(__name__)
_PREPARE_LOCK = threading.Lock()


@dataclass(frozen=True)
class SecretsReady:
    key_id: str
    key_source: str  # LEDGERCLEAR_SECRET_KEY or the key file's path
    checked: int  # sealed secrets that opened with the key
    sealed_now: int  # clear secrets (written before sealing existed) sealed just now


def prepare_secrets(ctx: ServiceContext) -> SecretsReady | None:
    """Load the service key, prove it opens every sealed TOTP secret, seal any clear ones, and install it
    for this database. Raises security.SecretKeyError (with what to do) on a missing or wrong key, so the
    service refuses to start rather than fail sign-ins. None when already done for this database.

    The key file is created (mode 0600) only while no secret is sealed yet: a lost key must not be silently
    replaced by a new one that opens nothing."""
    with _PREPARE_LOCK:
        if totp_cipher(ctx.engine) is not None:
            return None
        with ctx.session() as s:
            rows = [(i, v) for i, v in s.execute(select(UserRow.id, UserRow.totp_sealed))]
            sealed = [(i, v) for i, v in rows if is_sealed(v)]
            key, source = load_service_key(ctx.settings, create=not sealed)
            cipher = TotpCipher(key)
            for i, v in sealed:
                cipher.open(i, v)  # the first failure names the user and the key ids
            clear = [(i, v) for i, v in rows if v and not is_sealed(v)]
            for i, v in clear:
                s.execute(update(UserRow).where(UserRow.id == i).values({UserRow.totp_sealed: cipher.seal(i, v)}))
            if clear:
                audit.append(s, "system:bootstrap", "totp.sealed", "users", {"count": len(clear),
                                                                             "key_id": cipher.key_id})
        install_totp_cipher(ctx.engine, cipher)
    if clear:
        log.warning("sealed %d clear TOTP secrets with service key %s", len(clear), cipher.key_id)
    return SecretsReady(cipher.key_id, source, len(sealed), len(clear))


@dataclass(frozen=True)
class FirstAdmin:
    username: str
    password: str
    totp_secret: str
    totp_uri: str


def ensure_operator_admin(ctx: ServiceContext, username: str = "operator",
                          password: str | None = None) -> FirstAdmin | None:
    """Create an operator-admin when there are no users at all; None when users exist already."""
    prepare_secrets(ctx)  # the new user's secret is sealed on insert
    with ctx.session() as s:
        if s.scalar(select(func.count()).select_from(UserRow)):
            return None
        pw = password or new_token(18)
        secret = new_totp_secret()
        s.add(UserRow(username=username, participant_id=None, password_hash=hash_password(pw), totp_secret=secret,
                      totp_last_step=0, groups=["operator-admin"], active=True, created_by="system:bootstrap"))
        audit.append(s, "system:bootstrap", "user.created", f"user:{username}", {"groups": ["operator-admin"]})
    return FirstAdmin(username, pw, secret, totp_uri(secret, username))
