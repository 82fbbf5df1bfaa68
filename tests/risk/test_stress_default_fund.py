from __future__ import annotations

import numpy as np
import pytest

from risk.errors import PositionError
from risk.positions import Portfolio
from risk.stress import StressScenarios, build_stress_scenarios, cover2_default_fund, stress_losses
from risk.synthetic_market import MarketConfig, generate_market


def test_stress_losses_hand() -> None:
    sc = StressScenarios(("A", "B"), ("s1", "s2"), np.array([[-0.1, 0.2], [0.05, -0.3]]))
    p = Portfolio(("A", "B"), np.array([1.0, 1.0]), np.zeros(2), np.array([1000.0, -200.0]))
    # s1: -(1000 * -0.1 + -200 * 0.05) = 110; s2: -(200 + 60) = -260
    np.testing.assert_allclose(stress_losses(sc, {"X": p}), [[110.0, -260.0]])
    with pytest.raises(PositionError, match="C"):
        stress_losses(sc, {"X": Portfolio(("C",), np.ones(1), np.zeros(1), np.ones(1))})


def test_cover2_hand() -> None:
    # losses (rows CP, cols scenario); collateral [10, 20, 5, 0]; CPs c and d form group G.
    losses = np.array([[100.0, 30.0], [50.0, 120.0], [10.0, 40.0], [5.0, 30.0]])
    res = cover2_default_fund(losses, [10, 20, 5, 0], ["a", "b", "c", "d"], ["s1", "s2"],
                              groups={"c": "G", "d": "G"}, limit=50.0)
    # Uncollateralised: a [90, 20], b [30, 100], G [15+5-5 -> 10, 70 - 5 = 65]
    assert res.uncollateralised == {"a": 90.0, "b": 100.0, "G": 65.0}
    # Top-2 per scenario: s1 90 + 30 = 120, s2 100 + 65 = 165 -> fund 165 in s2, groups b and G.
    assert res.fund_size == 165.0 and res.worst_scenario == "s2" and res.cover2_groups == ("b", "G")
    assert sum(res.contributions.values()) == pytest.approx(165.0)
    assert res.contributions["a"] == pytest.approx(165.0 * 90 / 255)
    # Inside G: c's own worst uncollateralised loss is 40 - 5 = 35, d's 30 - 0 = 30.
    g = res.contributions["G"]
    assert res.cp_contributions["c"] == pytest.approx(g * 35 / 65)
    assert res.cp_contributions["d"] == pytest.approx(g * 30 / 65)
    assert res.cp_contributions["a"] == pytest.approx(res.contributions["a"])
    assert sum(res.cp_contributions.values()) == pytest.approx(165.0)
    # Need beyond the limit: 165 - 50 = 115, shared 90 : 100 : 65.
    assert res.risk_collateral == pytest.approx({"a": 115 * 90 / 255, "b": 115 * 100 / 255, "G": 115 * 65 / 255})


def test_build_stress_scenarios() -> None:
    h = generate_market(MarketConfig(n_instruments=8, n_days=400, crash_start=200, crash_length=20, seed=3))
    sc = build_stress_scenarios(h, count=30, holding_period=2)
    assert sc.returns.shape == (8, 30) and len(set(sc.names)) == 30
    assert sc.names[0].startswith("shock:") and sc.names[-1].startswith("hist:")
    # The -35% market shock moves every name down by at least half of it (beta floored at 0.5).
    assert (sc.returns[:, 0] <= -0.35 * 0.5 + 1e-12).all()
    # The crash supplies some of the worst historical scenarios.
    hist_dates = [n[5:] for n in sc.names if n.startswith("hist:")]
    crash = {d.isoformat() for d in h.dates[200:224]}
    assert any(d in crash for d in hist_dates)


def test_stress_test_end_to_end() -> None:
    from risk.stress import stress_test

    sc = StressScenarios(("A", "B"), ("down", "up"), np.array([[-0.2, 0.1], [-0.1, 0.3]]))
    ports = {
        "X": Portfolio(("A",), np.ones(1), np.zeros(1), np.array([1000.0])),  # down: 200, up: -100
        "Y": Portfolio(("B",), np.ones(1), np.zeros(1), np.array([-500.0])),  # down: -50, up: 150
        "Z": Portfolio(("A", "B"), np.ones(2), np.zeros(2), np.array([100.0, 100.0])),  # down: 30, up: -40
    }
    res = stress_test(sc, ports, {"X": 50.0, "Y": 0.0, "Z": 0.0}, limit=1e9)
    # Uncollateralised: X [150, 0], Y [0, 150], Z [30, 0]; top-2 down 180, up 150 -> 180.
    assert res.fund_size == pytest.approx(180.0) and res.worst_scenario == "down"
    assert res.cover2_groups == ("X", "Z")
    with pytest.raises(PositionError, match="Z"):
        stress_test(sc, ports, {"X": 1.0, "Y": 1.0})


def test_stress_scenarios_csv_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from risk.errors import RPFFormatError
    from risk.stress import read_stress_scenarios

    sc = StressScenarios(("700", "2800"), ("shock:market-25%", "hist:2026-01-02"),
                         np.array([[-0.25 * 1.3, 0.1 / 3], [-0.25, 0.02]]))
    p = tmp_path / "stress.csv"
    sc.write_csv(p)
    back = read_stress_scenarios(p)
    assert back.instruments == sc.instruments and back.names == sc.names
    np.testing.assert_array_equal(back.returns, sc.returns)
    p.write_text(p.read_text().replace("-0.25,", "inf,"))
    with pytest.raises(RPFFormatError) as ei:
        read_stress_scenarios(p)
    assert (ei.value.row, ei.value.column) == (3, 2)
