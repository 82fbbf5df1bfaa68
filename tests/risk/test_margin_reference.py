"""Exact mode against an independent pure-Python reference; fast mode within its bound."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.margin import Mode, compute_margin, compute_margins
from risk.positions import Portfolio
from risk.rpf import RiskParameterFile

from risk_testkit import make_rpf, params


def _round(x: float) -> int:
    return int(Decimal(x).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def reference_pm(rpf: RiskParameterFile, port: Portfolio, floor_rate: float) -> int:
    """Straight from the spec: loops, sorting, Decimal rounding."""
    def es(returns: np.ndarray, cl: float) -> float:
        n = returns.shape[1]
        k = math.ceil((1 - Decimal(repr(cl))) * n)
        pnl: list[int] = []
        for s in range(n):
            pnl.append(sum(_round(mv * float(returns[rpf.var_index[i], s]))
                           for i, mv in zip(port.instruments, port.market_value.tolist())))
        return float(sum(sorted(pnl)[:k]) / k)

    h = es(rpf.hvar_returns, rpf.header.hvar_cl)
    s = es(rpf.svar_returns, rpf.header.svar_cl)
    charge = abs(rpf.header.hvar_weight * h + rpf.header.svar_weight * s)
    mv = port.market_value
    floor = max(float(mv[mv > 0].sum()), float(-mv[mv < 0].sum())) * floor_rate
    return _round(max(charge, floor))


@st.composite
def market(draw: st.DrawFn) -> tuple[RiskParameterFile, Portfolio]:
    n = draw(st.integers(1, 6))
    h = draw(st.integers(5, 40))
    s = draw(st.integers(5, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ids = [str(700 + i) for i in range(n)]
    # Returns on a 1e-4 grid and MVs on a 1-HKD grid make exact .5 ties frequent.
    hv = rng.integers(-800, 800, (n, h)) / 1e4
    sv = rng.integers(-1500, 1500, (n, s)) / 1e4
    rpf = make_rpf({i: hv[j].tolist() for j, i in enumerate(ids)}, {i: sv[j].tolist() for j, i in enumerate(ids)},
                   hvar_cl=draw(st.sampled_from([0.9, 0.95, 0.98, 0.994])),
                   svar_cl=draw(st.sampled_from([0.9, 0.95, 0.98])))
    mv = rng.integers(-10**6, 10**6, n).astype(float) + draw(st.sampled_from([0.0, 0.5]))
    port = Portfolio(tuple(ids), mv / 10, mv, mv)
    return rpf, port


@settings(max_examples=60, deadline=None)
@given(market())
def test_exact_matches_reference(case: tuple[RiskParameterFile, Portfolio]) -> None:
    rpf, port = case
    assert compute_margin(rpf, port, params()).portfolio_margin == reference_pm(rpf, port, 0.032)


@settings(max_examples=100, deadline=None)
@given(market())
def test_fast_within_reported_bound(case: tuple[RiskParameterFile, Portfolio]) -> None:
    rpf, port = case
    exact = compute_margin(rpf, port, params(), mode="exact")
    fast = compute_margin(rpf, port, params(), mode="fast")
    bound = fast.detail.portfolio_margin_error_bound
    nnz = int(np.count_nonzero(port.market_value))
    # The bound is 0.5 HKD per nonzero term, weighted, plus 1 for the final rounding (and a tiny fp term).
    assert bound <= (rpf.header.hvar_weight + rpf.header.svar_weight) * 0.5 * nnz + 1 + 1e-3
    assert abs(fast.portfolio_margin - exact.portfolio_margin) <= bound
    assert exact.detail.portfolio_margin_error_bound == 0.0


def test_batch_equals_single_and_rejects_missing_params() -> None:
    rng = np.random.default_rng(11)
    ids = [str(i) for i in range(30)]
    rpf = make_rpf({i: (rng.normal(0, 0.03, 50)).tolist() for i in ids},
                   {i: (rng.normal(0, 0.05, 60)).tolist() for i in ids}, hvar_cl=0.98, svar_cl=0.95)
    ports = {}
    for c in range(12):
        cols = rng.choice(30, size=int(rng.integers(1, 30)), replace=False)
        mv = np.round(rng.normal(0, 1e6, cols.size), 2)
        ports[f"B{c}"] = Portfolio(tuple(ids[j] for j in cols), mv / 10, mv * 1.01, mv)
    ps = {cp: params(ipo_instruments=frozenset({"3", "4"}) if i % 2 else frozenset()) for i, cp in enumerate(ports)}
    modes: tuple[Mode, ...] = ("exact", "fast")
    for mode in modes:
        batch = compute_margins(rpf, ports, ps, mode=mode)
        for cp, p in ports.items():
            single = compute_margin(rpf, p, ps[cp], mode=mode)
            assert batch[cp] == single
            if mode == "exact":
                assert batch[cp].portfolio_margin == reference_pm_ipo(rpf, p, ps[cp].ipo_instruments)
    try:
        compute_margins(rpf, ports, {"B0": params()})
    except Exception as e:  # noqa: BLE001
        assert "B1" in str(e)
    else:  # pragma: no cover
        raise AssertionError("missing CP parameters must raise")


def reference_pm_ipo(rpf: RiskParameterFile, port: Portfolio, ipo: frozenset[str]) -> int:
    """Reference with IPO sub-portfolios (no structured products here)."""
    subs: dict[str, list[int]] = {}
    for j, i in enumerate(port.instruments):
        subs.setdefault(i if i in ipo else "", []).append(j)
    total = 0.0
    for rows in subs.values():
        sub = Portfolio(tuple(port.instruments[j] for j in rows), port.quantity[rows], port.contract_value[rows],
                        port.market_value[rows])
        for ret, cl, w in ((rpf.hvar_returns, rpf.header.hvar_cl, rpf.header.hvar_weight),
                           (rpf.svar_returns, rpf.header.svar_cl, rpf.header.svar_weight)):
            n = ret.shape[1]
            k = math.ceil((1 - Decimal(repr(cl))) * n)
            pnl = sorted(sum(_round(mv * float(ret[rpf.var_index[i], s]))
                             for i, mv in zip(sub.instruments, sub.market_value.tolist())) for s in range(n))
            total += w * sum(pnl[:k]) / k
    mv = port.market_value
    floor = max(float(mv[mv > 0].sum()), float(-mv[mv < 0].sum())) * 0.032
    return _round(max(abs(total), floor))


@st.composite
def near_tie_market(draw: st.DrawFn) -> tuple[RiskParameterFile, dict[str, Portfolio]]:
    """Small MVs so rounding moves P&Ls by as much as their spread: the tail set is fragile."""
    n = draw(st.integers(1, 8))
    h = draw(st.integers(5, 60))
    s = draw(st.integers(5, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ids = [str(i) for i in range(n)]
    hv = rng.integers(-100, 100, (n, h)) / 64  # dyadic: many exact .5 products
    sv = rng.integers(-100, 100, (n, s)) / 64
    rpf = make_rpf({i: hv[j].tolist() for j, i in enumerate(ids)}, {i: sv[j].tolist() for j, i in enumerate(ids)},
                   hvar_cl=draw(st.sampled_from([0.8, 0.9, 0.994])), svar_cl=draw(st.sampled_from([0.8, 0.98])))
    ports = {}
    for c in range(draw(st.integers(1, 4))):
        mv = rng.integers(-8, 9, n) / 2.0
        ports[f"C{c}"] = Portfolio(tuple(ids), mv, mv, mv)
    return rpf, ports


@settings(max_examples=150, deadline=None)
@given(st.one_of(near_tie_market(), market().map(lambda m: (m[0], {"C": m[1]}))))
def test_tail_strategy_identical_to_full_exact(case: tuple[RiskParameterFile, dict[str, Portfolio]]) -> None:
    rpf, ports = case
    p = params(ipo_instruments=frozenset({"1"}))
    tail = compute_margins(rpf, ports, p, mode="exact", exact_strategy="tail")
    full = compute_margins(rpf, ports, p, mode="exact", exact_strategy="full")
    for cp in ports:
        assert tail[cp].detail.hvar_es == full[cp].detail.hvar_es
        assert tail[cp].detail.svar_es == full[cp].detail.svar_es
        assert tail[cp] == full[cp]
