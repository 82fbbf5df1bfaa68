"""Margin backtesting: exceptions, Kupiec POF, Christoffersen independence, Basel traffic light.

Chi-square p-values use closed forms so scipy is not needed at run time:
1 degree of freedom ``P(X > x) = erfc(sqrt(x / 2))``, 2 degrees ``exp(-x / 2)``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "chi2_sf_1",
    "chi2_sf_2",
    "kupiec_pof",
    "christoffersen_independence",
    "traffic_light",
    "exceptions",
    "BacktestResult",
    "BacktestReport",
    "backtest",
    "backtest_many",
]


def chi2_sf_1(x: float) -> float:
    """Survival function of chi-square with 1 degree of freedom."""
    return 1.0 if x <= 0 else math.erfc(math.sqrt(x / 2.0))


def chi2_sf_2(x: float) -> float:
    """Survival function of chi-square with 2 degrees of freedom."""
    return 1.0 if x <= 0 else math.exp(-x / 2.0)


def _xlogy(x: float, y: float) -> float:
    # Convention 0 * log(0) = 0, needed when no (or only) exceptions occur.
    return 0.0 if x == 0 else x * math.log(y)


def kupiec_pof(n_exceptions: int, n_obs: int, coverage: float) -> tuple[float, float]:
    """
    Kupiec proportion-of-failures likelihood-ratio test.

    Parameters
    ----------
    n_exceptions : int
        Observed exceptions x.
    n_obs : int
        Observations T.
    coverage : float
        Confidence level of the margin (0.99); expected exception rate p = 1 - coverage.

    Returns
    -------
    lr : float
        ``-2 ln[(1-p)^(T-x) p^x] + 2 ln[(1-x/T)^(T-x) (x/T)^x]``.
    p_value : float
        Chi-square(1) survival probability.
    """
    if n_obs <= 0 or not 0 <= n_exceptions <= n_obs:
        raise ValueError("need 0 <= exceptions <= observations and observations > 0")
    p = 1.0 - coverage
    x, t = n_exceptions, n_obs
    phat = x / t
    lr = -2.0 * (_xlogy(t - x, 1 - p) + _xlogy(x, p)) + 2.0 * (_xlogy(t - x, 1 - phat) + _xlogy(x, phat))
    lr = max(lr, 0.0)
    return lr, chi2_sf_1(lr)


def christoffersen_independence(hits: ArrayLike) -> tuple[float, float]:
    """
    Christoffersen (1998) independence likelihood-ratio test on a 0/1 exception series.

    Parameters
    ----------
    hits : array_like of bool
        Exception indicator per period, in time order.

    Returns
    -------
    lr : float
        ``-2 ln L(pi) + 2 ln L(pi01, pi11)`` from the transition counts.
    p_value : float
        Chi-square(1) survival probability.
    """
    h = np.asarray(hits, dtype=bool)
    if h.size < 2:
        return 0.0, 1.0
    prev, cur = h[:-1], h[1:]
    n00 = int(np.sum(~prev & ~cur))
    n01 = int(np.sum(~prev & cur))
    n10 = int(np.sum(prev & ~cur))
    n11 = int(np.sum(prev & cur))
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    l0 = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    l1 = _xlogy(n00, 1 - pi01) + _xlogy(n01, pi01) + _xlogy(n10, 1 - pi11) + _xlogy(n11, pi11)
    lr = max(-2.0 * (l0 - l1), 0.0)
    return lr, chi2_sf_1(lr)


def _binom_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def traffic_light(n_exceptions: int, n_obs: int = 250, coverage: float = 0.99) -> str:
    """
    Basel traffic-light zone.

    Parameters
    ----------
    n_exceptions : int
        Exceptions observed.
    n_obs : int
        Observations (250 in the Basel table).
    coverage : float
        Confidence level (0.99).

    Returns
    -------
    str
        ``"green"`` while the binomial probability of at most this many exceptions is
        below 95%, ``"yellow"`` below 99.99%, else ``"red"``. For 250 days at 99%:
        green 0-4, yellow 5-9, red >= 10.
    """
    c = _binom_cdf(n_exceptions, n_obs, 1.0 - coverage)
    if c < 0.95:
        return "green"
    if c < 0.9999:
        return "yellow"
    return "red"


def exceptions(margin: ArrayLike, pnl: ArrayLike) -> NDArray[np.bool_]:
    """
    Exception indicator: the next-period loss exceeds the margin held.

    Parameters
    ----------
    margin : array_like
        Margin held at the start of each period (>= 0).
    pnl : array_like
        Realised P&L of the margined positions over the period (loss negative).

    Returns
    -------
    ndarray of bool
        ``-pnl > margin``.
    """
    m = np.asarray(margin, dtype=np.float64)
    p = np.asarray(pnl, dtype=np.float64)
    if m.shape != p.shape:
        raise ValueError("margin and pnl must have the same shape")
    if not (np.isfinite(m).all() and np.isfinite(p).all()):
        raise ValueError("margin and pnl must be finite")
    return np.asarray(-p > m, dtype=np.bool_)


@dataclass(frozen=True)
class BacktestResult:
    """Backtest of one margin series (a CP, or the market).

    Attributes
    ----------
    name : str
        CP id or ``"market"``.
    observations : int
    exceptions : int
    exception_rate : float
    kupiec_lr, kupiec_p : float
    christoffersen_lr, christoffersen_p : float
    conditional_coverage_lr, conditional_coverage_p : float
        Kupiec + Christoffersen, chi-square(2).
    zone : str
        Traffic-light zone.
    """

    name: str
    observations: int
    exceptions: int
    exception_rate: float
    kupiec_lr: float
    kupiec_p: float
    christoffersen_lr: float
    christoffersen_p: float
    conditional_coverage_lr: float
    conditional_coverage_p: float
    zone: str


def backtest(name: str, margin: ArrayLike, pnl: ArrayLike, coverage: float = 0.99) -> BacktestResult:
    """
    Backtest one margin series.

    Parameters
    ----------
    name : str
        Label.
    margin, pnl : array_like
        See :func:`exceptions`.
    coverage : float
        Confidence level tested.

    Returns
    -------
    BacktestResult
    """
    hits = exceptions(margin, pnl)
    t, x = int(hits.size), int(hits.sum())
    klr, kp = kupiec_pof(x, t, coverage)
    clr, cp = christoffersen_independence(hits)
    return BacktestResult(name, t, x, x / t, klr, kp, clr, cp, klr + clr, chi2_sf_2(klr + clr),
                          traffic_light(x, t, coverage))


@dataclass(frozen=True)
class BacktestReport:
    """Per-CP and market-wide backtests.

    Attributes
    ----------
    per_cp : tuple of BacktestResult
    market : BacktestResult
        Exceptions of the summed margin against the summed P&L.
    """

    per_cp: tuple[BacktestResult, ...]
    market: BacktestResult

    def to_json(self) -> str:
        """JSON text with ``per_cp`` and ``market``."""
        return json.dumps({"per_cp": [asdict(r) for r in self.per_cp], "market": asdict(self.market)})

    def to_csv(self) -> str:
        """CSV text, one row per CP then the market row."""
        buf = io.StringIO()
        names = [f.name for f in fields(BacktestResult)]
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(names)
        for r in (*self.per_cp, self.market):
            w.writerow([getattr(r, n) for n in names])
        return buf.getvalue()


def backtest_many(
    margins: Mapping[str, ArrayLike], pnls: Mapping[str, ArrayLike], coverage: float = 0.99
) -> BacktestReport:
    """
    Backtest every CP and the market as a whole.

    Parameters
    ----------
    margins, pnls : mapping of str to sequence
        Aligned daily series per CP.
    coverage : float
        Confidence level tested.

    Returns
    -------
    BacktestReport
    """
    if set(margins) != set(pnls):
        raise ValueError("margins and pnls must name the same CPs")
    per = tuple(backtest(cp, margins[cp], pnls[cp], coverage) for cp in margins)
    tot_m = np.sum([np.asarray(margins[c], dtype=np.float64) for c in margins], axis=0)
    tot_p = np.sum([np.asarray(pnls[c], dtype=np.float64) for c in margins], axis=0)
    return BacktestReport(per, backtest("market", tot_m, tot_p, coverage))
