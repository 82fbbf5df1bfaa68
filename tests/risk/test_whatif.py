from __future__ import annotations

import numpy as np
import pytest

from risk.margin import compute_margin
from risk.positions import Portfolio, Position
from risk.rpf import LiquidityParams, StructuredProductParams
from risk.whatif import WhatIfSimulator

from risk_testkit import make_rpf, params


@pytest.fixture(scope="module")
def setup() -> tuple[object, Portfolio]:
    rng = np.random.default_rng(5)
    ids = [str(i) for i in range(1, 40)] + ["2800"]
    rpf = make_rpf(
        {i: np.round(rng.normal(0, 0.03, 120), 5).tolist() for i in ids},
        {i: np.round(rng.normal(0, 0.06, 130), 5).tolist() for i in ids},
        hvar_cl=0.95, svar_cl=0.9,
        flat={"F1": 0.12},
        liquidity={i: LiquidityParams(0.1, 1.0, 2e5, 10.0) for i in ids},
        sps={"39": StructuredProductParams("1", 0.5, 10.0, 0.5)},
    )
    mv = np.round(rng.normal(0, 5e5, 20), 2)
    port = Portfolio(tuple(ids[:20]), np.round(mv / 10), mv * 0.99, mv)
    return rpf, port


@pytest.mark.parametrize("ipo", [frozenset(), frozenset({"1", "25"})])
def test_whatif_equals_full_recomputation(setup: tuple[object, Portfolio], ipo: frozenset[str]) -> None:
    rpf, port = setup
    p = params(ipo_instruments=ipo, liquid_capital=1e6)
    sim = WhatIfSimulator(rpf, port, p)  # type: ignore[arg-type]
    assert sim.base == compute_margin(rpf, port, p)  # type: ignore[arg-type]
    trades = [
        [Position("5", 100, 1000.5, 1000.5)],  # existing position
        [Position("25", -300, -50000, -51234.5)],  # new instrument (IPO in one case)
        [Position("39", 1000, 500, 500), Position("F1", 10, 100, 120)],  # SP on "1" and a flat-rate name
        [Position("3", -float(port.quantity[2]), -float(port.contract_value[2]), -float(port.market_value[2]))],
    ]
    for t in trades:
        res = sim.evaluate(t)
        full = compute_margin(rpf, port.combined(t), p)  # type: ignore[arg-type]
        assert res.new == full
        assert res.change == {k: v - res.base.components()[k] for k, v in full.components().items()}


def test_whatif_fast_mode_within_bound(setup: tuple[object, Portfolio]) -> None:
    rpf, port = setup
    p = params()
    sim = WhatIfSimulator(rpf, port, p, mode="fast")  # type: ignore[arg-type]
    t = [Position("7", 100, 2e5, 2e5)]
    res = sim.evaluate(t)
    exact = compute_margin(rpf, port.combined(t), p)  # type: ignore[arg-type]
    assert abs(res.new.portfolio_margin - exact.portfolio_margin) <= res.new.detail.portfolio_margin_error_bound


def test_apply_moves_the_base(setup: tuple[object, Portfolio]) -> None:
    rpf, port = setup
    sim = WhatIfSimulator(rpf, port, params())  # type: ignore[arg-type]
    t = [Position("9", 10, 1e5, 1e5)]
    new = sim.evaluate(t).new
    assert sim.apply(t) == new
    assert sim.evaluate([]).change == {k: 0 for k in new.components()}
