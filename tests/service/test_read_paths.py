"""The lighter read paths answer exactly what the ORM versions did: the instruction list (Core columns,
svc.view_fields) against the former ORM query with svc.view for every filter and page, in every status; the
balances see a security listed after a warm read on the very next request."""

from __future__ import annotations

from typing import Any

import pytest
from service_world import P1, P2, World
from sqlalchemy import select

from api.service import instructions as svc
from api.service.db import SignedInstructionRow
from api.service.schemas import PageOf
from ledger.store import InstructionRow, SecurityRow


def _reference(world: World, pid: str | None, status: str | None, offset: int, limit: int) -> dict[str, Any]:
    """GET /v1/instructions as it was built before: ORM entities, svc.view."""
    with world.ctx.session() as s:
        q = select(SignedInstructionRow, InstructionRow).outerjoin(
            InstructionRow, InstructionRow.id == SignedInstructionRow.instruction_id).order_by(SignedInstructionRow.id)
        if pid is not None:
            q = q.where(SignedInstructionRow.participant_id == pid)
        if status is not None:
            q = q.where(SignedInstructionRow.status == status)
        rows = [(r[0], r[1]) for r in s.execute(q.offset(offset).limit(limit + 1))]
        items = [svc.view(a, b) for a, b in rows[:limit]]
    page = PageOf(items=items, next_offset=offset + limit if len(rows) > limit else None)
    return dict(page.model_dump(mode="json"))


def _submit(world: World, who: str, participant: str, counterparty: str, direction: str, n: int) -> dict[str, Any]:
    f = world.fields(participant, counterparty, direction, ref=f"RP{n}", nonce=900_000 + n)
    r = world.client.post("/v1/instructions", json=world.signed(f), headers=world.h(who))
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def lifecycle(world: World) -> World:
    """Instructions in every service status, and matched ones in two ledger states."""
    for n in range(3):  # matched (straight-through keys on both sides)
        _submit(world, "a-stp", P1, P2, "deliver", 10 + n)
        _submit(world, "b-stp", P2, P1, "receive", 10 + n)
    _submit(world, "a-stp", P1, P2, "deliver", 20)  # unmatched
    _submit(world, "a-input", P1, P2, "deliver", 21)  # unauthorised (a user's input waits for the checker)
    gone = _submit(world, "a-stp", P1, P2, "receive", 22)
    assert world.client.post(f"/v1/instructions/{gone['id']}/cancel", headers=world.h("a-input")).status_code == 200
    matched = world.client.get("/v1/instructions?status=matched", headers=world.h("a-view")).json()["items"]
    assert world.client.post(f"/v1/instructions/{matched[0]['id']}/hold",
                             headers=world.h("a-input")).status_code == 200
    return world


@pytest.mark.parametrize("status", [None, "unauthorised", "unmatched", "matched", "cancelled"])
@pytest.mark.parametrize("offset, limit", [(0, 100), (0, 2), (2, 2), (5, 3), (50, 5)])
def test_list_is_what_the_orm_version_answered(lifecycle: World, status: str | None, offset: int,
                                               limit: int) -> None:
    w = lifecycle
    q = f"/v1/instructions?offset={offset}&limit={limit}" + (f"&status={status}" if status else "")
    mine = w.client.get(q, headers=w.h("a-view"))
    assert mine.status_code == 200, mine.text
    assert mine.json() == _reference(w, P1, status, offset, limit)
    # the operator: everyone, or one participant
    assert w.client.get(q, headers=w.h("opview")).json() == _reference(w, None, status, offset, limit)
    assert (w.client.get(q + f"&participant_id={P2}", headers=w.h("opview")).json()
            == _reference(w, P2, status, offset, limit))


def test_list_covers_every_status_and_matches_the_single_view(lifecycle: World) -> None:
    w = lifecycle
    items = w.client.get("/v1/instructions?limit=500", headers=w.h("a-view")).json()["items"]
    statuses = {i["status"] for i in items}
    assert {"unauthorised", "unmatched", "cancelled", "pending", "held"} <= statuses, statuses
    assert any(i["tx_hash"] is None and i["instruction_id"] for i in items)
    for i in items:
        assert w.client.get(f"/v1/instructions/{i['id']}", headers=w.h("a-view")).json() == i


def test_a_newly_listed_security_shows_on_the_next_balances_read(world: World) -> None:
    before = world.client.get(f"/v1/accounts/{P1}/balances", headers=world.h("a-view"))
    assert before.status_code == 200
    assert "00005" not in [s["security_code"] for s in before.json()["securities"]["items"]]
    world.ctx.onchain.list_security(5, "HK0000000005")
    world.ctx.store.add_securities([SecurityRow(code="00005", token_id=5, isin="HK0000000005", name="HSBC",
                                                board_lot=400, currency="HKD")])
    world.ctx.onchain.deposit(world.keys[P1].address, 5, 800)
    after = world.client.get(f"/v1/accounts/{P1}/balances", headers=world.h("a-view")).json()
    assert {"security_code": "00005", "quantity": 800} in after["securities"]["items"]
    assert after["address"] == world.keys[P1].address and after["participant_id"] == P1
    assert [s["security_code"] for s in after["securities"]["items"]] == sorted(
        s["security_code"] for s in after["securities"]["items"])


def test_balances_of_an_unknown_participant_is_404(world: World) -> None:
    r = world.client.get("/v1/accounts/B09999/balances", headers=world.h("opview"))
    assert r.status_code == 404 and r.json()["error"]["message"] == "account not found"
