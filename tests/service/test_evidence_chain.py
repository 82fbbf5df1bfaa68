"""Instruction evidence verified by the chain: the evidence endpoint's `chain_verified` per side, the node's
own check (`api.node.evidence`, `ledgerclear node verify-evidence`), and what tampering does to both."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from service_world import P1, P2, World, build, serving
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.node.evidence import verify_evidence
from api import eip712
from api.service.app import create_app
from api.service.db import SignatureRow
from ledger.anvil import anvil_binary, anvil_node, free_port
from ledger.instruction_verifier import InstructionVerifier

_n = itertools.count(7000)


def _pair(w: World, ref: str) -> tuple[int, int]:
    q = next(_n)  # a unique quantity so no earlier unmatched side takes the match
    a = w.client.post("/v1/instructions", headers=w.h("a-stp"),
                      json=w.signed(w.fields(P1, P2, "deliver", ref=ref, nonce=next(_n), quantity=q)))
    b = w.client.post("/v1/instructions", headers=w.h("b-stp"),
                      json=w.signed(w.fields(P2, P1, "receive", ref=ref, nonce=next(_n), quantity=q)))
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    assert b.json()["instruction_id"] is not None
    return a.json()["id"], b.json()["id"]


def _evidence(w: World, sid: int, who: str = "a-view", client: TestClient | None = None) -> list[dict[str, Any]]:
    r = (client or w.client).get(f"/v1/instructions/{sid}/evidence", headers=w.h(who))
    assert r.status_code == 200, r.text
    return list(r.json())


def _tamper(w: World, sid: int, **changes: Any) -> None:
    with w.ctx.session() as s:
        row = s.scalars(select(SignatureRow).where(SignatureRow.signed_instruction_id == sid)).one()
        for k, v in changes.items():
            setattr(row, k, v)


def test_matched_instruction_is_chain_verified_on_both_sides(world: World) -> None:
    a, b = _pair(world, "CHV1")
    for sid, who in ((a, "a-view"), (b, "b-view")):
        ev = _evidence(world, sid, who)
        assert {e["participant_id"] for e in ev} == {P1, P2}
        assert [e["chain_verified"] for e in ev] == [True, True]


def test_unmatched_side_is_chain_verified_alone(world: World) -> None:
    r = world.client.post("/v1/instructions", headers=world.h("a-stp"),
                          json=world.signed(world.fields(P1, P2, "deliver", ref="CHV2", nonce=next(_n),
                                                         quantity=next(_n))))
    assert r.status_code == 201 and r.json()["instruction_id"] is None
    ev = _evidence(world, r.json()["id"])
    assert len(ev) == 1 and ev[0]["chain_verified"] is True


def test_tampered_evidence_is_not_chain_verified(world: World) -> None:
    a, b = _pair(world, "CHV3")
    ev = {e["signed_instruction_id"]: e for e in _evidence(world, a)}
    # the other participant's valid signature over the same data stored as b's: only b's side fails
    other = eip712.sign(ev[b]["typed_data"], world.keys[P1].key)
    _tamper(world, b, signature=other)
    assert {e["participant_id"]: e["chain_verified"] for e in _evidence(world, a)} == {P1: True, P2: False}
    # a signed field edited after the fact breaks the signature and the mirror: neither side stands
    data = json.loads(json.dumps(ev[a]["typed_data"]))
    data["message"]["quantity"] += 1
    _tamper(world, b, signature=ev[b]["signature"])
    _tamper(world, a, typed_data=data)
    assert [e["chain_verified"] for e in _evidence(world, a)] == [False, False]
    # a truncated signature: that side false, the other still checked
    _tamper(world, a, typed_data=ev[a]["typed_data"], signature=ev[a]["signature"][:-2])
    assert {e["participant_id"]: e["chain_verified"] for e in _evidence(world, a)} == {P1: False, P2: True}


def test_without_a_verifier_chain_verified_is_null(world: World) -> None:
    dep = dataclasses.replace(world.ctx.deployment, verifier=None)  # a deployment described before it existed
    client = TestClient(create_app(dataclasses.replace(world.ctx, deployment=dep)), raise_server_exceptions=False)
    a, _ = _pair(world, "CHV4")
    assert [e["chain_verified"] for e in _evidence(world, a, client=client)] == [None, None]


def test_node_check_agrees_and_catches_a_lying_service(world: World) -> None:
    a, _ = _pair(world, "CHV5")
    ev = _evidence(world, a)
    v = InstructionVerifier(world.ctx.deployment)
    res = verify_evidence(ev, v)
    assert res.ok, res.problems
    assert {s["participant_id"]: s["chain_signer"] for s in res.sides} == {
        P1: world.keys[P1].address, P2: world.keys[P2].address}
    lies = [
        [{**ev[0], "signer": world.keys[P2].address}, ev[1]],  # reports the wrong signer
        [{**ev[0], "digest": "0x" + "00" * 32}, ev[1]],  # reports another digest
        [ev[0], {**ev[1], "participant_id": P1}],  # passes one side off as another participant's
        [ev[0], {**ev[1], "signature": eip712.sign(ev[1]["typed_data"], world.keys[P1].key)}],  # wrong key
        [ev[0], {**ev[1], "signature": ev[1]["signature"][:-4]}],  # malformed signature
        [ev[0], ev[0]],  # not a mirror pair
        [],
    ]
    for lie in lies:
        bad = verify_evidence(lie, v)
        assert not bad.ok and bad.problems, lie


@pytest.fixture
def anvil_world(tmp_path: Path) -> Iterator[tuple[World, str, str, Path]]:
    if anvil_binary() is None:
        pytest.skip("Anvil not installed (npm install)")
    with anvil_node() as rpc:
        dep_file = tmp_path / "deployment.json"
        w = build(tmp_path, rpc_url=rpc, deployment_file=dep_file)
        port = free_port()
        try:
            with serving(uvicorn.Config(create_app(w.ctx), host="127.0.0.1", port=port, log_level="warning")):
                yield w, f"http://127.0.0.1:{port}", rpc, dep_file
        finally:
            w.ctx.engine.dispose()


@pytest.mark.anvil
def test_verify_evidence_cli_on_anvil(anvil_world: tuple[World, str, str, Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    w, url, rpc, dep_file = anvil_world
    assert "InstructionVerifier" in json.loads(dep_file.read_text())["contracts"]
    a, b = _pair(w, "CLI1")
    assert [e["chain_verified"] for e in _evidence(w, a)] == [True, True]
    monkeypatch.setenv("LEDGERCLEAR_API_KEY", w.api_keys["a-stp"])
    args = ["node", "verify-evidence", str(a), "--url", url, "--rpc", rpc, "--deployment", str(dep_file)]
    res = CliRunner().invoke(cli_app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["ok"] and [s["chain_verified"] for s in out["sides"]] == [True, True]
    # the counterparty's stored signature replaced by one from another key: exit 1, and the side is named
    ev = {e["signed_instruction_id"]: e for e in _evidence(w, a)}
    _tamper(w, b, signature=eip712.sign(ev[b]["typed_data"], w.keys[P1].key))
    res = CliRunner().invoke(cli_app, args)
    assert res.exit_code == 1, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert not out["ok"] and any(P2 in p for p in out["problems"])
    # an unknown id is a plain error (exit 2), not a traceback
    res = CliRunner().invoke(cli_app, [*args[:2], "999999", *args[3:]])
    assert res.exit_code == 2 and "error:" in res.output
