"""The service against a real JSON-RPC node (Anvil): a matched pair settles, and `node reconcile --rpc`
agrees with the service; a tampered service view is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import uvicorn
from service_world import P1, P2, SEC, World, build, serving
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.node.reconcile import reconcile
from api.service.app import create_app
from ledger.anvil import anvil_binary, anvil_node, free_port

pytestmark = [pytest.mark.anvil,
              pytest.mark.skipif(anvil_binary() is None, reason="Anvil not installed (npm install)")]


def test_service_on_anvil_and_reconcile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with anvil_node() as rpc:
        dep_file = tmp_path / "deployment.json"
        w: World = build(tmp_path, rpc_url=rpc, deployment_file=dep_file)
        assert dep_file.exists()
        port = free_port()
        try:
            with serving(uvicorn.Config(create_app(w.ctx), host="127.0.0.1", port=port, log_level="warning")):
                c = w.client
                a = c.post("/v1/instructions", headers=w.h("a-stp"),
                           json=w.signed(w.fields(P1, P2, "deliver", ref="ANV1", nonce=1, quantity=300)))
                b = c.post("/v1/instructions", headers=w.h("b-stp"),
                           json=w.signed(w.fields(P2, P1, "receive", ref="ANV1", nonce=1, quantity=300)))
                assert a.status_code == 201 and b.json()["status"] == "pending"

                def held() -> int:
                    bal = c.get(f"/v1/accounts/{P2}/balances", headers=w.h("b-view"))
                    assert bal.status_code == 200, bal.text
                    return sum(i["quantity"] for i in bal.json()["securities"]["items"] if i["security_code"] == SEC)

                before = held()
                assert held() == before  # the second read, a hit in the per-block cache
                run = c.post("/v1/settlement-runs", json={"name": "anvil"}, headers=w.h("op1"))
                assert run.status_code == 201 and run.json()["figures"]["settled"] == 1
                assert held() == before + 300  # the settlement's block is seen at once: nothing stale is served
                monkeypatch.setenv("LEDGERCLEAR_API_KEY", w.api_keys["b-stp"])
                res = CliRunner().invoke(cli_app, ["node", "reconcile", "--url", f"http://127.0.0.1:{port}",
                                                   "--participant", P2, "--rpc", rpc, "--deployment", str(dep_file)])
                assert res.exit_code == 0, res.output
                out = json.loads(res.output.strip().splitlines()[-1])
                assert out["ok"] and out["checked"] == 4
                # a service that reports something else is caught
                bal = c.get(f"/v1/accounts/{P2}/balances", headers=w.h("b-view")).json()
                bal["securities"]["items"] = [{"security_code": SEC, "quantity": 299}]
                rec = reconcile(bal, w.ctx.onchain, {SEC: 700})
                assert not rec.ok and rec.differences[0]["chain"] == 300
        finally:
            w.ctx.engine.dispose()
