"""Marks, marginable positions from open instructions, and the daily cycle (calls, coverage, eligibility)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pytest
from risk_testkit import HAND_HVAR, HAND_SVAR, make_rpf, params

from risk.attestation import ENGINE_VERSION, attestation_hash, recompute
from risk.daily_cycle import EligibilityPolicy, run_cycle, run_daily_cycle
from risk.errors import PositionError, PositionFileError, RiskInputError
from risk.interface import positions_digest, rpf_digest
from risk.marks import Marks, instrument_id, marginable_positions, marks_from_history, marks_from_rpf, read_marks
from risk.positions import Portfolio
from risk.rpf import LiquidityParams

VDATE = date(2026, 11, 20)  # make_rpf's valuation date
CCP = "H00001"


@dataclass(frozen=True)
class Ins:
    """Shaped like ledger.store.InstructionRow (the fields the risk engine reads)."""

    deliverer: str
    receiver: str
    security_code: str
    quantity: int
    amount_cents: int
    currency: str = "HKD"
    state: str = "pending"


MARKS = Marks(VDATE, {"A": 100.0, "B": 100.0})
# B01234 receives 10 A for HKD 990 and delivers 4 B for HKD 410: the hand case of test_margin_hand
# (A: qty 10, CV 990, MV 1000; B: qty -4, CV -410, MV -400) -> requirement 9980.
HAND_INSTRUCTIONS = [
    Ins(CCP, "B01234", "A", 10, 99_000),
    Ins("B01234", CCP, "B", 4, 41_000),
]


def test_positions_signed_from_each_side() -> None:
    pf = marginable_positions(HAND_INSTRUCTIONS, MARKS, exclude={CCP})
    assert list(pf) == ["B01234"]
    p = pf["B01234"].as_dict()
    assert (p["A"].quantity, p["A"].contract_value, p["A"].market_value) == (10.0, 990.0, 1000.0)
    assert (p["B"].quantity, p["B"].contract_value, p["B"].market_value) == (-4.0, -410.0, -400.0)
    # Without the exclusion the CCP is the mirror image.
    both = marginable_positions(HAND_INSTRUCTIONS, MARKS)
    c = both[CCP].as_dict()
    assert (c["A"].quantity, c["A"].contract_value, c["A"].market_value) == (-10.0, -990.0, -1000.0)
    assert (c["B"].quantity, c["B"].contract_value, c["B"].market_value) == (4.0, 410.0, 400.0)


def test_positions_net_per_instrument_and_skip_closed_states() -> None:
    rows = [
        Ins(CCP, "B1", "A", 10, 100_000),
        Ins("B1", CCP, "A", 4, 50_000),  # net +6 A, CV 1000 - 500 = 500
        Ins(CCP, "B1", "A", 7, 70_000, state="settled"),  # closed: ignored
        Ins(CCP, "B1", "A", 7, 70_000, state="cancelled"),
        Ins(CCP, "B1", "A", 1, 10_000, state="failed"),  # carried forward: counts
        Ins("B1", CCP, "B", 0, -2_500),  # money only: deliverer of nothing pays 25 -> CV +25
        Ins(CCP, "B1", "B", 3, 30_000), Ins("B1", CCP, "B", 3, 30_000),  # flat: dropped
    ]
    p = marginable_positions(rows, MARKS, exclude={CCP})["B1"].as_dict()
    assert set(p) == {"A", "B"}
    assert (p["A"].quantity, p["A"].contract_value, p["A"].market_value) == (7.0, 600.0, 700.0)
    assert (p["B"].quantity, p["B"].contract_value, p["B"].market_value) == (0.0, 25.0, 0.0)


def test_positions_digest_independent_of_instruction_order() -> None:
    rng = np.random.default_rng(3)
    rows = [Ins(CCP, "B1", "A", int(q), int(q) * int(rng.integers(9_000, 11_000))) for q in rng.integers(1, 50, 40)]
    a = marginable_positions(rows, MARKS, exclude={CCP})["B1"]
    b = marginable_positions(rows[::-1], MARKS, exclude={CCP})["B1"]
    assert positions_digest(a) == positions_digest(b)


def test_fx_and_missing_marks_are_errors() -> None:
    usd = [Ins(CCP, "B1", "A", 10, 12_800, currency="USD")]
    with pytest.raises(RiskInputError, match="USD"):
        marginable_positions(usd, MARKS)
    m = Marks(VDATE, {"A": 100.0}, {"HKD": 1.0, "USD": 7.8})
    p = marginable_positions(usd, m, exclude={CCP})["B1"].as_dict()["A"]
    assert p.contract_value == pytest.approx(128.0 * 7.8)
    with pytest.raises(PositionError, match="no mark for instrument C") as info:
        marginable_positions([Ins(CCP, "B1", "C", 1, 100)], MARKS)
    assert info.value.instrument == "C"
    for bad in (math.nan, math.inf, 0.0, -1.0):
        with pytest.raises(PositionError, match="instrument A"):
            Marks(VDATE, {"A": bad})


def test_instrument_ids_and_marks_sources(tmp_path: object) -> None:
    assert instrument_id("00700") == "700" and instrument_id("DIV1299") == "DIV1299" and instrument_id("0") == "0"
    rpf = make_rpf(HAND_HVAR, HAND_SVAR, liquidity={"A": LiquidityParams(0.1, 1.0, 1e9, 101.5)})
    assert marks_from_rpf(rpf).prices == {"A": 101.5}
    from risk.synthetic_market import MarketConfig, generate_market

    hist = generate_market(MarketConfig(n_instruments=3, n_days=60, crash_start=-1, seed=1))
    m = marks_from_history(hist)
    assert m.valuation_date == hist.dates[-1] and m.prices["2800"] == hist.closes[-1, 0]


def test_read_marks(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    d = Path(str(tmp_path))
    good = d / "marks.csv"
    good.write_text("InstrumentID,Price\n700,412.2\n5,60.05\n")
    assert read_marks(good, VDATE).prices == {"700": 412.2, "5": 60.05}
    bad = d / "bad.csv"
    bad.write_text("InstrumentID,Price\n700,abc\n")
    with pytest.raises(PositionFileError, match="row 2, column 2"):
        read_marks(bad, VDATE)
    neg = d / "neg.csv"
    neg.write_text("InstrumentID,Price\n700,412\n700,1\n")
    with pytest.raises(PositionFileError, match="duplicate instrument 700"):
        read_marks(neg, VDATE)


# ---- the cycle ---------------------------------------------------------------------------------------


def test_cycle_hand_case_calls_coverage_and_attestation() -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR)
    cyc = run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), {"B01234": 5_000.0}, exclude={CCP})
    r = cyc.records["B01234"]
    assert r.requirement == 9980
    assert r.shortfall == 4980
    assert r.margin_call == 10_000  # rounded up to Rounding
    assert r.coverage_ratio == pytest.approx(5000 / 9980)
    assert not r.eligible and "margin call of HKD 10,000" in r.reason
    assert r.call_outstanding_cycles == 1
    a = r.attestation
    assert a.requirement_cents == 998_000 and a.collateral_cents == 500_000 and not a.eligible
    assert a.valuation_date == VDATE and a.engine_version == ENGINE_VERSION
    assert a.rpf_sha256 == rpf_digest(rpf) == cyc.rpf_sha256
    assert a.hash == attestation_hash(rpf_digest(rpf), positions_digest(r.positions))
    # The participant recomputes its figure from the parameter file and its own positions.
    own = marginable_positions([i for i in HAND_INSTRUCTIONS if "B01234" in (i.deliverer, i.receiver)], MARKS,
                               exclude={CCP})["B01234"]
    mine = recompute(rpf, own, params())
    assert (mine.requirement_cents, mine.hash) == (a.requirement_cents, a.hash)
    # Paying the call restores cover and eligibility.
    paid = run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), {"B01234": 15_000.0}, exclude={CCP})
    rp = paid.records["B01234"]
    assert rp.eligible and rp.margin_call == 0 and rp.shortfall == 0 and rp.excess == pytest.approx(5020.0)
    assert cyc.totals()["margin_calls"] == 10_000 and cyc.ineligible == ["B01234"]
    assert cyc.to_dict()["participants"][0]["cp"] == "B01234"  # type: ignore[index]


def test_cycle_collateral_exactly_covers() -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR)
    r = run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), {"B01234": 9980.0}, exclude={CCP}).records["B01234"]
    assert r.eligible and r.margin_call == 0 and r.coverage_ratio == 1.0
    r = run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), {"B01234": 9979.99}, exclude={CCP}).records["B01234"]
    assert not r.eligible and r.shortfall == 1 and r.margin_call == 10_000


def test_eligibility_tolerance_grace_and_status() -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR)
    coll = {"B01234": 9_000.0}  # shortfall 980
    tolerant = EligibilityPolicy(call_tolerance_hkd=1_000.0)
    r = run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), coll, exclude={CCP}, policy=tolerant)
    assert r.records["B01234"].eligible and r.records["B01234"].margin_call == 10_000
    assert r.records["B01234"].call_outstanding_cycles == 0
    ratio = EligibilityPolicy(call_tolerance_ratio=0.05)  # 5% of 9980 = 499 < 980
    assert not run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), coll, exclude={CCP},
                               policy=ratio).records["B01234"].eligible
    grace = EligibilityPolicy(grace_cycles=1)
    day1 = run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), coll, exclude={CCP}, policy=grace)
    assert day1.records["B01234"].eligible and day1.records["B01234"].call_outstanding_cycles == 1
    day2 = run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), coll, exclude={CCP}, policy=grace,
                           previous=day1)
    assert not day2.records["B01234"].eligible and day2.records["B01234"].call_outstanding_cycles == 2
    defaulted = run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), {"B01234": 1e9}, exclude={CCP},
                                status={"B01234": "defaulted"})
    assert not defaulted.records["B01234"].eligible
    assert defaulted.records["B01234"].reason == "participant is defaulted"
    with pytest.raises(RiskInputError, match="grace_cycles"):
        EligibilityPolicy(grace_cycles=-1)


def test_cycle_input_errors() -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR)
    with pytest.raises(PositionError, match="B01234"):  # positions but no collateral entry
        run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), {}, exclude={CCP})
    with pytest.raises(RiskInputError, match="collateral of CP B01234"):
        run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), {"B01234": math.nan}, exclude={CCP})
    with pytest.raises(RiskInputError, match="marks are for 2026-11-19"):
        run_daily_cycle(rpf, HAND_INSTRUCTIONS, Marks(date(2026, 11, 19), MARKS.prices), params(),
                        {"B01234": 1.0}, exclude={CCP})


def test_cycle_collateral_only_participant_has_empty_portfolio() -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR)
    cyc = run_daily_cycle(rpf, HAND_INSTRUCTIONS, MARKS, params(), {"B01234": 1e6, "B09999": 0.0}, exclude={CCP})
    r = cyc.records["B09999"]
    assert len(r.positions) == 0 and r.requirement == 0 and r.eligible and r.coverage_ratio is None


def test_synthetic_day() -> None:
    """A small synthetic day: generated market and RPF, random CNS-like obligations, five CPs."""
    from risk.rpf_generation import GenerationConfig, generate_rpf
    from risk.synthetic_market import MarketConfig, generate_market

    hist = generate_market(MarketConfig(n_instruments=8, n_days=420, crash_start=100, crash_length=30, seed=8))
    rpf = generate_rpf(hist, GenerationConfig(hvar_count=250, svar_count=120, hvar_cl=0.99, svar_cl=0.975),
                       flat_rate_instruments=hist.instruments[-1:])
    marks = marks_from_history(hist)
    rng = np.random.default_rng(21)
    cps = [f"B0{i:04d}" for i in range(1, 6)]
    rows: list[Ins] = []
    for _ in range(60):
        cp = cps[int(rng.integers(len(cps)))]
        inst = hist.instruments[int(rng.integers(len(hist.instruments)))]
        qty = int(rng.integers(1, 200)) * 100
        price = marks.prices[inst] * float(rng.uniform(0.97, 1.03))
        cents = int(round(qty * price * 100))
        state = str(rng.choice(["pending", "pending", "failed", "settled"]))
        rows.append(Ins(CCP, cp, inst, qty, cents, state=state) if rng.random() < 0.5
                    else Ins(cp, CCP, inst, qty, cents, state=state))
    cp_params = {cp: params(margin_credit=0.0 if k % 2 else 1_000.0, liquid_capital=5e7) for k, cp in enumerate(cps)}
    pf = marginable_positions(rows, marks, exclude={CCP})
    reqs = run_cycle(rpf, pf, cp_params, {cp: 0.0 for cp in pf}).records
    # Collateral: CP 1 short by half, the rest covered with 10% excess.
    collateral = {cp: reqs[cp].requirement * (0.5 if cp == cps[0] else 1.1) for cp in pf}
    cyc = run_daily_cycle(rpf, rows, marks, cp_params, collateral, exclude={CCP})
    assert set(cyc.records) == set(pf)
    assert all(r.requirement > 0 for r in cyc.records.values())
    assert cyc.ineligible == [cps[0]]
    first = cyc.records[cps[0]]
    assert first.margin_call >= first.shortfall > 0 and first.margin_call % rpf.header.rounding == 0
    assert first.collateral + first.margin_call >= first.requirement
    for cp, r in cyc.records.items():
        if cp != cps[0]:
            assert r.eligible and r.margin_call == 0 and r.coverage_ratio == pytest.approx(1.1, rel=1e-6)
        # Each participant recomputes its own figure from the published file and its own rows.
        own = [i for i in rows if cp in (i.deliverer, i.receiver)]
        mine = recompute(rpf, marginable_positions(own, marks, exclude={CCP})[cp], cp_params[cp])
        assert (mine.requirement_cents, mine.hash) == (r.attestation.requirement_cents, r.attestation.hash)
    assert len(cyc.attestations()) == len(pf)
    fast = run_daily_cycle(rpf, rows, marks, cp_params, collateral, exclude={CCP}, mode="fast")
    for cp in pf:
        assert abs(fast.records[cp].requirement - cyc.records[cp].requirement) <= rpf.header.rounding + 1000


def test_positions_from_ledger_rows_and_cns() -> None:
    """The ledger's own types plug in: InstructionRow objects and CnsObligations give the same positions."""
    from ledger.netting import CnsObligations
    from ledger.store import InstructionRow

    rows = [InstructionRow(id=1, source="CNS", settle_date="2026-11-24", deliverer=CCP, receiver="B00001",
                           security_code="A", quantity=10, currency="HKD", amount_cents=99_000, state="pending"),
            InstructionRow(id=2, source="CNS", settle_date="2026-11-24", deliverer="B00001", receiver=CCP,
                           security_code="B", quantity=4, currency="HKD", amount_cents=41_000, state="failed")]
    a = marginable_positions(rows, MARKS, exclude={CCP})
    cns = CnsObligations(
        participant=np.array([0, 0], dtype=np.int32), security=np.array([0, 1], dtype=np.int32),
        settle_date=np.array(["2026-11-24", "2026-11-24"], dtype="datetime64[D]"),
        net_qty=np.array([10, -4], dtype=np.int64), cash_cents=np.array([-99_000, 41_000], dtype=np.int64),
        currency=np.array([0, 0], dtype=np.int32))
    from risk.marks import positions_from_cns

    b = positions_from_cns(cns, ["B00001", CCP], ["A", "B"], ["HKD"], MARKS)
    assert positions_digest(a["B00001"]) == positions_digest(b["B00001"])
    assert isinstance(b["B00001"], Portfolio)
