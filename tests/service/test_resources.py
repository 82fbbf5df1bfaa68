"""Participants (maker-checker status changes), securities, balances, reports, margin, audit endpoints:
own object works, other participant's object is 404/403."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from service_world import P1, P2, SEC, World, build, write_risk_inputs

from ledger.onchain import Status


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("resources")
    rpf_path, cp = write_risk_inputs(tmp)
    w = build(tmp, rpf_path=rpf_path, cp_params_dir=cp)
    for pid in (P1, P2):
        d = tmp / "reports" / pid
        d.mkdir(parents=True)
        (d / f"settlement_{pid}.csv").write_text("a,b\n1,2\n")
    yield w
    w.client.close()
    w.ctx.engine.dispose()


def test_participants_directory_and_registration(world: World) -> None:
    c = world.client
    items = c.get("/v1/participants", headers=world.h("a-view")).json()["items"]
    assert {p["id"] for p in items} == {P1, P2}
    assert c.get(f"/v1/participants/{P2}", headers=world.h("a-view")).json()["status"] == "active"
    assert c.get("/v1/participants/Z00000", headers=world.h("a-view")).status_code == 404
    new = {"id": "C00003", "address": Account.create().address, "kind": "custodian", "name": "Cust"}
    assert c.post("/v1/participants", json=new, headers=world.h("a-admin")).status_code == 403
    assert c.post("/v1/participants", json=new, headers=world.h("opview")).status_code == 403
    r = c.post("/v1/participants", json=new, headers=world.h("op1"))
    assert r.status_code == 201, r.text
    assert world.ctx.onchain.status_of(new["address"]) == Status.ACTIVE
    assert c.post("/v1/participants", json=new, headers=world.h("op1")).status_code == 409
    page = c.get("/v1/participants?limit=2", headers=world.h("a-view")).json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    assert len(c.get("/v1/participants?limit=2&offset=2", headers=world.h("a-view")).json()["items"]) == 1


def test_status_change_needs_a_second_operator(world: World) -> None:
    c = world.client
    assert c.post(f"/v1/participants/{P2}/status-changes", json={"status": "suspended"},
                  headers=world.h("b-admin")).status_code == 403
    r = c.post(f"/v1/participants/{P2}/status-changes", json={"status": "suspended", "reason": "late margin"},
               headers=world.h("op1"))
    assert r.status_code == 202 and r.json()["state"] == "pending"
    aid = r.json()["id"]
    assert c.get(f"/v1/participants/{P2}", headers=world.h("op1")).json()["status"] == "active"
    r = c.post(f"/v1/approvals/{aid}/approve", headers=world.h("op1"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "maker_checker"
    assert c.post(f"/v1/approvals/{aid}/approve", headers=world.h("a-admin")).status_code == 403
    r = c.post(f"/v1/approvals/{aid}/approve", headers=world.h("op2"))
    assert r.status_code == 200 and r.json()["decided_by"] == "user:op2"
    assert c.get(f"/v1/participants/{P2}", headers=world.h("op1")).json()["status"] == "suspended"
    assert world.ctx.onchain.status_of(world.keys[P2].address) == Status.SUSPENDED
    # a suspended participant's instructions are refused
    body = world.signed(world.fields(P2, P1, "receive", ref="SUSP", nonce=5))
    assert c.post("/v1/instructions", json=body, headers=world.h("b-stp")).status_code == 409
    # reinstate, and a rejected request changes nothing
    aid = c.post(f"/v1/participants/{P2}/status-changes", json={"status": "active"}, headers=world.h("op2")).json()["id"]
    assert c.post(f"/v1/approvals/{aid}/approve", headers=world.h("op1")).status_code == 200
    aid = c.post(f"/v1/participants/{P2}/status-changes", json={"status": "defaulted"},
                 headers=world.h("op2")).json()["id"]
    assert c.post(f"/v1/approvals/{aid}/reject", headers=world.h("op1")).json()["state"] == "rejected"
    assert c.post(f"/v1/approvals/{aid}/approve", headers=world.h("op1")).status_code == 409
    assert world.ctx.onchain.status_of(world.keys[P2].address) == Status.ACTIVE
    assert c.get("/v1/approvals", headers=world.h("a-admin")).status_code == 403
    assert len(c.get("/v1/approvals", headers=world.h("opview")).json()["items"]) == 3


def test_securities(world: World) -> None:
    c = world.client
    assert c.get("/v1/securities", headers=world.h("a-view")).json()["items"][0]["code"] == SEC
    assert c.get(f"/v1/securities/{SEC}", headers=world.h("b-view")).json()["token_id"] == 700
    assert c.get("/v1/securities/99999", headers=world.h("b-view")).status_code == 404


def test_balances_only_own(world: World) -> None:
    c = world.client
    own = c.get(f"/v1/accounts/{P1}/balances", headers=world.h("a-view"))
    assert own.status_code == 200
    assert own.json()["securities"]["items"] == [{"security_code": SEC, "quantity": 10_000}]
    cash = c.get(f"/v1/accounts/{P2}/balances", headers=world.h("b-stp")).json()["cash"]
    assert {"currency": "HKD", "cents": 100_000_000} in cash
    assert c.get(f"/v1/accounts/{P2}/balances", headers=world.h("a-view")).status_code == 404
    assert c.get("/v1/accounts/Z00000/balances", headers=world.h("a-view")).status_code == 404
    assert c.get(f"/v1/accounts/{P2}/balances", headers=world.h("opview")).status_code == 200


def test_reports_only_own(world: World) -> None:
    c = world.client
    items = c.get("/v1/reports", headers=world.h("a-view")).json()["items"]
    assert [i["name"] for i in items] == [f"settlement_{P1}.csv"]
    r = c.get(f"/v1/reports/settlement_{P1}.csv", headers=world.h("a-view"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert c.get(f"/v1/reports/settlement_{P2}.csv", headers=world.h("a-view")).status_code == 404
    assert c.get("/v1/reports/..%2F..%2Fsvc.sqlite", headers=world.h("a-view")).status_code in (404, 422)


def test_margin_current_what_if_and_parameter_file(world: World) -> None:
    c = world.client
    # give P1 an open obligation so it has a position
    a = world.signed(world.fields(P1, P2, "deliver", ref="MRG1", nonce=77, quantity=1000, amount=40_000_000))
    b = world.signed(world.fields(P2, P1, "receive", ref="MRG1", nonce=78, quantity=1000, amount=40_000_000))
    assert c.post("/v1/instructions", json=a, headers=world.h("a-stp")).status_code == 201
    assert c.post("/v1/instructions", json=b, headers=world.h("b-stp")).json()["status"] == "pending"
    m = c.get(f"/v1/margin/{P1}", headers=world.h("a-view"))
    assert m.status_code == 200, m.text
    assert m.json()["total_requirement"] >= 0 and "total_requirement" in m.json()["components"]
    assert c.get(f"/v1/margin/{P2}", headers=world.h("a-view")).status_code == 404
    w = c.post(f"/v1/margin/{P1}/what-if", json={"trades": [{"security_code": SEC, "quantity": -5000, "price": 401}]},
               headers=world.h("a-view"))
    assert w.status_code == 200, w.text
    out = w.json()
    assert out["base"] == m.json()
    assert out["change"]["total_requirement"] == out["new"]["total_requirement"] - out["base"]["total_requirement"]
    assert c.post(f"/v1/margin/{P2}/what-if", json={"trades": [{"security_code": SEC, "quantity": 1, "price": 1}]},
                  headers=world.h("a-view")).status_code == 404
    r = c.post(f"/v1/margin/{P1}/what-if", json={"trades": [{"security_code": "1", "quantity": 1, "price": 1}]},
               headers=world.h("a-view"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "trades.0.security_code"
    f = c.get("/v1/margin/parameter-file", headers=world.h("b-view"))
    assert f.status_code == 200 and "700" in f.text


def test_audit_endpoints_are_the_operators(world: World) -> None:
    c = world.client
    assert c.get("/v1/audit", headers=world.h("a-admin")).status_code == 403
    assert c.get("/v1/audit/verify", headers=world.h("a-admin")).status_code == 403
    v = c.get("/v1/audit/verify", headers=world.h("opview")).json()
    assert v["ok"] and v["entries"] > 5
    entries = c.get("/v1/audit?limit=500", headers=world.h("opview")).json()["items"]
    actions = {e["action"] for e in entries}
    assert {"session.created", "api_key.created", "instruction.submitted", "instruction.matched",
            "approval.requested", "approval.approved", "participant.registered", "request.refused"} <= actions
    refused = [e for e in entries if e["action"] == "request.refused" and e["target"] == "POST /v1/participants"]
    assert {e["actor"] for e in refused} >= {"user:a-admin", "user:opview"}
    assert all(e["detail"]["status"] in (403, 409) for e in refused)
