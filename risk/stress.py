"""Stress testing and cover-2 default-fund sizing.

Stress scenarios are instrument return vectors independent of the RPF field
types: historical worst days of the market plus hypothetical shocks. For each CP
group and scenario the uncollateralised stress loss is ``loss - collateral``; the
default fund covers the two groups with the largest such losses in the worst
scenario (cover 2), and each group contributes pro rata to its own worst
uncollateralised loss. Guarantee-fund risk collateral (reported, not added to
margin) is the fund need beyond a pre-defined limit (HKD 3.65 bn), shared pro rata.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from risk.errors import PositionError, RPFFormatError
from risk.positions import Portfolio
from risk.rpf_generation import holding_period_returns
from risk.synthetic_market import MarketHistory

__all__ = [
    "StressScenarios",
    "build_stress_scenarios",
    "stress_losses",
    "DefaultFundResult",
    "cover2_default_fund",
    "stress_test",
    "read_stress_scenarios",
    "GUARANTEE_FUND_LIMIT",
]

GUARANTEE_FUND_LIMIT = 3.65e9


@dataclass(frozen=True, eq=False)
class StressScenarios:
    """A set of stress scenarios.

    Attributes
    ----------
    instruments : tuple of str
        Row ids of ``returns``.
    names : tuple of str
        Scenario names (``hist:<date>``, ``shock:market-25%`` ...).
    returns : ndarray, shape (n_instruments, n_scenarios)
        Simple returns.
    """

    instruments: tuple[str, ...]
    names: tuple[str, ...]
    returns: NDArray[np.float64]

    def __post_init__(self) -> None:
        if self.returns.shape != (len(self.instruments), len(self.names)):
            raise ValueError("returns must have shape (n_instruments, n_scenarios)")

    def write_csv(self, path: str | Path) -> None:
        """Write as ``InstrumentID,<scenario names>`` CSV."""
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["InstrumentID", *self.names])
            for i, row in zip(self.instruments, self.returns.tolist()):
                w.writerow([i, *map(repr, row)])


def read_stress_scenarios(path: str | Path) -> StressScenarios:
    """
    Read scenarios written by :meth:`StressScenarios.write_csv`.

    Parameters
    ----------
    path : str or Path
        CSV ``InstrumentID,<scenario names>``.

    Returns
    -------
    StressScenarios

    Raises
    ------
    RPFFormatError
        With row and column of a malformed cell.
    """
    src = str(path)
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        r = csv.reader(fh)
        head = next(r, None)
        if not head or head[0].strip() != "InstrumentID" or len(head) < 2:
            raise RPFFormatError("bad header", row=1, column=1, expected="InstrumentID,<scenario>,...", source=src)
        ids: list[str] = []
        rows: list[list[float]] = []
        for cells in r:
            if not cells:
                continue
            if len(cells) != len(head):
                raise RPFFormatError(f"{len(cells)} values", row=r.line_num, column=min(len(cells), len(head)) + 1,
                                     expected=f"{len(head)} values", source=src)
            vals: list[float] = []
            for j, c in enumerate(cells[1:]):
                try:
                    v = float(c)
                except ValueError:
                    v = math.nan
                if not math.isfinite(v):
                    raise RPFFormatError(f"bad return {c!r}", row=r.line_num, column=j + 2,
                                         expected="a finite number", source=src)
                vals.append(v)
            ids.append(cells[0].strip())
            rows.append(vals)
    return StressScenarios(tuple(ids), tuple(h.strip() for h in head[1:]),
                           np.array(rows, dtype=np.float64).reshape(len(ids), len(head) - 1))


def build_stress_scenarios(
    history: MarketHistory,
    count: int = 200,
    holding_period: int = 2,
    market_shocks: Sequence[float] = (-0.35, -0.25, -0.15, 0.15, 0.25),
    hedge_instrument: str = "2800",
) -> StressScenarios:
    """
    Historical-worst plus hypothetical stress scenarios.

    Parameters
    ----------
    history : MarketHistory
        Price history.
    count : int
        Total number of scenarios (``STV_Count``).
    holding_period : int
        Days per historical scenario.
    market_shocks : sequence of float
        Hypothetical market moves; each instrument moves by ``shock * beta`` (beta to
        the hedge instrument, floored at 0.5 so no name escapes the shock).
    hedge_instrument : str
        Instrument defining the market.

    Returns
    -------
    StressScenarios
        ``len(market_shocks)`` hypothetical scenarios, then the worst (largest
        absolute equal-weighted market move) historical h-day windows, non-overlapping.
    """
    rets = history.log_returns()
    hp = holding_period_returns(rets, holding_period)
    market = hp.mean(axis=1)
    n_hist = max(0, count - len(market_shocks))
    order = np.argsort(-np.abs(market))
    chosen: list[int] = []
    for i in order:
        # Skip windows overlapping one already chosen: they are near-duplicates.
        if all(abs(int(i) - j) >= holding_period for j in chosen):
            chosen.append(int(i))
        if len(chosen) == n_hist:
            break
    hist = np.expm1(hp[chosen]).T if chosen else np.zeros((len(history.instruments), 0))
    hcol = rets[:, history.instruments.index(hedge_instrument)]
    var = float(np.var(hcol))
    beta = ((rets - rets.mean(0)).T @ (hcol - hcol.mean())) / (len(hcol) * var) if var > 0 else np.ones(rets.shape[1])
    beta = np.maximum(beta, 0.5)
    hypo = np.outer(beta, np.array(market_shocks, dtype=np.float64))
    names = tuple(f"shock:market{s:+.0%}" for s in market_shocks) + tuple(
        f"hist:{history.dates[i + holding_period]:%Y-%m-%d}" for i in chosen
    )
    return StressScenarios(history.instruments, names, np.hstack([hypo, hist]))


def stress_losses(scenarios: StressScenarios, portfolios: Mapping[str, Portfolio]) -> NDArray[np.float64]:
    """
    Stress loss (positive = loss) of each portfolio in each scenario.

    Parameters
    ----------
    scenarios : StressScenarios
        Scenario returns.
    portfolios : mapping of str to Portfolio
        Positions per CP; every position must have a stress return.

    Returns
    -------
    ndarray, shape (n_portfolios, n_scenarios)
        ``-sum_i MV_i r_is``.
    """
    idx = {k: i for i, k in enumerate(scenarios.instruments)}
    m = np.zeros((len(portfolios), len(scenarios.instruments)))
    for row, (cp, pf) in enumerate(portfolios.items()):
        for inst, mv in zip(pf.instruments, pf.market_value.tolist()):
            j = idx.get(inst)
            if j is None:
                raise PositionError(f"CP {cp}: instrument {inst} has no stress scenario returns")
            m[row, j] += mv
    return np.asarray(-(m @ scenarios.returns), dtype=np.float64)


@dataclass(frozen=True)
class DefaultFundResult:
    """Cover-2 default fund.

    Attributes
    ----------
    fund_size : float
        Sum of the two largest uncollateralised group losses in the worst scenario.
    worst_scenario : str
        Scenario that sets the fund size.
    cover2_groups : tuple of str
        The two groups covered.
    uncollateralised : dict of str to float
        Each group's largest uncollateralised stress loss (>= 0) over scenarios.
    contributions : dict of str to float
        Pro-rata contributions per group (sum = fund size).
    cp_contributions : dict of str to float
        Each group's contribution split among its CPs pro rata to their own worst
        uncollateralised stress loss (equally if all are zero).
    risk_collateral : dict of str to float
        ``max(fund_size - limit, 0)`` shared pro rata to the groups' uncollateralised
        losses (guarantee-fund risk collateral; reported, not added to margin).
    limit : float
        Guarantee-fund limit used.
    """

    fund_size: float
    worst_scenario: str
    cover2_groups: tuple[str, ...]
    uncollateralised: dict[str, float]
    contributions: dict[str, float]
    cp_contributions: dict[str, float]
    risk_collateral: dict[str, float]
    limit: float

    def to_json(self) -> str:
        """JSON text."""
        return json.dumps(asdict(self))


def cover2_default_fund(
    losses: NDArray[np.float64],
    collateral: Sequence[float],
    cps: Sequence[str],
    scenario_names: Sequence[str],
    groups: Mapping[str, str] | None = None,
    limit: float = GUARANTEE_FUND_LIMIT,
) -> DefaultFundResult:
    """
    Size a cover-2 default fund and split it pro rata.

    Parameters
    ----------
    losses : ndarray, shape (n_cps, n_scenarios)
        Stress loss per CP (from :func:`stress_losses`).
    collateral : sequence of float
        Margin collateral per CP (e.g. total requirement).
    cps : sequence of str
        CP ids (rows of ``losses``).
    scenario_names : sequence of str
        Column names.
    groups : mapping of str to str, optional
        CP id -> CP group; CPs of one group default together. Default: each CP alone.
    limit : float
        Guarantee-fund limit for risk collateral.

    Returns
    -------
    DefaultFundResult
    """
    if losses.shape != (len(cps), len(scenario_names)) or len(collateral) != len(cps):
        raise ValueError("losses must be (n_cps, n_scenarios) with one collateral per CP")
    gmap = dict(groups or {})
    names = sorted({gmap.get(c, c) for c in cps})
    gi = {g: i for i, g in enumerate(names)}
    agg = np.zeros((len(names), losses.shape[1]))
    coll = np.zeros(len(names))
    for r, c in enumerate(cps):
        g = gi[gmap.get(c, c)]
        agg[g] += losses[r]
        coll[g] += collateral[r]
    unc = np.maximum(agg - coll[:, None], 0.0)
    if len(names) == 0 or unc.shape[1] == 0:
        return DefaultFundResult(0.0, "", (), {}, {}, {c: 0.0 for c in cps}, {}, limit)
    top = np.sort(unc, axis=0)[::-1][:2].sum(axis=0)
    s = int(np.argmax(top))
    top2 = tuple(names[i] for i in np.argsort(-unc[:, s], kind="stable")[:2])
    worst = unc.max(axis=1)
    fund = float(top[s])
    total = float(worst.sum())
    contrib = {g: (fund * float(worst[i]) / total if total > 0 else 0.0) for g, i in gi.items()}
    own = np.maximum(losses - np.asarray(collateral, dtype=np.float64)[:, None], 0.0).max(axis=1)
    cp_contrib: dict[str, float] = {}
    for grp in names:
        members = [r for r, c in enumerate(cps) if gmap.get(c, c) == grp]
        weights = own[members]
        share = weights / weights.sum() if weights.sum() > 0 else np.full(len(members), 1.0 / len(members))
        for r, w in zip(members, share.tolist()):
            cp_contrib[cps[r]] = contrib[grp] * w
    # Fund need beyond the pre-defined limit is collected as risk collateral, pro rata.
    excess = max(fund - limit, 0.0)
    rc = {g: (excess * float(worst[i]) / total if total > 0 else 0.0) for g, i in gi.items()}
    return DefaultFundResult(
        fund_size=fund,
        worst_scenario=str(scenario_names[s]),
        cover2_groups=top2,
        uncollateralised={g: float(worst[i]) for g, i in gi.items()},
        contributions=contrib,
        cp_contributions=cp_contrib,
        risk_collateral=rc,
        limit=limit,
    )


def stress_test(
    scenarios: StressScenarios,
    portfolios: Mapping[str, Portfolio],
    collateral: Mapping[str, float],
    groups: Mapping[str, str] | None = None,
    limit: float = GUARANTEE_FUND_LIMIT,
) -> DefaultFundResult:
    """
    Stress losses of every CP and the cover-2 default fund in one call.

    Parameters
    ----------
    scenarios : StressScenarios
        Stress scenario returns.
    portfolios : mapping of str to Portfolio
        Positions per CP.
    collateral : mapping of str to float
        Margin collateral per CP (e.g. ``MarginResult.total_requirement``).
    groups : mapping of str to str, optional
        CP id -> CP group.
    limit : float
        Guarantee-fund limit for risk collateral.

    Returns
    -------
    DefaultFundResult
    """
    missing = [cp for cp in portfolios if cp not in collateral]
    if missing:
        raise PositionError(f"no collateral given for CP {missing[0]}")
    cps = list(portfolios)
    losses = stress_losses(scenarios, portfolios)
    return cover2_default_fund(losses, [float(collateral[c]) for c in cps], cps, scenarios.names, groups, limit)
