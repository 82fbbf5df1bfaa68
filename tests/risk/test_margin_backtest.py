from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from risk.backtest import (
    backtest,
    backtest_many,
    chi2_sf_1,
    chi2_sf_2,
    christoffersen_independence,
    exceptions,
    kupiec_pof,
    traffic_light,
)


@pytest.mark.parametrize("x", [0.0, 0.1, 1.0, 3.84, 6.63, 20.0])
def test_chi2_against_scipy(x: float) -> None:
    assert chi2_sf_1(x) == pytest.approx(stats.chi2.sf(x, 1), rel=1e-12, abs=1e-300)
    assert chi2_sf_2(x) == pytest.approx(stats.chi2.sf(x, 2), rel=1e-12)


@pytest.mark.parametrize("x, t", [(0, 250), (1, 250), (2, 250), (6, 250), (12, 250), (3, 500), (250, 250)])
def test_kupiec_against_scipy(x: int, t: int) -> None:
    p = 0.01
    # LR = 2 [log L(x/T) - log L(p)] with binomial likelihoods (the binomial coefficient cancels).
    lr_ref = 2 * (stats.binom.logpmf(x, t, x / t) - stats.binom.logpmf(x, t, p))
    lr, pv = kupiec_pof(x, t, 0.99)
    assert lr == pytest.approx(lr_ref, rel=1e-9, abs=1e-9)
    assert pv == pytest.approx(stats.chi2.sf(lr_ref, 1), rel=1e-7, abs=1e-12)


def test_christoffersen_against_scipy() -> None:
    rng = np.random.default_rng(4)
    hits = rng.random(500) < 0.03
    hits[100:104] = True  # a cluster
    prev, cur = hits[:-1], hits[1:]
    n = {(a, b): int(np.sum((prev == a) & (cur == b))) for a in (0, 1) for b in (0, 1)}
    p01 = n[0, 1] / (n[0, 0] + n[0, 1])
    p11 = n[1, 1] / (n[1, 0] + n[1, 1])
    p = (n[0, 1] + n[1, 1]) / sum(n.values())
    b = stats.binom.logpmf
    # Bernoulli likelihoods via binomial pmfs (coefficients cancel between numerator and denominator).
    l1 = b(n[0, 1], n[0, 0] + n[0, 1], p01) + b(n[1, 1], n[1, 0] + n[1, 1], p11)
    l0 = b(n[0, 1], n[0, 0] + n[0, 1], p) + b(n[1, 1], n[1, 0] + n[1, 1], p)
    lr_ref = 2 * (l1 - l0)
    lr, pv = christoffersen_independence(hits)
    assert lr == pytest.approx(lr_ref, rel=1e-9)
    assert pv == pytest.approx(stats.chi2.sf(lr_ref, 1), rel=1e-7)
    assert pv < 0.05  # the cluster is detected


def test_christoffersen_degenerate() -> None:
    assert christoffersen_independence(np.zeros(250, dtype=bool)) == (0.0, 1.0)


def test_traffic_light_basel_table() -> None:
    zones = [traffic_light(x, 250, 0.99) for x in range(15)]
    assert zones == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 5


def test_exceptions_and_report() -> None:
    margin = np.full(250, 100.0)
    pnl = np.zeros(250)
    pnl[[10, 50, 90, 130, 170, 210]] = -150.0
    pnl[20] = -100.0  # equal to margin: not an exception
    assert exceptions(margin, pnl).sum() == 6
    r = backtest("B1", margin, pnl)
    assert (r.exceptions, r.zone, r.observations) == (6, "yellow", 250)
    assert r.conditional_coverage_lr == pytest.approx(r.kupiec_lr + r.christoffersen_lr)
    rep = backtest_many({"B1": margin, "B2": margin}, {"B1": pnl, "B2": -pnl})
    # Market: margin 200, P&L cancels to 0 -> no exceptions.
    assert rep.market.exceptions == 0 and rep.market.zone == "green"
    d = json.loads(rep.to_json())
    assert d["per_cp"][0]["name"] == "B1"
    assert rep.to_csv().splitlines()[0].startswith("name,observations,exceptions")
    assert len(rep.to_csv().splitlines()) == 4
    with pytest.raises(ValueError):
        exceptions([1.0], [float("nan")])


def test_rolling_backtest_on_synthetic_market() -> None:
    from risk.margin_backtest import run_margin_backtest
    from risk.rpf_generation import GenerationConfig
    from risk.synthetic_market import MarketConfig, generate_market

    from risk_testkit import params

    hist = generate_market(MarketConfig(n_instruments=6, n_days=420, crash_start=100, crash_length=30, seed=8))
    cfg = GenerationConfig(hvar_count=250, svar_count=100, stressed_start=95)
    holdings = {"B1": {"2800": 10000.0, "3": -2000.0}, "B2": {"1": 5000.0}}
    rep = run_margin_backtest(hist, holdings, params(), days=40, config=cfg)
    assert [r.name for r in rep.per_cp] == ["B1", "B2"]
    assert all(r.observations == 40 for r in (*rep.per_cp, rep.market))
    # A zero margin must fail on every losing day: the driver really compares loss with margin.
    zero = run_margin_backtest(hist, holdings, params(), days=40, config=cfg, component="credit_risk_addon")
    assert zero.per_cp[0].exceptions > 5 and zero.per_cp[0].zone in ("yellow", "red")
    assert rep.per_cp[0].exceptions < zero.per_cp[0].exceptions
