"""What-if simulator: current positions plus hypothetical trades -> new requirement.

The simulator caches each sub-portfolio's scenario P&L vector. A trade in
instrument i changes the exact P&L by ``round(mv_new r_i) - round(mv_old r_i)``
per scenario (integers, so the update is exact), which costs O(scenarios) instead
of recomputing the portfolio. Components without scenarios are recomputed from the
(small) combined portfolio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from risk.cp_params import CPParams
from risk.margin import (
    COMPONENT_KEYS,
    MarginResult,
    Mode,
    _Classified,
    _classify,
    _finish,
    _subportfolio_rows,
    es_from_pnl,
)
from risk.positions import Portfolio, Position
from risk.rounding import round_half_away_array
from risk.rpf import RiskParameterFile
from risk.scenario_pnl import SubPortfolioBook, fast_error_bound, pnl_exact, pnl_fast

__all__ = ["WhatIfResult", "WhatIfSimulator"]


@dataclass(frozen=True)
class WhatIfResult:
    """Requirement before and after hypothetical trades.

    Attributes
    ----------
    base : MarginResult
        Current positions.
    new : MarginResult
        Positions plus trades.
    change : dict of str to int
        ``new - base`` per component.
    """

    base: MarginResult
    new: MarginResult
    change: dict[str, int]


class WhatIfSimulator:
    """
    Incremental margin of one participant under hypothetical trades.

    Parameters
    ----------
    rpf : RiskParameterFile
        Parameter file of the day.
    portfolio : Portfolio
        Current positions.
    params : CPParams
        CP parameters.
    mode : {"exact", "fast"}
        P&L mode (exact reproduces :func:`risk.margin.compute_margin` to the dollar).
    cp : str
        CP id for error messages.
    """

    def __init__(
        self, rpf: RiskParameterFile, portfolio: Portfolio, params: CPParams, mode: Mode = "exact", cp: str = ""
    ) -> None:
        self.rpf = rpf
        self.params = params
        self.mode = mode
        self.cp = cp
        self._returns = rpf.scenario_returns
        self._absmax = rpf.scenario_absmax
        self._set_base(portfolio)

    def _set_base(self, portfolio: Portfolio) -> None:
        self.portfolio = portfolio
        c = _classify(self.rpf, portfolio, self.params, self.cp)
        subs = _subportfolio_rows(c)
        book = SubPortfolioBook.from_rows([(s[1], s[2]) for s in subs])
        pnl = pnl_exact(self._returns, book) if self.mode == "exact" else pnl_fast(self._returns, book)
        self._rows: dict[str, NDArray[np.float64]] = {s[0]: pnl[i] for i, s in enumerate(subs)}
        self._var_mv = {inst: float(mv) for inst, mv in zip(self._var_ids(), c.var_mv.tolist())}
        self.base = self._result(c, self._rows)

    def _var_ids(self) -> list[str]:
        # _classify keeps VaR positions in portfolio order.
        return [i for i in self.portfolio.instruments if i in self.rpf.var_index]

    def _result(self, c: _Classified, rows: dict[str, NDArray[np.float64]]) -> MarginResult:
        names = tuple(sorted(set(c.var_sub)))
        n_s = self._returns.shape[1]
        pnl = np.array([rows.get(n, np.zeros(n_s)) for n in names]).reshape(len(names), n_s)
        if self.mode == "fast":
            subs = _subportfolio_rows(c)
            bound = fast_error_bound(self._absmax, SubPortfolioBook.from_rows([(s[1], s[2]) for s in subs]))
        else:
            bound = np.zeros(len(names))
        es_h, es_s = es_from_pnl(self.rpf, pnl)
        return _finish(self.rpf, self.params, c, names, es_h, es_s, bound, self.mode)

    def _sub_of(self, inst: str) -> str:
        ipo = self.params.ipo_instruments
        if inst in ipo:
            return inst
        sp = self.rpf.structured_products.get(inst)
        if sp is not None and sp.underlying in ipo:
            return sp.underlying
        return ""

    def evaluate(self, trades: Sequence[Position]) -> WhatIfResult:
        """
        Requirement after adding ``trades`` to the current positions.

        Parameters
        ----------
        trades : sequence of Position
            Hypothetical trades (quantity, contract value and market value are added).

        Returns
        -------
        WhatIfResult
        """
        new_pf = self.portfolio.combined(trades)
        c = _classify(self.rpf, new_pf, self.params, self.cp)
        new = self._result(c, self._rows_after(new_pf, trades))
        change = {k: int(getattr(new, k)) - int(getattr(self.base, k)) for k in COMPONENT_KEYS}
        return WhatIfResult(self.base, new, change)

    def scenario_pnl(self, trades: Sequence[Position] = ()) -> NDArray[np.float64]:
        """
        Portfolio P&L per scenario (HVaR columns, then SVaR) of the current positions plus ``trades``.

        Parameters
        ----------
        trades : sequence of Position
            Hypothetical trades; empty = the current positions.

        Returns
        -------
        ndarray, shape (n_hvar + n_svar,)
            The sum over sub-portfolios of the P&L rows :meth:`evaluate` takes its ES from (exact mode:
            integer HKD). With IPO sub-portfolios the method's ES is per sub-portfolio, not of this sum.
        """
        rows = self._rows_after(self.portfolio.combined(trades), trades) if trades else self._rows
        out = np.zeros(self._returns.shape[1])
        for r in rows.values():
            out += r
        return out

    def _rows_after(self, new_pf: Portfolio, trades: Sequence[Position]) -> dict[str, NDArray[np.float64]]:
        new_mv = {i: float(m) for i, m in zip(new_pf.instruments, new_pf.market_value.tolist())}
        rows = dict(self._rows)
        vi = self.rpf.var_index
        n_s = self._returns.shape[1]
        for inst in {t.instrument for t in trades}:
            if inst not in vi:
                continue
            r = self._returns[vi[inst]]
            old_v, new_v = self._var_mv.get(inst, 0.0), new_mv[inst]
            if self.mode == "exact":
                delta = round_half_away_array(new_v * r) - round_half_away_array(old_v * r)
            else:
                delta = (new_v - old_v) * r
            sub = self._sub_of(inst)
            rows[sub] = rows.get(sub, np.zeros(n_s)) + delta
        return rows

    def apply(self, trades: Sequence[Position]) -> MarginResult:
        """
        Make ``trades`` part of the current positions (full recomputation) and return the new base.

        Parameters
        ----------
        trades : sequence of Position
            Trades to book.

        Returns
        -------
        MarginResult
        """
        self._set_base(self.portfolio.combined(trades))
        return self.base
