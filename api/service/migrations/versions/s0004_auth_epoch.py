"""authentication epoch

Revision ID: s0004
Revises: s0003
Create Date: 2026-11-21 18:00:00

`svc_auth_epoch` holds one row whose number is raised in the transaction of every change that can revoke or
alter a credential (sign-out, user changes, API key and client certificate revocation). Each worker process
caches authenticated credentials only while that number is unchanged (api/service/deps.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 's0004'
down_revision = 's0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    epoch = op.create_table('svc_auth_epoch',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(epoch, [{"id": 1, "epoch": 0}])


def downgrade() -> None:
    op.drop_table('svc_auth_epoch')
