"""The store and a whole demo day on a real PostgreSQL server (CI starts one; see .ci/run)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect

from ledger.day import DayConfig as DemoConfig
from ledger.day import run_day as run_demo
from ledger.scratch_db import scratch_database
from ledger.store import Base, Store

pytestmark = pytest.mark.postgres


@pytest.fixture()
def pg_url() -> Iterator[str]:
    admin_url = os.environ.get("LEDGERCLEAR_TEST_PG_URL")
    if not admin_url:
        pytest.skip("LEDGERCLEAR_TEST_PG_URL is not set (CI sets it after starting PostgreSQL)")
    with scratch_database(admin_url) as url:
        yield url


def test_migrations_create_the_model_schema(pg_url: str) -> None:
    store = Store.open(pg_url)
    tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    Store.open(pg_url)  # a second open is a no-op upgrade, not an error
    store.engine.dispose()


def test_demo_day_on_postgres(pg_url: str) -> None:
    result = run_demo(DemoConfig(trades=1200, participants=12, securities=50, seed=5, db_url=pg_url))
    s = result.summary
    assert s["conservation_ok"] is True
    store = Store.open(pg_url, migrate=False)
    counts = store.count_by_state()
    # Every obligation ended the day in a final state, and the store agrees with the summary.
    assert "pending" not in counts and "submitted" not in counts
    assert counts.get("failed", 0) >= s["failed"]
    names = [r.name for r in store.runs()]
    assert names[:2] == ["run 1", "run 2"] and names[-1] == "final run"
    store.engine.dispose()
