"""The participant node: encrypted key at rest, and end to end — two nodes with their own keys submit
matching signed instructions to a real HTTP server and watch them settle on chain."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from service_world import SEC, TOKEN, World, build, serving
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.node import keystore
from api.node.client import ServiceClient, ServiceError
from api.node.reconcile import reconcile
from api.node.signer import instruction_fields, sign_with_domain
from api.service.app import create_app

FAST_N = 2**14
A, B = "C00010", "C00011"


def test_keystore_round_trip_and_tamper(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    addr = keystore.generate(path, "pw-123456", n=FAST_N)
    pk = keystore.load(path, "pw-123456")
    assert len(pk) == 32 and keystore.address_of(path) == addr
    doc = json.loads(path.read_text())
    assert doc["format"] == "ledgerclear-key/1" and pk.hex() not in path.read_text()
    with pytest.raises(keystore.KeystoreError, match="wrong password"):
        keystore.load(path, "nope")
    other = dict(doc, address="0x" + "11" * 20)
    with pytest.raises(keystore.KeystoreError):
        keystore.decrypt(other, "pw-123456")
    ct = bytearray(bytes.fromhex(doc["ciphertext"]))
    ct[0] ^= 1
    with pytest.raises(keystore.KeystoreError):
        keystore.decrypt(dict(doc, ciphertext=ct.hex()), "pw-123456")
    with pytest.raises(FileExistsError):
        keystore.generate(path, "x", n=FAST_N)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str, Path]]:
    tmp = tmp_path_factory.mktemp("e2e")
    w = build(tmp)
    port = _free_port()
    with serving(uvicorn.Config(create_app(w.ctx), host="127.0.0.1", port=port, log_level="warning")):
        yield w, f"http://127.0.0.1:{port}", tmp
    w.ctx.engine.dispose()


def test_two_nodes_settle_on_chain(served: tuple[World, str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    w, url, tmp = served
    runner = CliRunner()
    monkeypatch.setenv("LEDGERCLEAR_KEY_PASSWORD", "node password 1")
    # each node makes its own key; only the address leaves the node
    addr: dict[str, str] = {}
    for pid in (A, B):
        res = runner.invoke(cli_app, ["node", "keygen", "--out", str(tmp / f"{pid}.key"), "--scrypt-n", str(FAST_N)])
        assert res.exit_code == 0, res.output
        addr[pid] = res.output.strip().splitlines()[-1]
    op = ServiceClient(url, w.make_key("op-machine", "op1", ["operator-admin"]))
    keys: dict[str, str] = {}
    for pid in (A, B):
        op.call("POST", "/v1/participants", {"id": pid, "address": addr[pid], "kind": "broker", "name": pid})
        keys[pid] = op.call("POST", "/v1/api-keys", {"name": f"{pid}-node", "participant_id": pid,
                                                     "groups": ["inputter", "authoriser", "viewer"]})["key"]
    # the CSD and the settlement bank fund the accounts (not a participant API)
    w.ctx.onchain.deposit(addr[A], TOKEN, 5_000)
    w.ctx.onchain.issue_cash(addr[B], "HKD", 10_000_000)

    node_b = ServiceClient(url, keys[B])
    seen: list[dict[str, Any]] = []
    follower = threading.Thread(target=lambda: seen.extend(node_b.events(limit=3, timeout=20)), daemon=True)
    follower.start()
    time.sleep(0.3)

    # node A through the command line, node B through the client library
    monkeypatch.setenv("LEDGERCLEAR_API_KEY", keys[A])
    res = runner.invoke(cli_app, ["node", "submit", "--url", url, "--key", str(tmp / f"{A}.key"),
                                  "--participant", A, "--counterparty", B, "--direction", "deliver",
                                  "--security", SEC, "--quantity", "1200", "--amount-cents", "4800000",
                                  "--settlement-date", "2026-11-23", "--reference", "E2E-1"])
    assert res.exit_code == 0, res.output
    side_a = json.loads(res.output.strip().splitlines()[-1])
    assert side_a["status"] == "unmatched"
    pk_b = keystore.load(tmp / f"{B}.key", "node password 1")
    f = instruction_fields(B, A, "receive", SEC, 1200, 4_800_000, "HKD", "2026-11-23", "E2E-1")
    side_b = node_b.submit(f, sign_with_domain(f, pk_b, node_b.signing_domain()["domain"]))
    assert side_b["status"] == "pending" and side_b["instruction_id"]
    with pytest.raises(ServiceError) as replay:  # the same signed message again
        node_b.submit(f, sign_with_domain(f, pk_b, node_b.signing_domain()["domain"]))
    assert replay.value.status == 409

    run = op.call("POST", "/v1/settlement-runs", {"name": "e2e"})
    assert run["figures"]["settled"] == 1
    follower.join(20)
    assert [e["data"]["status"] for e in seen] == ["unmatched", "pending", "settled"]
    assert seen[-1]["data"]["tx_hash"].startswith("0x")
    # on chain
    assert w.ctx.onchain.security_balance(addr[B], TOKEN) == 1200
    assert w.ctx.onchain.security_balance(addr[A], TOKEN) == 3800
    assert w.ctx.onchain.cash_balance(addr[A], "HKD") == 4_800_000
    assert ServiceClient(url, keys[A]).instruction(side_a["id"])["status"] == "settled"
    # both signatures kept as evidence
    ev = node_b.call("GET", f"/v1/instructions/{side_b['id']}/evidence")
    assert {e["signer"] for e in ev} == {addr[A], addr[B]}
    # reconcile: the service's view equals the chain's (the embedded chain is reached in-process here;
    # `ledgerclear node reconcile --rpc URL --deployment FILE` does the same against a node)
    rec = reconcile(node_b.balances(B), w.ctx.onchain, {SEC: TOKEN})
    assert rec.ok and rec.checked == 4
    # the other node cannot see B's instruction
    with pytest.raises(ServiceError) as hidden:
        ServiceClient(url, keys[A]).instruction(side_b["id"])
    assert hidden.value.status == 404
