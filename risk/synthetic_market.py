"""Seeded synthetic equity market so the daily risk cycle runs with no outside data.

Daily log returns follow a factor model::

    r_it = beta_i' f_t + e_it

Factor and idiosyncratic shocks are Student-t (fat tails, unit variance) scaled by
GARCH(1,1) volatilities (volatility clustering). A crash window multiplies
volatilities and adds a negative drift to the factors, giving the stressed period
that stressed VaR and stress tests look for. Instrument 0 is the hedging
instrument (Tracker Fund, ``2800``): unit loading on the market factor, little
idiosyncratic noise.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from risk.errors import RPFFormatError

__all__ = ["MarketConfig", "MarketHistory", "generate_market", "write_prices", "read_prices", "business_days"]


@dataclass(frozen=True)
class MarketConfig:
    """Parameters of the synthetic market.

    Attributes
    ----------
    n_instruments : int
        Instruments including the hedging instrument.
    n_days : int
        Trading days of history (closes = n_days + 1).
    n_factors : int
        Factors; factor 0 is the market.
    df : float
        Student-t degrees of freedom of all shocks (> 2).
    garch_alpha, garch_beta : float
        GARCH(1,1) reaction and persistence (alpha + beta < 1).
    market_vol, idio_vol : float
        Unconditional daily volatilities of the market factor and of idiosyncratic noise.
    crash_start, crash_length : int
        Crash window in days (``crash_start < 0`` = no crash).
    crash_vol_multiplier : float
        Volatility multiplier during the crash.
    crash_drift : float
        Daily drift of the market factor during the crash.
    hedge_instrument : str
        Id of instrument 0.
    end_date : date
        Date of the last close.
    seed : int
        Seed of ``numpy.random.default_rng``.
    """

    n_instruments: int = 50
    n_days: int = 2300
    n_factors: int = 3
    df: float = 4.0
    garch_alpha: float = 0.08
    garch_beta: float = 0.90
    market_vol: float = 0.012
    idio_vol: float = 0.015
    crash_start: int = 600
    crash_length: int = 60
    crash_vol_multiplier: float = 3.0
    crash_drift: float = -0.006
    hedge_instrument: str = "2800"
    end_date: date = date(2026, 11, 20)
    seed: int = 20261121


@dataclass(frozen=True, eq=False)
class MarketHistory:
    """Daily closes and liquidity of a set of instruments.

    Attributes
    ----------
    instruments : tuple of str
        Instrument ids (columns).
    dates : tuple of date
        Close dates, ascending.
    closes : ndarray, shape (n_dates, n_instruments)
        Closing prices in HKD.
    adv : ndarray, shape (n_instruments,)
        Average daily traded value in HKD (for liquidation parameters).
    """

    instruments: tuple[str, ...]
    dates: tuple[date, ...]
    closes: NDArray[np.float64]
    adv: NDArray[np.float64]

    def log_returns(self) -> NDArray[np.float64]:
        """Daily log returns, shape (n_dates - 1, n_instruments)."""
        return np.asarray(np.diff(np.log(self.closes), axis=0), dtype=np.float64)


def business_days(end: date, n: int) -> tuple[date, ...]:
    """
    The ``n`` weekdays ending at ``end`` (inclusive, ascending).

    Parameters
    ----------
    end : date
        Last day (moved back to Friday if on a weekend).
    n : int
        Number of days.

    Returns
    -------
    tuple of date
    """
    out: list[date] = []
    d = end
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d -= timedelta(days=1)
    return tuple(reversed(out))


def _t_shocks(rng: np.random.Generator, df: float, size: tuple[int, ...]) -> NDArray[np.float64]:
    # Student-t scaled to unit variance so GARCH volatilities keep their meaning.
    return np.asarray(rng.standard_t(df, size=size) * math.sqrt((df - 2.0) / df), dtype=np.float64)


def generate_market(config: MarketConfig = MarketConfig()) -> MarketHistory:
    """
    Generate a synthetic market history.

    Parameters
    ----------
    config : MarketConfig
        Parameters; the result is a deterministic function of it.

    Returns
    -------
    MarketHistory
    """
    c = config
    if c.df <= 2:
        raise ValueError("df must exceed 2")
    if c.garch_alpha + c.garch_beta >= 1:
        raise ValueError("GARCH alpha + beta must be < 1")
    rng = np.random.default_rng(c.seed)
    n, t, k = c.n_instruments, c.n_days, c.n_factors
    loadings = np.empty((n, k))
    loadings[:, 0] = rng.uniform(0.5, 1.5, n)
    loadings[:, 1:] = rng.normal(0.0, 0.5, (n, k - 1))
    loadings[0, :] = 0.0
    loadings[0, 0] = 1.0
    factor_vol = np.full(k, c.market_vol)
    factor_vol[1:] *= 0.6
    idio_vol = c.idio_vol * rng.uniform(0.5, 2.0, n)
    idio_vol[0] = c.idio_vol * 0.05
    zf = _t_shocks(rng, c.df, (t, k))
    ze = _t_shocks(rng, c.df, (t, n))
    omega_f = factor_vol**2 * (1 - c.garch_alpha - c.garch_beta)
    omega_e = idio_vol**2 * (1 - c.garch_alpha - c.garch_beta)
    hf = factor_vol**2
    he = idio_vol**2
    rets = np.empty((t, n))
    crash = np.zeros(t, dtype=bool)
    if c.crash_start >= 0:
        crash[c.crash_start : c.crash_start + c.crash_length] = True
    drift = np.zeros(k)
    for day in range(t):
        mult = c.crash_vol_multiplier if crash[day] else 1.0
        drift[0] = c.crash_drift if crash[day] else 0.0
        ef = np.sqrt(hf) * mult * zf[day]
        ee = np.sqrt(he) * mult * ze[day]
        rets[day] = loadings @ (ef + drift) + ee
        # GARCH(1,1) on the unscaled shocks: clustering without the crash feeding back forever.
        hf = omega_f + c.garch_alpha * (ef / mult) ** 2 + c.garch_beta * hf
        he = omega_e + c.garch_alpha * (ee / mult) ** 2 + c.garch_beta * he
    start_price = np.exp(rng.uniform(math.log(2.0), math.log(500.0), n))
    start_price[0] = 25.0
    closes = np.empty((t + 1, n))
    closes[0] = start_price
    closes[1:] = start_price * np.exp(np.cumsum(rets, axis=0))
    # Round to cents like exchange prices; keep strictly positive.
    closes = np.maximum(np.round(closes, 3), 0.001)
    adv = np.exp(rng.normal(math.log(5e7), 1.5, n))
    adv[0] = 3e9
    ids = (c.hedge_instrument,) + tuple(str(i) for i in range(1, n))
    if c.hedge_instrument in ids[1:]:
        ids = (c.hedge_instrument,) + tuple(str(10000 + i) for i in range(1, n))
    return MarketHistory(ids, business_days(c.end_date, t + 1), closes, adv)


def write_prices(history: MarketHistory, path: str | Path) -> None:
    """
    Write closes as CSV: ``Date,<id1>,<id2>,...`` then one row per day (DD/MM/YYYY).

    A final row ``ADV,...`` carries the average daily traded value.

    Parameters
    ----------
    history : MarketHistory
        Data to write.
    path : str or Path
        Destination.
    """
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Date", *history.instruments])
        for d, row in zip(history.dates, history.closes.tolist()):
            w.writerow([d.strftime("%d/%m/%Y"), *map(repr, row)])
        w.writerow(["ADV", *map(repr, history.adv.tolist())])


def read_prices(path: str | Path) -> MarketHistory:
    """
    Read closes written by :func:`write_prices` (the ``ADV`` row is optional; default 0).

    Parameters
    ----------
    path : str or Path
        CSV file.

    Returns
    -------
    MarketHistory

    Raises
    ------
    RPFFormatError
        With row and column of a bad date or price.
    """
    src = str(path)
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        r = csv.reader(fh)
        head = next(r, None)
        if not head or head[0].strip() != "Date" or len(head) < 2:
            raise RPFFormatError("bad header", row=1, column=1, expected="Date,<instrument>,...", source=src)
        ids = tuple(h.strip() for h in head[1:])
        dates: list[date] = []
        rows: list[list[float]] = []
        adv = np.zeros(len(ids))
        for cells in r:
            line = r.line_num
            if not cells:
                continue
            if len(cells) != len(head):
                raise RPFFormatError(f"{len(cells)} values", row=line, column=min(len(cells), len(head)) + 1,
                                     expected=f"{len(head)} values", source=src)
            vals: list[float] = []
            for j, cell in enumerate(cells[1:]):
                try:
                    v = float(cell)
                except ValueError:
                    v = math.nan
                if not math.isfinite(v) or v < 0 or (v == 0 and cells[0] != "ADV"):
                    raise RPFFormatError(f"bad value {cell!r}", row=line, column=j + 2,
                                         expected="a positive finite number", source=src)
                vals.append(v)
            if cells[0] == "ADV":
                adv = np.array(vals)
                continue
            try:
                dates.append(datetime.strptime(cells[0].strip(), "%d/%m/%Y").date())
            except ValueError:
                raise RPFFormatError(f"bad date {cells[0]!r}", row=line, column=1, expected="DD/MM/YYYY",
                                     source=src) from None
            rows.append(vals)
    if len(rows) < 2:
        raise RPFFormatError("fewer than two days of closes", source=src, expected="at least two rows")
    return MarketHistory(ids, tuple(dates), np.array(rows), adv)
