"""Signed instructions: signature and replay checks, maker-checker, matching, per-participant isolation,
cancel / hold / release, evidence, and settlement through a run with events."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from eth_account import Account
from service_world import P1, P2, World

_n = itertools.count(1000)


def _submit(world: World, who: str, body: dict[str, Any]) -> Any:
    return world.client.post("/v1/instructions", json=body, headers=world.h(who))


def _pair(world: World, ref: str, quantity: int | None = None, amount: int = 50_000) -> tuple[int, int]:
    """P1 delivers to P2 (both straight-through API keys): returns the two side ids, matched with each other
    (a unique quantity, so no earlier unmatched side takes the match)."""
    quantity = quantity or next(_n)
    a = _submit(world, "a-stp", world.signed(world.fields(P1, P2, "deliver", ref=ref, nonce=next(_n),
                                                          quantity=quantity, amount=amount)))
    b = _submit(world, "b-stp", world.signed(world.fields(P2, P1, "receive", ref=ref, nonce=next(_n),
                                                          quantity=quantity, amount=amount)))
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    assert b.json()["status"] == "pending" and b.json()["instruction_id"]
    assert world.client.get(f"/v1/instructions/{a.json()['id']}", headers=world.h("a-view")).json()[
        "instruction_id"] == b.json()["instruction_id"]
    return a.json()["id"], b.json()["id"]


def test_bad_signature_cases(world: World) -> None:
    f = world.fields(P1, P2, "deliver", ref="SIG1", nonce=next(_n))
    body = world.signed(f)
    tampered = {**body, "instruction": {**f, "quantity": 101}}  # signed 100, claims 101
    r = _submit(world, "a-stp", tampered)
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_signature"
    r = _submit(world, "a-stp", world.signed(f, signer=P2))  # P2's key signing P1's instruction
    assert r.status_code == 422 and r.json()["error"]["field"] == "signature"
    stranger = Account.create()
    from api import eip712
    sig = eip712.sign(eip712.typed_data(f, world.ctx.chain_id, world.ctx.engine_address), stranger.key)
    assert _submit(world, "a-stp", {"instruction": f, "signature": sig}).status_code == 422
    r = _submit(world, "a-stp", {"instruction": f, "signature": "0x" + "00" * 65})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_signature"
    # a signature for another chain / contract does not verify here
    other = eip712.sign(eip712.typed_data(f, 1, "0x" + "22" * 20), world.keys[P1].key)
    assert _submit(world, "a-stp", {"instruction": f, "signature": other}).status_code == 422
    # nothing was stored: the same nonce and reference still work
    assert _submit(world, "a-stp", body).status_code == 201


def test_replay_and_expiry(world: World) -> None:
    f = world.fields(P1, P2, "deliver", ref="RPL1", nonce=next(_n))
    assert _submit(world, "a-stp", world.signed(f)).status_code == 201
    r = _submit(world, "a-stp", world.signed(f))
    assert r.status_code == 409 and r.json()["error"]["code"] == "replay"
    r = _submit(world, "a-stp", world.signed({**f, "sender_reference": "RPL2"}))  # same nonce
    assert r.status_code == 409 and r.json()["error"]["field"] == "instruction.nonce"
    r = _submit(world, "a-stp", world.signed({**f, "nonce": next(_n)}))  # same reference
    assert r.status_code == 409 and r.json()["error"]["field"] == "instruction.sender_reference"
    old = world.fields(P1, P2, "deliver", ref="EXP1", nonce=next(_n), expiry=int(time.time()) - 1)
    r = _submit(world, "a-stp", world.signed(old))
    assert r.status_code == 422 and r.json()["error"]["code"] == "expired"


def test_submit_only_for_own_participant(world: World) -> None:
    f = world.fields(P2, P1, "receive", ref="OWN1", nonce=next(_n))
    assert _submit(world, "a-stp", world.signed(f)).status_code == 403
    assert _submit(world, "a-view", world.signed(world.fields(P1, P2, "deliver", ref="V1", nonce=1))).status_code == 403
    assert _submit(world, "op1", world.signed(f)).status_code == 403
    bad = world.fields(P1, P1, "deliver", ref="SELF", nonce=next(_n))
    assert _submit(world, "a-stp", world.signed(bad)).status_code == 422
    unk = world.fields(P1, "C99999", "deliver", ref="UNK", nonce=next(_n))
    assert _submit(world, "a-stp", world.signed(unk)).json()["error"]["field"] == "instruction.counterparty_id"


def test_maker_checker(world: World) -> None:
    f = world.fields(P1, P2, "deliver", ref="MC1", nonce=next(_n))
    r = _submit(world, "a-input", world.signed(f))
    assert r.status_code == 201 and r.json()["status"] == "unauthorised"
    sid = r.json()["id"]
    c = world.client
    assert c.post(f"/v1/instructions/{sid}/authorise", headers=world.h("a-input")).status_code == 403  # not authoriser
    assert c.post(f"/v1/instructions/{sid}/authorise", headers=world.h("b-auth")).status_code == 404  # other participant
    # the same person holding both groups still cannot check their own input
    world.add_user("a-both", P1, ["inputter", "authoriser"])
    r2 = _submit(world, "a-both", world.signed(world.fields(P1, P2, "deliver", ref="MC2", nonce=next(_n))))
    r = c.post(f"/v1/instructions/{r2.json()['id']}/authorise", headers=world.h("a-both"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "maker_checker"
    r = c.post(f"/v1/instructions/{sid}/authorise", headers=world.h("a-auth"))
    assert r.status_code == 200 and r.json()["status"] == "unmatched"
    assert r.json()["input_by"] == "user:a-input" and r.json()["authorised_by"] == "user:a-auth"
    assert c.post(f"/v1/instructions/{sid}/authorise", headers=world.h("a-auth")).status_code == 409


def test_isolation_of_instructions(world: World) -> None:
    a, b = _pair(world, "ISO1")
    c = world.client
    for path in ("", "/evidence"):
        assert c.get(f"/v1/instructions/{a}{path}", headers=world.h("b-view")).status_code == 404
        assert c.get(f"/v1/instructions/{a}{path}", headers=world.h("a-view")).status_code == 200
    for action in ("cancel", "hold", "release"):
        assert c.post(f"/v1/instructions/{a}/{action}", headers=world.h("b-input")).status_code == 404
    listed = c.get("/v1/instructions?limit=500", headers=world.h("b-view")).json()["items"]
    assert {i["participant_id"] for i in listed} == {P2} and b in {i["id"] for i in listed}
    assert c.get("/v1/instructions/999999", headers=world.h("a-view")).status_code == 404
    # the operator sees both
    both = c.get(f"/v1/instructions?limit=500&participant_id={P1}", headers=world.h("opview")).json()["items"]
    assert a in {i["id"] for i in both}


def test_evidence_has_both_signatures(world: World) -> None:
    a, _ = _pair(world, "EVI1")
    ev = world.client.get(f"/v1/instructions/{a}/evidence", headers=world.h("a-view")).json()
    assert {e["participant_id"] for e in ev} == {P1, P2}
    from api import eip712
    for e in ev:
        assert eip712.recover(e["typed_data"], e["signature"]) == world.keys[e["participant_id"]].address


def test_hold_release_cancel(world: World) -> None:
    a, b = _pair(world, "HLD1")
    c = world.client
    r = c.post(f"/v1/instructions/{a}/hold", headers=world.h("a-input"))
    assert r.status_code == 200 and r.json()["status"] == "held"
    assert c.post(f"/v1/instructions/{a}/hold", headers=world.h("a-input")).status_code == 409
    assert c.post(f"/v1/instructions/{a}/release", headers=world.h("a-input")).json()["status"] == "pending"
    assert c.post(f"/v1/instructions/{a}/hold", headers=world.h("a-view")).status_code == 403
    # bilateral cancellation once matched
    r = c.post(f"/v1/instructions/{a}/cancel", headers=world.h("a-input"))
    assert r.status_code == 200 and r.json()["cancel_requested"] and r.json()["status"] == "pending"
    r = c.post(f"/v1/instructions/{b}/cancel", headers=world.h("b-input"))
    assert r.json()["status"] == "cancelled"
    assert c.get(f"/v1/instructions/{a}", headers=world.h("a-view")).json()["status"] == "cancelled"
    # unmatched: cancelled at once
    u = _submit(world, "a-stp", world.signed(world.fields(P1, P2, "deliver", ref="CAN2", nonce=next(_n),
                                                          quantity=7))).json()
    assert u["status"] == "unmatched"
    assert c.post(f"/v1/instructions/{u['id']}/cancel", headers=world.h("a-input")).json()["status"] == "cancelled"
    assert c.post(f"/v1/instructions/{u['id']}/cancel", headers=world.h("a-input")).status_code == 409


def test_settlement_run_settles_and_streams_events(world: World) -> None:
    c = world.client
    last = max([e["id"] for e in c.get("/v1/events?limit=500", headers=world.h("b-view")).json()] or [0])
    a, b = _pair(world, "RUN1", quantity=200, amount=123_400)
    assert c.post("/v1/settlement-runs", json={"name": "t"}, headers=world.h("a-admin")).status_code == 403
    r = c.post("/v1/settlement-runs", json={"name": "run 1"}, headers=world.h("op1"))
    assert r.status_code == 201, r.text
    assert r.json()["figures"]["settled"] >= 1
    side = c.get(f"/v1/instructions/{b}", headers=world.h("b-view")).json()
    assert side["status"] == "settled" and side["tx_hash"].startswith("0x")
    with c.stream("GET", f"/v1/events/stream?after={last}&timeout=2&limit=50", headers=world.h("b-view")) as s:
        text = "".join(s.iter_text())
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert any(e.get("status") == "settled" and e.get("instruction_id") == side["instruction_id"] for e in events)
    assert all("participant_id" not in e or e["participant_id"] == P2 for e in events)
    run_id = r.json()["id"]
    assert c.get(f"/v1/settlement-runs/{run_id}", headers=world.h("opview")).status_code == 200
    assert c.get(f"/v1/settlement-runs/{run_id}", headers=world.h("a-view")).status_code == 403
    assert c.get("/v1/settlement-runs/9999", headers=world.h("opview")).status_code == 404
    bal = c.get(f"/v1/accounts/{P2}/balances", headers=world.h("b-view")).json()
    assert bal["securities"]["items"][0]["quantity"] >= 200


def test_unmatched_reasons_follow_si_matching(world: World) -> None:
    q = next(_n)
    a = _submit(world, "a-stp", world.signed(world.fields(P1, P2, "deliver", ref="RSN1", nonce=next(_n), quantity=q)))
    assert a.json()["status"] == "unmatched" and a.json()["reason"] == "CMIS"
    b = _submit(world, "b-stp", world.signed(world.fields(P2, P1, "receive", ref="RSN1", nonce=next(_n),
                                                          quantity=q + 1)))
    assert b.json()["status"] == "unmatched" and b.json()["reason"] == "DQUA"
    again = world.client.get(f"/v1/instructions/{a.json()['id']}", headers=world.h("a-view")).json()
    assert again["reason"] == "DQUA"
    bad = world.fields(P1, P2, "deliver", ref="/BAD", nonce=next(_n))
    r = _submit(world, "a-stp", world.signed(bad))
    assert r.status_code == 422 and r.json()["error"]["field"] == "instruction"
    # the matching pair settles the difference: a correct receive side matches the waiting deliver side
    c = _submit(world, "b-stp", world.signed(world.fields(P2, P1, "receive", ref="RSN2", nonce=next(_n), quantity=q)))
    assert c.json()["status"] == "pending"
    assert world.client.get(f"/v1/instructions/{a.json()['id']}",
                            headers=world.h("a-view")).json()["instruction_id"] == c.json()["instruction_id"]


def test_concurrent_replays_store_once(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = world.signed(world.fields(P1, P2, "deliver", ref="RACE1", nonce=next(_n), quantity=next(_n)))
    with ThreadPoolExecutor(8) as ex:
        codes = sorted(ex.map(lambda _: _submit(world, "a-stp", body).status_code, range(8)))
    assert codes == [201] + [409] * 7
