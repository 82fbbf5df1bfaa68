"""events in the database; named locks

Revision ID: s0003
Revises: s0002
Create Date: 2026-11-21 16:00:00

`svc_events` holds the status changes the event stream serves (written with the change, so every worker
process sees them and a reconnecting client can resume after a restart). `svc_locks` holds one row per named
lock (api/service/locks.py): taking a lock is an UPDATE of its row, which serialises across processes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 's0003'
down_revision = 's0002'
branch_labels = None
depends_on = None

LOCKS = ("matching", "events")


def upgrade() -> None:
    op.create_table('svc_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('svc_events', schema=None) as batch_op:
        batch_op.create_index('ix_svc_events_channel_id', ['channel', 'id'], unique=False)
    locks = op.create_table('svc_locks',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('taken', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.bulk_insert(locks, [{"name": n, "taken": 0} for n in LOCKS])


def downgrade() -> None:
    op.drop_table('svc_locks')
    with op.batch_alter_table('svc_events', schema=None) as batch_op:
        batch_op.drop_index('ix_svc_events_channel_id')
    op.drop_table('svc_events')
