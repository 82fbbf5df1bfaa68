"""Full-market consistency (no timings: those live in scripts/bench_margin.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from risk_testkit import params

from risk.margin import compute_margins
from risk.positions import Portfolio
from risk.rpf_generation import generate_rpf
from risk.synthetic_market import MarketConfig, generate_market

ROOT = Path(__file__).resolve().parents[2]


def test_bench_script_small_run() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_margin.py"), "--cps", "6", "--instruments", "40",
         "--whatif-runs", "5", "--repeat", "1", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    last = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("cps", "instruments", "scenarios", "fast_s", "exact_s", "baseline_s", "whatif_median_ms"):
        assert key in last
    assert (last["cps"], last["instruments"], last["scenarios"]) == (6, 40, 2018)
    assert last["exact_equals_baseline"] and last["fast_within_bound"]


@pytest.mark.slow
def test_full_market_exact_strategies_agree_and_fast_within_bound() -> None:
    hist = generate_market(MarketConfig(n_instruments=2600, seed=11))
    rpf = generate_rpf(hist, flat_rate_instruments=hist.instruments[-100:])
    rng = np.random.default_rng(12)
    prices = hist.closes[-1]
    ports = {}
    for c in range(200):
        cols = rng.choice(2600, size=int(rng.integers(5, 400)), replace=False)
        q = np.round(rng.lognormal(9, 1.2, cols.size)) * rng.choice([-1, 1], cols.size)
        mv = q * prices[cols]
        ports[f"B{c}"] = Portfolio(tuple(hist.instruments[j] for j in cols), q, mv, mv)
    p = params(ipo_instruments=frozenset({"1", "2"}))
    tail = compute_margins(rpf, ports, p, mode="exact")
    full = compute_margins(rpf, ports, p, mode="exact", exact_strategy="full")
    fast = compute_margins(rpf, ports, p, mode="fast")
    for cp in ports:
        assert tail[cp] == full[cp]
        assert abs(fast[cp].portfolio_margin - tail[cp].portfolio_margin) <= fast[cp].detail.portfolio_margin_error_bound
