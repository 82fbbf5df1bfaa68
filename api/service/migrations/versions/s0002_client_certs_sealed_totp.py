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
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

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


def _downgrade_key() -> bytes:
    from api.service.security import SecretKeyError, load_service_key
    from api.service.settings import Settings

    config = op.get_context().config
    given = config.attributes.get('secret_key') if config is not None else None
    if given is not None:
        return bytes(given)
    try:
        return load_service_key(Settings.from_env(), create=False)[0]
    except SecretKeyError as exc:
        raise RuntimeError(f"downgrade below s0002 must unseal the TOTP secrets and has no key: {exc}") from None


def downgrade() -> None:
    from api.service.security import SecretKeyError, TotpCipher, is_sealed

    users = sa.table('svc_users', sa.column('id', sa.Integer()), sa.column('totp_secret', sa.String()))
    conn = op.get_bind()
    sealed = [(i, v) for i, v in conn.execute(sa.select(users.c.id, users.c.totp_secret)) if is_sealed(v)]
    if sealed:
        cipher = TotpCipher(_downgrade_key())
        try:
            clear = [(i, cipher.open(i, v)) for i, v in sealed]  # all opened before anything is written
        except SecretKeyError as exc:
            raise RuntimeError(f"downgrade below s0002 refused: {exc}") from None
        for i, secret in clear:
            conn.execute(users.update().where(users.c.id == i).values(totp_secret=secret))
    with op.batch_alter_table('svc_users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=False)
    with op.batch_alter_table('svc_client_certs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_svc_client_certs_participant_id'))
    op.drop_table('svc_client_certs')
