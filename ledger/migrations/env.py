"""Alembic environment: migrations run on the engine handed over by ledger.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ledger.store import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
