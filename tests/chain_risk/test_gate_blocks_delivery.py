"""End to end: the settlement engine consults the risk gate and refuses deliveries to an ineligible participant.

The engine is attached with ``SettlementEngine.setRiskGate(address)`` (CONFIG_ROLE, the admin); a batch
obligation whose receiver the gate marks ineligible stays pending with ``Reason.RISK``, and a single
``settleDvP`` reverts with ``ReceiverIneligible(address account)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import count

import pytest
from chain_risk_testkit import GateWorld, readable

from ledger.batch import Obligation, Reason
from ledger.errors import ChainError
from ledger.onchain import DvPInstruction
from ledger.risk_gate import attach_to_engine
from risk.attestation import ENGINE_VERSION, Attestation, attestation_hash

VDATE = date(2026, 11, 20)
_ids = count(1)


@pytest.fixture
def wired(gw: GateWorld) -> Iterator[GateWorld]:
    """The module's world with stock and cash in place and the gate attached to the engine."""
    a = gw.addr
    gw.ol.deposit_many([(a["B00001"], 700, 10_000), (a["B00002"], 700, 1_000)])
    gw.ol.issue_cash_many("HKD", [(a[p], 100_000_000) for p in ("B00001", "B00002", "B00003", "C00001")],
                        reference="t")
    attach_to_engine(gw.dep, gw.gate.address)
    yield gw


def _post(gw: GateWorld, cp: str, eligible: bool, vdate: date = VDATE) -> None:
    r, p = "11" * 32, "22" * 32
    gw.gate.post([Attestation(cp, vdate, 1_000_000, 0 if not eligible else 2_000_000, eligible, r, p,
                              ENGINE_VERSION, attestation_hash(r, p))], gw.addr)


def _ob(gw: GateWorld, deliverer: str, receiver: str, qty: int = 100, amount: int = 4_000_000) -> Obligation:
    return Obligation(id=next(_ids), deliverer=gw.addr[deliverer], receiver=gw.addr[receiver], security_id=700,
                      quantity=qty, currency=0, amount=amount)


def test_batch_delivery_to_ineligible_receiver_is_pending_with_reason_risk(wired: GateWorld) -> None:
    gw = wired
    _post(gw, "B00002", eligible=False)
    _post(gw, "B00003", eligible=True)
    blocked, ok = _ob(gw, "B00001", "B00002"), _ob(gw, "B00001", "B00003")
    before = (gw.ol.security_balance(gw.addr["B00002"], 700), gw.ol.cash_balance(gw.addr["B00002"], "HKD"))
    out = gw.ol.settle_batch([blocked, ok])
    assert out.pending == {blocked.id: Reason.RISK}
    assert set(out.settled) == {ok.id}
    assert (gw.ol.security_balance(gw.addr["B00002"], 700), gw.ol.cash_balance(gw.addr["B00002"], "HKD")) == before
    # Recycled after the call is met (a newer posting marks it eligible): it settles.
    _post(gw, "B00002", eligible=True, vdate=date(2026, 11, 23))
    again = gw.ol.settle_batch([blocked])
    assert set(again.settled) == {blocked.id}


def test_never_posted_participant_receives(wired: GateWorld) -> None:
    gw = wired
    ob = _ob(gw, "B00001", "C00001")
    assert set(gw.ol.settle_batch([ob]).settled) == {ob.id}


def test_ineligible_participant_may_still_deliver(wired: GateWorld) -> None:
    gw = wired
    _post(gw, "B00002", eligible=False)
    ob = _ob(gw, "B00002", "B00003")
    assert set(gw.ol.settle_batch([ob]).settled) == {ob.id}


def test_single_dvp_to_ineligible_receiver_reverts(wired: GateWorld) -> None:
    gw = wired
    _post(gw, "B00002", eligible=False)
    ins = DvPInstruction(id=next(_ids), deliverer=gw.addr["B00001"], receiver=gw.addr["B00002"], security_id=700,
                         quantity=100, currency="HKD", amount=4_000_000)
    with pytest.raises(ChainError) as info:
        gw.ol.settle_dvp(ins)
    assert info.value.name == "ReceiverIneligible" and readable(info.value)
    assert "B00002" in str(info.value)
    _post(gw, "B00002", eligible=True, vdate=date(2026, 11, 23))
    assert gw.ol.settle_dvp(ins).startswith("0x")


def test_all_or_nothing_batch_fails_on_ineligible_receiver(wired: GateWorld) -> None:
    gw = wired
    _post(gw, "B00002", eligible=False)
    with pytest.raises(ChainError) as info:
        gw.ol.settle_batch([_ob(gw, "B00001", "B00003"), _ob(gw, "B00001", "B00002")], all_or_nothing=True)
    assert info.value.name == "BatchFailed" and int(info.value.args_by_name["reason"]) == int(Reason.RISK)
