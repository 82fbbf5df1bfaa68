"""Alembic environment of the service tables: own metadata, own version table (alembic_version_service)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from api.service.db import ServiceBase
from api.service import events as _events, locks as _locks  # noqa: F401  (their tables are in the metadata)

VERSION_TABLE = "alembic_version_service"

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Autogenerate must not see the ledger's tables (same database, other metadata).
    return not (type_ == "table" and reflected and compare_to is None)


with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=ServiceBase.metadata, render_as_batch=True,
                      version_table=VERSION_TABLE, include_object=_ours)
    with context.begin_transaction():
        context.run_migrations()
