"""Schema migrations of the service tables (Alembic, run programmatically; separate from ledger/migrations)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from ledger import migrate

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the service tables to `revision` (the latest by default)."""
    migrate.upgrade(engine, revision, MIGRATIONS)
