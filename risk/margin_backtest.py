"""Rolling margin backtest on a price history.

Each day t of the test window: build the day's RPF from closes up to t
(:func:`risk.rpf_generation.generate_rpf`), margin every CP's fixed holdings valued
at the close of t, then compare with the realised P&L of those holdings from t to
t + horizon. The resulting margin and P&L series go through
:func:`risk.backtest.backtest_many` (Kupiec, Christoffersen, traffic light, per CP
and market-wide).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from risk.backtest import BacktestReport, backtest_many
from risk.cp_params import CPParams
from risk.margin import COMPONENT_KEYS, Mode, compute_margins
from risk.positions import Portfolio
from risk.rpf_generation import GenerationConfig, generate_rpf
from risk.synthetic_market import MarketHistory

__all__ = ["run_margin_backtest"]


def run_margin_backtest(
    history: MarketHistory,
    holdings: Mapping[str, Mapping[str, float]],
    params: Mapping[str, CPParams] | CPParams,
    days: int = 250,
    config: GenerationConfig = GenerationConfig(),
    component: str = "portfolio_margin",
    horizon: int = 1,
    mode: Mode = "fast",
    coverage: float = 0.99,
) -> BacktestReport:
    """
    Backtest the margin of fixed holdings over the last ``days`` days of ``history``.

    Parameters
    ----------
    history : MarketHistory
        Closes; must cover the generation lookback plus ``days + horizon`` days.
    holdings : mapping of str to mapping of str to float
        CP id -> instrument -> quantity (kept constant).
    params : mapping of str to CPParams, or CPParams
        CP parameters.
    days : int
        Number of test days (250 for the Basel traffic light).
    config : GenerationConfig
        RPF generation parameters (a fixed ``stressed_start`` keeps the SVaR set stable).
    component : str
        Margin component compared with the loss (``portfolio_margin`` tests the VaR model;
        ``aggregated_margin`` all market-risk components).
    horizon : int
        Days over which the realised P&L is measured.
    mode : {"exact", "fast"}
        Margin computation mode.
    coverage : float
        Confidence level tested.

    Returns
    -------
    BacktestReport
    """
    if component not in COMPONENT_KEYS:
        raise ValueError(f"unknown margin component {component!r}")
    n = len(history.dates)
    first = n - days - horizon
    if first < 2:
        raise ValueError("history too short for the requested test window")
    col = {k: j for j, k in enumerate(history.instruments)}
    for cp, h in holdings.items():
        for inst in h:
            if inst not in col:
                raise ValueError(f"CP {cp}: instrument {inst} has no price history")
    margins: dict[str, list[float]] = {cp: [] for cp in holdings}
    pnls: dict[str, list[float]] = {cp: [] for cp in holdings}
    for t in range(first, first + days):
        day_hist = replace(history, dates=history.dates[: t + 1], closes=history.closes[: t + 1])
        rpf = generate_rpf(day_hist, config)
        ports: dict[str, Portfolio] = {}
        for cp, h in holdings.items():
            ids = tuple(h)
            q = np.array([h[i] for i in ids], dtype=np.float64)
            j = np.array([col[i] for i in ids], dtype=np.intp)
            mv = q * history.closes[t, j]
            ports[cp] = Portfolio(ids, q, mv, mv)
            pnls[cp].append(float(np.sum(q * (history.closes[t + horizon, j] - history.closes[t, j]))))
        res = compute_margins(rpf, ports, params, mode=mode)
        for cp in holdings:
            margins[cp].append(float(getattr(res[cp], component)))
    return backtest_many(margins, pnls, coverage)
