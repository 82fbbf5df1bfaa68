from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from risk.margin import compute_margins
from risk.positions import Portfolio
from risk.rpf import read_rpf, write_rpf
from risk.rpf_generation import (
    GenerationConfig,
    ewma_volatility,
    find_stressed_window,
    fhs_scenarios,
    flat_rate_for,
    generate_rpf,
    holding_period_returns,
    liquidity_params,
)
from risk.synthetic_market import MarketConfig, generate_market, read_prices, write_prices

from risk_testkit import params

SMALL = MarketConfig(n_instruments=12, n_days=1300, crash_start=900, crash_length=40, seed=42)


@pytest.fixture(scope="module")
def history():  # type: ignore[no-untyped-def]
    return generate_market(SMALL)


def test_market_is_seeded_and_realistic(history) -> None:  # type: ignore[no-untyped-def]
    again = generate_market(SMALL)
    np.testing.assert_array_equal(history.closes, again.closes)
    other = generate_market(MarketConfig(n_instruments=12, n_days=1300, seed=43))
    assert not np.array_equal(history.closes, other.closes)
    r = history.log_returns()
    assert history.instruments[0] == "2800" and (history.closes > 0).all()
    z = (r - r.mean(0)) / r.std(0)
    assert np.mean(np.mean(z**4, axis=0)) > 3.5  # fat tails (normal = 3)
    corr = np.corrcoef(r[:, 1:].T)
    assert np.mean(corr[np.triu_indices(11, 1)]) > 0.1  # factor-driven co-movement
    # Volatility clustering: |r| is autocorrelated (iid shocks would give ~0).
    a = np.abs(r) - np.abs(r).mean(axis=0)
    acf1 = (a[1:] * a[:-1]).sum(axis=0) / (a * a).sum(axis=0)
    assert acf1.mean() > 0.05
    # The crash window is the most volatile stretch.
    start = find_stressed_window(r, 40)
    assert 860 <= start <= 940


def test_ewma_recursion_by_hand() -> None:
    r = np.array([[0.1], [0.2], [-0.1]])
    s = ewma_volatility(r, 0.9, seed_window=1)
    v0 = 0.01
    v1 = 0.9 * v0 + 0.1 * 0.01
    v2 = 0.9 * v1 + 0.1 * 0.04
    v3 = 0.9 * v2 + 0.1 * 0.01
    np.testing.assert_allclose(s[:, 0] ** 2, [v0, v1, v2, v3])


def test_holding_period_and_fhs_shapes() -> None:
    r = np.arange(10.0).reshape(5, 2)
    np.testing.assert_array_equal(holding_period_returns(r, 2), r[1:] + r[:-1])
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.01, (300, 3))
    sc = fhs_scenarios(x, 0.94, 2, 100)
    assert sc.shape == (3, 100)
    with pytest.raises(ValueError):
        fhs_scenarios(x, 0.94, 2, 400)


def test_fhs_rescales_to_current_vol() -> None:
    # Calm history then a volatile last month: filtered scenarios carry today's volatility.
    rng = np.random.default_rng(1)
    r = np.concatenate([rng.normal(0, 0.005, 600), rng.normal(0, 0.03, 60)])[:, None]
    sc = fhs_scenarios(r, 0.94, 1, 500)
    assert sc.std() > 0.02


def test_flat_rate_and_liquidity_buckets() -> None:
    calm = np.full(200, 0.001)
    assert flat_rate_for(calm, 2, 0.99, (0.12, 0.30, 0.55)) == 0.12
    wild = np.tile([0.2, -0.2], 100)
    assert flat_rate_for(wild, 1, 0.99, (0.12, 0.30, 0.55)) == 0.30
    lp = liquidity_params(5e8, 10.0, 1.1, 0.2)
    assert (lp.bucket_rate, lp.threshold, lp.cash_delta, lp.beta) == (0.05, 1e8, 10.0, 1.1)
    assert liquidity_params(1.0, 1.0, 1.0, 0.2).bucket_rate == 0.20


def test_generate_write_read_margin(history, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = GenerationConfig(hvar_count=200, svar_count=150, stressed_start=None)
    rpf = generate_rpf(history, cfg, flat_rate_instruments=["11"])
    assert rpf.hvar_returns.shape == (11, 200) and rpf.svar_returns.shape == (11, 150)
    assert rpf.flat_rates["11"] in (0.12, 0.30, 0.55)
    assert rpf.liquidity["2800"].beta == pytest.approx(1.0)
    assert rpf.header.valuation_date == history.dates[-1]
    # Stressed scenarios come from the crash: worse tails than the filtered HVaR set.
    assert np.quantile(rpf.svar_returns, 0.01) < np.quantile(rpf.hvar_returns, 0.01)
    path = tmp_path / "RPF01.csv"
    write_rpf(rpf, path)
    back = read_rpf(path)
    assert back == rpf
    p = Portfolio(("2800", "3", "11"), np.array([1000.0, -500, 100]), np.array([2e4, -1e4, 500]),
                  np.array([2e4, -1e4, 500]))
    out = compute_margins(back, {"B1": p}, params())
    assert out["B1"].portfolio_margin > 0 and out["B1"].flat_rate_margin > 0


def test_prices_csv_round_trip(history, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "prices.csv"
    write_prices(history, path)
    back = read_prices(path)
    assert back.instruments == history.instruments and back.dates == history.dates
    np.testing.assert_array_equal(back.closes, history.closes)
    np.testing.assert_array_equal(back.adv, history.adv)
