"""client certificates; room for sealed TOTP secrets

Revision ID: s0002
Revises: s0001
Create Date: 2026-11-21 15:30:00

Upgrade creates `svc_client_certs` and widens `svc_users.totp_secret` for the sealed form. It does not seal:
the migration runner is given only the database, not the service settings that say where the service key
is, and a key generated here could land somewhere the service never looks. The service seals every clear
secret when it starts (bootstrap.prepare_secrets), before it answers any request.

Downgrade opens the sealed secrets again (the old schema stores them in clear), with the key from the
Alembic config attribute `secret_key` (bytes) or else the service settings (LEDGERCLEAR_SECRET_KEY /
LEDGERCLEAR_SECRET_KEY_FILE / the default key file); it refuses, changing nothing, if it cannot.

Self-contained: the sealed format (`v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, AES-256-GCM with the
user id as associated data), the key formats and where the key is looked for are copied here as they were at
this revision, so later changes to the service cannot change what this migration does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

revision = 's0002'
down_revision = 's0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('svc_client_certs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('participant_id', sa.String(length=6), nullable=True),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('groups', sa.JSON(), nullable=False),
    sa.Column('subject', sa.String(length=400), nullable=True),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fingerprint')
    )
    with op.batch_alter_table('svc_client_certs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_client_certs_participant_id'), ['participant_id'], unique=False)
    with op.batch_alter_table('svc_users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=False)


# ---- frozen at s0002: the service key and the sealed TOTP format -------------------------------------------

_KEY_BYTES = 32
_SEAL_PREFIX = "v1."
_ENV_KEY = "LEDGERCLEAR_SECRET_KEY"
_ENV_KEY_FILE = "LEDGERCLEAR_SECRET_KEY_FILE"
_ENV_DB_URL = "LEDGERCLEAR_DB_URL"
_DEFAULT_DB_URL = "sqlite:///ledgerclear.sqlite"
_KEY_FILE_NAME = "ledgerclear-secret.key"


class _KeyError(Exception):
    """No usable service key, or a sealed secret that does not open with it."""


def _parse_key(text: str, where: str) -> bytes:
    """32 bytes from 64 hex digits or base64 (standard or URL-safe alphabet, padding optional)."""
    t = text.strip()
    try:
        if len(t) == 2 * _KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in t):
            raw = bytes.fromhex(t)
        else:
            norm = t.replace("-", "+").replace("_", "/")
            raw = base64.b64decode(norm + "=" * (-len(norm) % 4), validate=True)
    except (ValueError, binascii.Error):
        raise _KeyError(f"{where}: not base64 or hex") from None
    if len(raw) != _KEY_BYTES:
        raise _KeyError(f"{where}: the service key must be {_KEY_BYTES} bytes, this one is {len(raw)}")
    return raw


def _key_file() -> Path:
    """The configured key file, else beside the SQLite database, else the working directory."""
    configured = os.environ.get(_ENV_KEY_FILE)
    if configured is not None:
        return Path(configured)
    db_url = os.environ.get(_ENV_DB_URL, _DEFAULT_DB_URL)
    prefix = "sqlite:///"
    if db_url.startswith(prefix) and ":memory:" not in db_url and len(db_url) > len(prefix):
        return Path(db_url[len(prefix):].split("?", 1)[0]).parent / _KEY_FILE_NAME
    return Path(_KEY_FILE_NAME)


def _service_key_from_env() -> bytes:
    given = os.environ.get(_ENV_KEY)
    if given is not None:
        return _parse_key(given, _ENV_KEY)
    path = _key_file()
    try:
        return _parse_key(path.read_text(), str(path))
    except FileNotFoundError:
        raise _KeyError(f"the service key file {path} does not exist") from None
    except OSError as exc:
        raise _KeyError(f"cannot read the service key file {path}: {exc.strerror}") from None


def _is_sealed(stored: str) -> bool:
    return stored.startswith(_SEAL_PREFIX)


def _open_sealed(key: bytes, user_id: int, stored: str) -> str:
    parts = stored.split(".")
    if len(parts) != 3 or not _is_sealed(stored):
        raise _KeyError(f"user id {user_id}: the TOTP secret is not sealed")
    key_id = hashlib.sha256(b"ledgerclear service key id\0" + key).hexdigest()[:16]
    if parts[1] != key_id:
        raise _KeyError(f"user id {user_id}: the TOTP secret was sealed with service key id {parts[1]}, but the "
                        f"configured key has id {key_id}")
    try:
        blob = base64.urlsafe_b64decode(parts[2])
        return AESGCM(key).decrypt(blob[:12], blob[12:], f"ledgerclear/totp/v1/user:{user_id}".encode()).decode()
    except (InvalidTag, ValueError, binascii.Error):
        raise _KeyError(f"user id {user_id}: the sealed TOTP secret does not open with the service key "
                        "(altered, or copied from another user)") from None


def _downgrade_key() -> bytes:
    config = op.get_context().config
    given = config.attributes.get('secret_key') if config is not None else None
    if given is not None:
        return bytes(given)
    try:
        return _service_key_from_env()
    except _KeyError as exc:
        raise RuntimeError(f"downgrade below s0002 must unseal the TOTP secrets and has no key: {exc}") from None


def downgrade() -> None:
    users = sa.table('svc_users', sa.column('id', sa.Integer()), sa.column('totp_secret', sa.String()))
    conn = op.get_bind()
    sealed = [(i, v) for i, v in conn.execute(sa.select(users.c.id, users.c.totp_secret)) if _is_sealed(v)]
    if sealed:
        key = _downgrade_key()
        if len(key) != _KEY_BYTES:
            raise RuntimeError(f"downgrade below s0002 refused: the service key must be {_KEY_BYTES} bytes")
        try:
            clear = [(i, _open_sealed(key, i, v)) for i, v in sealed]  # all opened before anything is written
        except _KeyError as exc:
            raise RuntimeError(f"downgrade below s0002 refused: {exc}") from None
        for i, secret in clear:
            conn.execute(users.update().where(users.c.id == i).values(totp_secret=secret))
    with op.batch_alter_table('svc_users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=False)
    with op.batch_alter_table('svc_client_certs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_svc_client_certs_participant_id'))
    op.drop_table('svc_client_certs')
