"""The service on a real PostgreSQL server: both schemas migrate side by side, a signed pair settles,
the audit chain verifies (CI sets LEDGERCLEAR_TEST_PG_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_world import P1, P2, build
from sqlalchemy import inspect

from ledger.scratch_db import scratch_database

pytestmark = pytest.mark.postgres


@pytest.fixture()
def pg_url() -> Iterator[str]:
    admin_url = os.environ.get("LEDGERCLEAR_TEST_PG_URL")
    if not admin_url:
        pytest.skip("LEDGERCLEAR_TEST_PG_URL is not set (CI sets it after starting PostgreSQL)")
    with scratch_database(admin_url, "ledgerclear_svc") as url:
        yield url


def test_service_on_postgres(pg_url: str, tmp_path: Path) -> None:
    w = build(tmp_path, db_url=pg_url)
    try:
        tables = set(inspect(w.ctx.engine).get_table_names())
        assert {"alembic_version", "alembic_version_service", "instructions", "svc_audit", "svc_users"} <= tables
        c = w.client
        a = c.post("/v1/instructions", headers=w.h("a-stp"),
                   json=w.signed(w.fields(P1, P2, "deliver", ref="PG1", nonce=2**200, quantity=10)))
        assert a.status_code == 201, a.text
        replay = c.post("/v1/instructions", headers=w.h("a-stp"),
                        json=w.signed(w.fields(P1, P2, "deliver", ref="PG2", nonce=2**200, quantity=10)))
        assert replay.status_code == 409
        b = c.post("/v1/instructions", headers=w.h("b-stp"),
                   json=w.signed(w.fields(P2, P1, "receive", ref="PG1", nonce=1, quantity=10)))
        assert b.json()["status"] == "pending"
        run = c.post("/v1/settlement-runs", json={"name": "pg"}, headers=w.h("op1"))
        assert run.status_code == 201 and run.json()["figures"]["settled"] == 1
        v = c.get("/v1/audit/verify", headers=w.h("opview")).json()
        assert v["ok"] and v["entries"] > 5
        mine = c.get("/v1/instructions", headers=w.h("a-view")).json()["items"]
        assert [(i["sender_reference"], i["status"]) for i in mine] == [("PG1", "settled")]
        assert c.get(f"/v1/instructions/{mine[0]['id']}", headers=w.h("a-view")).json() == mine[0]
        held = c.get(f"/v1/accounts/{P1}/balances", headers=w.h("a-view")).json()["securities"]["items"]
        assert {"security_code": "00700", "quantity": 10_000 - 10} in held
    finally:
        w.client.close()
        w.ctx.engine.dispose()
