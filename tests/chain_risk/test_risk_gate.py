"""RiskGate on the embedded chain: posting, reading, roles, batches, ineligibleOf, attestation checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from chain_risk_testkit import GateWorld, participant_address, readable

from ledger.deployment import role
from ledger.errors import ChainError
from ledger.risk_gate import RISK_ENGINE_ROLE, post_attestations, verify_attestation
from risk.attestation import ENGINE_VERSION, Attestation, attestation_hash, attestations_from_snapshots, recompute
from risk.cp_params import CPParams
from risk.daily_cycle import run_daily_cycle
from risk.interface import margin_snapshots, positions_digest, rpf_digest
from risk.marks import Marks, marginable_positions
from risk.positions import Portfolio, Position
from risk.rpf import RiskParameterFile, RPFHeader

import numpy as np

VDATE = date(2026, 11, 20)
CCP = "H00001"


def _att(cp: str, req: int, coll: int, eligible: bool, vdate: date = VDATE, salt: str = "") -> Attestation:
    r = "11" * 32
    p = bytes(keccak_text(cp + salt)).hex()
    return Attestation(cp, vdate, req, coll, eligible, r, p, ENGINE_VERSION, attestation_hash(r, p))


def keccak_text(text: str) -> bytes:
    from eth_utils import keccak

    return bytes(keccak(text=text))


def _rpf() -> RiskParameterFile:
    """Two instruments, five HVaR and four SVaR scenarios (the hand case of tests/risk)."""
    header = RPFHeader(valuation_date=VDATE, hvar_scen_count=5, svar_scen_count=4, hvar_cl=0.6, svar_cl=0.5,
                       stv_count=0)
    hv = np.array([[0.0105, -0.0205, 0.0015, -0.03, 0.05], [0.01, 0.01, -0.00125, 0.02, -0.02]])
    sv = np.array([[-0.1, 0.02, -0.0505, 0.0], [0.05, 0.0, 0.1, -0.0125]])
    return RiskParameterFile(header, ("700", "5"), hv, sv)


PARAMS = CPParams(floor_rate=0.032, liquid_capital=1e12, margin_credit=0.0)


def test_post_and_read_one(gw: GateWorld) -> None:
    a = _att("B00001", 998_000, 500_000, False)
    gw.gate.post([a], gw.addr)
    got = gw.gate.read(gw.addr["B00001"])
    assert got.posted and got.valuation_date == VDATE
    assert (got.requirement_cents, got.collateral_cents, got.eligible, got.attestation) == (998_000, 500_000, False, a.hash)
    assert gw.gate.ineligible(gw.addr["B00001"]) is True
    assert gw.gate.latest_valuation_date() == VDATE


def test_never_posted_is_eligible(gw: GateWorld) -> None:
    got = gw.gate.read(gw.addr["B00002"])
    assert not got.posted and got.eligible and got.valuation_date is None and got.requirement_cents == 0
    assert gw.gate.ineligible_of([gw.addr["B00002"], participant_address("nobody")]) == [False, False]
    assert gw.gate.latest_valuation_date() is None


def test_batch_posting_events_and_ineligible_of(gw: GateWorld) -> None:
    n = 150
    addrs = {f"B{i:05d}": participant_address(f"many{i}") for i in range(n)}
    atts = [_att(cp, 10_000 * i, 5_000 * i, i % 3 != 0) for i, cp in enumerate(addrs)]
    before = gw.chain.block_number
    txs = gw.gate.post(atts, addrs, chunk=64)
    assert len(txs) == 3  # 64 + 64 + 22
    events = gw.chain.logs([gw.gate.address], before + 1)
    posted = [e for e in events if e.name == "RiskPosted"]
    assert len(posted) == n
    assert sum(int(e.args["count"]) for e in events if e.name == "BatchPosted") == n
    changed = [e for e in events if e.name == "EligibilityChanged"]  # never-posted = eligible: only flips
    assert len(changed) == len([a for a in atts if not a.eligible])
    flags = gw.gate.ineligible_of(list(addrs.values()))
    assert flags == [not a.eligible for a in atts]
    reads = gw.gate.read_many(list(addrs.values()), chunk=50)
    assert [(r.requirement_cents, r.collateral_cents, r.attestation) for r in reads] == [
        (a.requirement_cents, a.collateral_cents, a.hash) for a in atts]
    # A later posting flips eligibility and emits EligibilityChanged once.
    first = next(cp for cp in addrs if not atts[list(addrs).index(cp)].eligible)
    start = gw.chain.block_number
    gw.gate.post([_att(first, 1, 2, True, date(2026, 11, 23))], addrs)
    ev = [e.name for e in gw.chain.logs([gw.gate.address], start + 1)]
    assert ev.count("EligibilityChanged") == 1 and gw.gate.ineligible(addrs[first]) is False


def test_role_checks(gw: GateWorld) -> None:
    a = _att("B00001", 1, 1, True)
    for who in (gw.outsider, gw.dep.operators.admin, gw.dep.operators.settler):
        with pytest.raises(ChainError) as info:
            gw.gate.post([a], gw.addr, sender=who)
        err = info.value
        assert err.name == "AccessControlUnauthorizedAccount"
        assert "RISK_ENGINE_ROLE" in str(err) and readable(err), str(err)
    with pytest.raises(ChainError, match="RISK_ENGINE_ROLE"):
        gw.gate.post([a, _att("B00002", 1, 1, True)], gw.addr, sender=gw.outsider)  # batch path
    with pytest.raises(ChainError, match="RISK_ENGINE_ROLE"):
        gw.gate.publish_parameter_file(VDATE, "22" * 32, sender=gw.outsider)
    assert gw.gate.has_role(gw.risk_engine) and not gw.gate.has_role(gw.outsider)
    # The admin can hand the role to another key; that key can then post.
    gw.chain.send(gw.gate.contract.functions.grantRole(role(RISK_ENGINE_ROLE), gw.outsider), gw.dep.operators.admin)
    gw.gate.post([a], gw.addr, sender=gw.outsider)
    assert gw.gate.read(gw.addr["B00001"]).posted


def test_stale_and_malformed_postings_are_refused(gw: GateWorld) -> None:
    gw.gate.post([_att("B00001", 1, 1, True, date(2026, 11, 23))], gw.addr)
    with pytest.raises(ChainError) as info:
        gw.gate.post([_att("B00001", 1, 1, True, VDATE)], gw.addr)
    assert info.value.name == "StaleValuation" and readable(info.value)
    assert "20261120" in str(info.value) and "20261123" in str(info.value) and "B00001" in str(info.value)
    # Same date again (an intraday re-run) is fine.
    gw.gate.post([_att("B00001", 5, 1, False, date(2026, 11, 23))], gw.addr)
    assert gw.gate.read(gw.addr["B00001"]).requirement_cents == 5
    bad = [(participant_address("x"), 1, 1, True, b"\x00" * 32)]
    with pytest.raises(ChainError) as info:
        gw.chain.send(gw.gate.contract.functions.postBatch(20261332, bad), gw.risk_engine)
    assert info.value.name == "InvalidValuationDate" and readable(info.value)
    with pytest.raises(ChainError) as info:
        gw.chain.send(gw.gate.contract.functions.postBatch(20261120, []), gw.risk_engine)
    assert info.value.name == "EmptyBatch" and readable(info.value)


def test_parameter_file_publication(gw: GateWorld) -> None:
    rpf = _rpf()
    assert gw.gate.parameter_file_of(VDATE) is None
    gw.gate.publish_parameter_file(VDATE, rpf_digest(rpf))
    assert gw.gate.parameter_file_of(VDATE) == rpf_digest(rpf)


def test_attestation_hash_matches_contract(gw: GateWorld) -> None:
    r, p = "ab" * 32, "cd" * 32
    assert gw.gate.attestation_hash_on_chain(r, p) == attestation_hash(r, p)
    assert gw.gate.attestation_hash_on_chain(r, p, "other") == attestation_hash(r, p, "other") != attestation_hash(r, p)


def test_margin_snapshots_posted_and_recomputed(gw: GateWorld) -> None:
    """Post margin_snapshots results; each participant recomputes its figure and hash from its own inputs."""
    rpf = _rpf()
    ports = {
        "B00001": Portfolio.from_positions([Position("700", 10.0, 990.0, 1000.0), Position("5", -4.0, -410.0, -400.0)]),
        "B00002": Portfolio.from_positions([Position("700", -30.0, -2950.0, -3000.0)]),
    }
    snaps = margin_snapshots(rpf, ports, PARAMS, {"B00001": 9980.0, "B00002": 100.0})
    atts = attestations_from_snapshots(snaps, VDATE)
    post_attestations(gw.gate, atts, gw.addr)
    assert gw.gate.parameter_file_of(VDATE) == rpf_digest(rpf)
    assert gw.gate.ineligible_of([gw.addr["B00001"], gw.addr["B00002"]]) == [False, True]
    for cp, pf in ports.items():
        v = verify_attestation(gw.gate, gw.addr[cp], rpf, pf, PARAMS)
        assert v.ok, v.mismatches
        assert v.requirement_cents == snaps[cp].requirement * 100 == gw.gate.read(gw.addr[cp]).requirement_cents
        assert v.hash == attestation_hash(rpf_digest(rpf), positions_digest(pf))
    # A participant with different positions (or another parameter file) does not match, and is told why.
    other = Portfolio.from_positions([Position("700", 11.0, 990.0, 1100.0), Position("5", -4.0, -410.0, -400.0)])
    v = verify_attestation(gw.gate, gw.addr["B00001"], rpf, other, PARAMS)
    assert not v.ok and any(m.startswith("attestation") for m in v.mismatches)
    nothing = verify_attestation(gw.gate, gw.addr["C00001"], rpf, other, PARAMS)
    assert not nothing.ok and "nothing posted" in nothing.mismatches[0]


def test_daily_cycle_posted_and_verified(gw: GateWorld) -> None:
    """The daily cycle from open instructions, posted; a participant verifies from its own instructions."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Ins:
        deliverer: str
        receiver: str
        security_code: str
        quantity: int
        amount_cents: int
        currency: str = "HKD"
        state: str = "pending"

    rows = [Ins(CCP, "B00001", "00700", 10, 99_000), Ins("B00001", CCP, "00005", 4, 41_000),
            Ins(CCP, "B00002", "00700", 20, 190_000, state="failed"), Ins("B00003", CCP, "00005", 50, 520_000),
            Ins(CCP, "B00003", "00700", 50, 500_000, state="settled")]
    marks = Marks(VDATE, {"700": 100.0, "5": 100.0})
    coll = {"B00001": 1e6, "B00002": 0.0, "B00003": 1e6}
    cyc = run_daily_cycle(_rpf(), rows, marks, PARAMS, coll, exclude={CCP})
    post_attestations(gw.gate, cyc.attestations(), gw.addr)
    assert gw.gate.ineligible_of([gw.addr[c] for c in ("B00001", "B00002", "B00003")]) == [False, True, False]
    for cp in coll:
        own = [r for r in rows if cp in (r.deliverer, r.receiver)]
        pf = marginable_positions(own, marks, exclude={CCP})[cp]
        v = verify_attestation(gw.gate, gw.addr[cp], _rpf(), pf, PARAMS)
        assert v.ok, (cp, v.mismatches)
        assert recompute(_rpf(), pf, PARAMS).requirement_cents == cyc.records[cp].requirement * 100
    # Post the next day's cycle with the call paid: B00002 becomes eligible again.
    nxt = replace(cyc.records["B00002"].attestation, valuation_date=date(2026, 11, 23), eligible=True)
    gw.gate.post([nxt], gw.addr)
    assert gw.gate.ineligible(gw.addr["B00002"]) is False
