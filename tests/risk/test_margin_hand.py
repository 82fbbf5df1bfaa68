"""Hand-computed margin cases; the arithmetic is spelled out in each test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from risk.errors import PositionError
from risk.margin import (
    compute_margin,
    corporate_action_margin,
    flat_rate_margin,
    holiday_addon,
    liquidation_risk_addon,
    position_limit_addon,
    structured_product_addon,
)
from risk.rpf import CorporateActionParams, LiquidityParams, RiskParameterFile, SPAddonParams, StructuredProductParams

from risk_testkit import HAND_HVAR, HAND_SVAR, make_rpf, params, pf

# A: MV 1000, B: MV -400.
# HVaR terms A = 1000 r = [10.5, -20.5, 1.5, -30, 50] -> [11, -21, 2, -30, 50] (half away from zero)
#            B = -400 r = [-4, -4, 0.5, -8, 8]      -> [-4, -4, 1, -8, 8]
#   P&L = [7, -25, 3, -38, 58]; k = ceil(0.4 * 5) = 2 -> ES_H = (-38 - 25) / 2 = -31.5
# SVaR terms A = [-100, 20, -50.5, 0] -> [-100, 20, -51, 0]; B = [-20, 0, -40, 5]
#   P&L = [-120, 20, -91, 5]; k = ceil(0.5 * 4) = 2 -> ES_S = (-120 - 91) / 2 = -105.5
# 0.75 * -31.5 + 0.25 * -105.5 = -50 -> portfolio margin 50 (floor 1000 * 3.2% = 32).
HAND = (("A", 10.0, 990.0, 1000.0), ("B", -4.0, -410.0, -400.0))


def test_portfolio_margin_hand(hand_rpf: RiskParameterFile) -> None:
    r = compute_margin(hand_rpf, pf(*HAND), params())
    assert r.detail.hvar_k == 2 and r.detail.svar_k == 2
    # Unrounded terms would give -31.25 and -105.0; banker's rounding -31.0 and -105.0.
    assert r.detail.hvar_es == (-31.5,)
    assert r.detail.svar_es == (-105.5,)
    assert r.detail.floor == pytest.approx(32.0)
    assert r.portfolio_margin == 50
    # MTM: A 1000 - 990 = 10, B -400 - (-410) = 10 -> favourable 20.
    assert r.favourable_mtm == 20 and r.mtm_requirement == 0
    assert r.aggregated_margin == 50
    assert r.rounded_margin == 10000
    assert r.net_margin == 9980
    assert r.net_margin_after_credit == 9980
    assert r.total_requirement == 9980


def test_floor_binds(hand_rpf: RiskParameterFile) -> None:
    r = compute_margin(hand_rpf, pf(*HAND), params(floor_rate=0.1))
    assert r.portfolio_margin == 100  # max(1000, 400) * 10% > 50


def test_round_up_exactly_at_multiple(hand_rpf: RiskParameterFile) -> None:
    # floor = 1000 * 10 = 10000 exactly: stays 10000, not 20000.
    r = compute_margin(hand_rpf, pf(*HAND), params(floor_rate=10.0))
    assert r.aggregated_margin == 10000 and r.rounded_margin == 10000
    r = compute_margin(hand_rpf, pf(*HAND), params(floor_rate=10.00001))
    assert r.aggregated_margin == 10000 and r.rounded_margin == 10000  # 10000.01 rounds to 10000 first
    r = compute_margin(hand_rpf, pf(*HAND), params(floor_rate=10.001))
    assert r.aggregated_margin == 10001 and r.rounded_margin == 20000


def test_ipo_subportfolios(hand_rpf: RiskParameterFile) -> None:
    # IPO A alone: H terms [11,-21,2,-30,50] -> ES (-30-21)/2 = -25.5; S [-100,20,-51,0] -> -75.5
    # Main (B): H [-4,-4,1,-8,8] -> (-8-4)/2 = -6; S [-20,0,-40,5] -> -30
    # Sum: 0.75*(-25.5-6) + 0.25*(-75.5-30) = -23.625 - 26.375 = -50 -> 50
    r = compute_margin(hand_rpf, pf(*HAND), params(ipo_instruments=frozenset({"A"})))
    assert r.detail.subportfolios == ("", "A")
    assert r.detail.hvar_es == (-6.0, -25.5)
    assert r.detail.svar_es == (-30.0, -75.5)
    assert r.portfolio_margin == 50


def test_ipo_structured_product_joins_its_stock() -> None:
    rpf = make_rpf(
        {**HAND_HVAR, "C": [0.0, 0.0, 0.0, -1.0, 0.0]},
        {**HAND_SVAR, "C": [0.0, 0.0, 0.0, 0.0]},
        sps={"C": StructuredProductParams("A", 0.5, 10.0, 1.0)},
        liquidity={"A": LiquidityParams(0.0, 1.0, 1e12, 100.0), "2800": LiquidityParams(0.0, 1.0, 1e12, 1.0)},
    )
    # C (MV 100) loses 100 in H scenario 4, inside A's IPO sub-portfolio:
    # A+C H P&L = [11,-21,2,-130,50] -> ES (-130-21)/2 = -75.5
    r = compute_margin(rpf, pf(*HAND, ("C", 100.0, 100.0, 100.0)), params(ipo_instruments=frozenset({"A"})))
    assert r.detail.subportfolios == ("", "A")
    assert r.detail.hvar_es == (-6.0, -75.5)


def test_flat_rate_margin_hand() -> None:
    # 12% group: long 1000, short 1500 -> 1500 * 0.12 = 180; 30% group: long 200, short 100 -> 60.
    # (180 + 60) * 1.5 = 360
    mv = np.array([1000.0, -1500.0, 200.0, -100.0])
    rates = np.array([0.12, 0.12, 0.30, 0.30])
    assert flat_rate_margin(mv, rates, 1.5) == 360


def test_flat_rate_via_engine() -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR, flat={"F1": 0.12, "F2": 0.12, "F3": 0.3})
    p = pf(("F1", 1, 1000, 1000), ("F2", -1, -1500, -1500), ("F3", 1, 200, 200))
    r = compute_margin(rpf, p, params(flat_rate_multiplier=2.0))
    assert r.flat_rate_margin == (180 + 60) * 2
    assert r.portfolio_margin == 0


LIQ = {
    "X": LiquidityParams(0.1, 1.2, 1000.0, 10.0),
    "2800": LiquidityParams(0.05, 1.0, 500.0, 25.0),
}


def test_liquidation_addon_hand() -> None:
    # Group X: 300 * 10 (stock) + 500 * 2 (SP Y on X) = 4000 -> (4000 - 1000) * 0.1 = 300
    # Group 2800: -20 * 25 = -500 -> max(500 - 500, 0) = 0
    # Portfolio: |4000 * 1.2 - 500 * 1.0| = 4300 -> (4300 - 500) * 0.05 = 190
    rpf = make_rpf(
        {"X": [0.0] * 5, "Y": [0.0] * 5, "2800": [0.0] * 5},
        {"X": [0.0] * 4, "Y": [0.0] * 4, "2800": [0.0] * 4},
        liquidity=LIQ,
        sps={"Y": StructuredProductParams("X", 0.5, 5.0, 2.0)},
    )
    p = pf(("X", 300, 3000, 3000), ("Y", 500, 500, 500), ("2800", -20, -500, -500))
    r = compute_margin(rpf, p, params())
    assert (r.detail.lra_instrument, r.detail.lra_portfolio) == (300, 190)
    assert r.liquidation_risk_addon == 490


def test_liquidation_addon_function_rounds_each_level() -> None:
    i, p = liquidation_risk_addon(np.array([1005.0]), np.array([0.1]), np.array([1.0]), np.array([0.0]), 0.1, 0.0)
    assert (i, p) == (101, 101)  # 100.5 -> 101 each (half away from zero)


def test_liquidation_needs_hedge_row() -> None:
    rpf = make_rpf({"X": [0.0] * 5}, {"X": [0.0] * 4}, liquidity={"X": LIQ["X"]})
    with pytest.raises(PositionError, match="hedging instrument 2800"):
        compute_margin(rpf, pf(("X", 1, 10, 10)), params())


def test_structured_product_addon_hand() -> None:
    # long 500 * (10 * 0.5) * 0.001 = 2.5 -> 3; the short position is ignored.
    assert structured_product_addon(np.array([500.0, -1000.0]), np.array([0.5, 0.5]), 0.001) == 3
    rpf = make_rpf(
        {"Y": [0.0] * 5, "Z": [0.0] * 5}, {"Y": [0.0] * 4, "Z": [0.0] * 4},
        sp_addon={"Y": SPAddonParams(0.01, 0.5), "Z": SPAddonParams(0.01, 0.5)},
    )
    r = compute_margin(rpf, pf(("Y", 500, 5, 5), ("Z", -1000, -10, -10)), params())
    assert r.structured_product_addon == 3


def test_corporate_action_margin_hand() -> None:
    # DIV1299: net 1000 - 0 = 1000 > 0 -> long 20% = 200
    # SRI5: net 0 - 10 = -10 < 0 -> short 25% = -2.5 -> round -3 -> |.| = 3
    cas = {"1299": CorporateActionParams(3, 1.2, 0.1, 0.2), "5": CorporateActionParams(2, 3.0, 0.25, 0.5)}
    rpf = make_rpf(HAND_HVAR, HAND_SVAR, cas=cas)
    r = compute_margin(rpf, pf(("DIV1299", 1000, 0, 1000), ("SRI5", 0, 10, 0)), params())
    assert r.corporate_action_margin == 203
    assert corporate_action_margin(np.array([-10.0]), np.array([0.25]), np.array([0.5])) == 3


def test_corporate_action_type_mismatch() -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR, cas={"1299": CorporateActionParams(3, 1.2, 0.1, 0.2)})
    with pytest.raises(PositionError, match="DSP1299"):
        compute_margin(rpf, pf(("DSP1299", 1, 0, 10)), params())


def test_unknown_instrument_named() -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR)
    with pytest.raises(PositionError, match="instrument 9999"):
        compute_margin(rpf, pf(*HAND, ("9999", 1, 1, 1)), params())


def test_non_finite_position_rejected() -> None:
    with pytest.raises(PositionError, match="market_value"):
        pf(("A", 1.0, 1.0, math.nan))


def test_holiday_addon_hand(hand_rpf: RiskParameterFile) -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR, holiday_factor=math.sqrt(2) - 1)
    r = compute_margin(rpf, pf(*HAND), params())
    assert r.holiday_addon == 21  # 50 * 0.41421 = 20.71 -> 21
    assert r.aggregated_margin == 71
    assert holiday_addon(3, 0, 0.5) == 2  # 1.5 -> 2


def test_position_limit_addon_and_total(hand_rpf: RiskParameterFile) -> None:
    # NMV = |1000 - 400| = 600; limit = min(100 * 2, 150) = 150; excess share = 450 / 600 = 0.75
    # base = roundup(50, 10000) = 10000; net after credit 9980 > 0 -> pct 25%: 0.75 * 10000 * 0.25 = 1875
    p = params(liquid_capital=100.0, liquid_capital_multiplier=2.0, liquid_capital_cap=150.0,
               credit_risk_addon=1000.4, adhoc_addon=0.5)
    r = compute_margin(hand_rpf, pf(*HAND), p)
    assert r.position_limit_addon == 1875
    assert r.credit_risk_addon == 1000 and r.adhoc_addon == 1
    assert r.total_requirement == 9980 + 1875 + 1000 + 1
    # With a margin credit wiping the net margin, the rate becomes 1 + 25%: 0.75 * 10000 * 1.25 = 9375
    r2 = compute_margin(hand_rpf, pf(*HAND), params(liquid_capital=100.0, liquid_capital_multiplier=2.0,
                                                     liquid_capital_cap=150.0, margin_credit=5_000_000))
    assert r2.net_margin_after_credit == 0 and r2.position_limit_addon == 9375
    r3 = compute_margin(hand_rpf, pf(*HAND), params(liquid_capital=100.0, custodian=True))
    assert r3.position_limit_addon == 0


def test_position_limit_function_edges() -> None:
    assert position_limit_addon(0.0, 0, 1, None, 10000, 0.25, 1, False) == 0
    assert position_limit_addon(100.0, 200, 1, None, 10000, 0.25, 1, False) == 0  # under the limit
    # excess 2 / 4 * 10 * 0.25 = 1.25 -> 1 ; with 1 + pct: 6.25 -> 6
    assert position_limit_addon(4.0, 2, 1, None, 10, 0.25, 1, False) == 1
    assert position_limit_addon(4.0, 2, 1, None, 10, 0.25, 0, False) == 6


def test_mtm_requirement(hand_rpf: RiskParameterFile) -> None:
    # A: 1000 - 1100 = -100, B: -400 - (-410) = 10 -> MTM -90: requirement 90, no favourable MTM.
    r = compute_margin(hand_rpf, pf(("A", 10.0, 1100.0, 1000.0), HAND[1]), params())
    assert r.mtm_requirement == 90 and r.favourable_mtm == 0
    assert r.net_margin == 10000
    assert r.total_requirement == 10000 + 90


def test_favourable_mtm_never_below_zero(hand_rpf: RiskParameterFile) -> None:
    r = compute_margin(hand_rpf, pf(("A", 10.0, -50000.0, 1000.0), HAND[1]), params())
    assert r.favourable_mtm == 51010 and r.net_margin == 0 and r.total_requirement == 0


def test_mtm_position_level_rounding(hand_rpf: RiskParameterFile) -> None:
    # 0.5 + 0.5: per-position rounding gives 1 + 1 = 2 (rounding the sum would give 1).
    r = compute_margin(hand_rpf, pf(("A", 1.0, 999.5, 1000.0), ("B", -1.0, -400.5, -400.0)), params())
    assert r.detail.mtm == 2


def test_hkscc_tail_sizes_in_the_engine() -> None:
    # MV 1000 and r_s = -s / 1000 give P&L_s = -s exactly.
    # HVaR, 1000 scenarios at 99.4%: worst 6 = -999..-994 -> -996.5 (k = 7 would give -996).
    # SVaR, 1018 scenarios at 98%: worst 21 = -1017..-997 -> -1007 (k = 20 would give -1007.5).
    from datetime import date

    from risk.rpf import RPFHeader

    hv = -np.arange(1000.0)[None, :] / 1000
    sv = -np.arange(1018.0)[None, :] / 1000
    rpf = RiskParameterFile(RPFHeader(date(2026, 11, 20)), ("700",), hv, sv)
    r = compute_margin(rpf, pf(("700", 1.0, 1000.0, 1000.0)), params())
    assert (r.detail.hvar_k, r.detail.svar_k) == (6, 21)
    assert r.detail.hvar_es == (-996.5,)
    assert r.detail.svar_es == (-1007.0,)
    # 0.75 * 996.5 + 0.25 * 1007 = 747.375 + 251.75 = 999.125 -> 999
    assert r.portfolio_margin == 999
    assert compute_margin(rpf, pf(("700", 1.0, 1000.0, 1000.0)), params(), mode="fast").portfolio_margin == 999
