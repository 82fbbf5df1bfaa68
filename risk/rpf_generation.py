"""Generate an RPF01 parameter file from price history (filtered historical simulation).

HKSCC does not publish its EWMA decay, lookback or holding period, so they are
parameters here (:class:`GenerationConfig`), with these documented defaults:

* ``decay = 0.94`` — the RiskMetrics daily decay, the common public choice.
* ``holding_period = 2`` days — EMIR's minimum for cash equities.
* HVaR scenarios: the last ``HVaR_Scen_Count`` overlapping h-day windows of
  EWMA-filtered returns, rescaled to today's EWMA volatility (FHS).
* SVaR scenarios: ``SVaR_Scen_Count`` overlapping h-day windows of *unfiltered*
  returns from the stressed window (user-chosen start, or the window with the
  highest realised volatility of the equal-weighted market).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from risk.rpf import CorporateActionParams, LiquidityParams, RiskParameterFile, RPFHeader, SPAddonParams
from risk.rpf import StructuredProductParams
from risk.synthetic_market import MarketHistory

__all__ = [
    "GenerationConfig",
    "ewma_volatility",
    "fhs_scenarios",
    "holding_period_returns",
    "find_stressed_window",
    "flat_rate_for",
    "liquidity_params",
    "generate_rpf",
    "DEFAULT_FLAT_RATE_GROUPS",
    "DEFAULT_LIQUIDITY_BUCKETS",
]

DEFAULT_FLAT_RATE_GROUPS = (0.12, 0.30, 0.55)
# (minimum ADV in HKD, bucket rate): more liquid names get a lower add-on rate. Illustrative.
DEFAULT_LIQUIDITY_BUCKETS = ((1e9, 0.02), (1e8, 0.05), (1e7, 0.10), (0.0, 0.20))


@dataclass(frozen=True)
class GenerationConfig:
    """Parameters of RPF generation.

    Attributes
    ----------
    decay : float
        EWMA decay lambda of the variance filter (0.94).
    holding_period : int
        Days per scenario (2).
    hvar_count, svar_count : int
        Scenario counts (1000, 1018).
    hvar_cl, svar_cl : float
        Confidence levels written to the header (0.994, 0.98).
    hvar_weight, svar_weight : float
        Header weights (0.75, 0.25).
    rounding : int
        Header ``Rounding`` (10000).
    stressed_start : int or None
        Index of the first return of the stressed window; None = search for the worst.
    flat_rate_cl : float
        Quantile of |h-day return| behind the flat rate of Tier N instruments (0.99).
    flat_rate_groups : tuple of float
        Flat rates are snapped up to one of these groups.
    liquidity_participation : float
        Threshold = participation * ADV (0.2): beyond it, liquidation moves the price.
    holiday_factor : float
        Header ``Holiday_Factor`` (see :mod:`risk.holiday`).
    stv_count : int
        Header ``STV_Count``.
    """

    decay: float = 0.94
    holding_period: int = 2
    hvar_count: int = 1000
    svar_count: int = 1018
    hvar_cl: float = 0.994
    svar_cl: float = 0.98
    hvar_weight: float = 0.75
    svar_weight: float = 0.25
    rounding: int = 10000
    stressed_start: int | None = None
    flat_rate_cl: float = 0.99
    flat_rate_groups: tuple[float, ...] = DEFAULT_FLAT_RATE_GROUPS
    liquidity_participation: float = 0.2
    holiday_factor: float = 0.0
    stv_count: int = 200


def ewma_volatility(returns: NDArray[np.float64], decay: float, seed_window: int = 20) -> NDArray[np.float64]:
    """
    EWMA volatility forecasts ``sigma_t`` for each day, from information before ``t``.

    Parameters
    ----------
    returns : ndarray, shape (T, n)
        Daily log returns.
    decay : float
        Lambda in ``s2_t = lambda s2_{t-1} + (1 - lambda) r_{t-1}^2``.
    seed_window : int
        Days used for the starting variance.

    Returns
    -------
    ndarray, shape (T + 1, n)
        Row t is the forecast for day t; the last row is the forecast for tomorrow.
    """
    if not 0.0 < decay < 1.0:
        raise ValueError(f"decay must be in (0, 1), got {decay}")
    t, n = returns.shape
    s2 = np.empty((t + 1, n))
    init = np.mean(returns[: max(1, min(seed_window, t))] ** 2, axis=0)
    s2[0] = np.where(init > 0, init, 1e-8)
    r2 = returns**2
    # Sequential recursion over days, vectorised over instruments.
    for i in range(t):
        s2[i + 1] = decay * s2[i] + (1.0 - decay) * r2[i]
    return np.asarray(np.sqrt(np.maximum(s2, 1e-16)), dtype=np.float64)


def holding_period_returns(returns: NDArray[np.float64], h: int) -> NDArray[np.float64]:
    """
    Overlapping h-day sums of daily log returns.

    Parameters
    ----------
    returns : ndarray, shape (T, n)
        Daily log returns.
    h : int
        Holding period.

    Returns
    -------
    ndarray, shape (T - h + 1, n)
    """
    c = np.concatenate([np.zeros((1, returns.shape[1])), np.cumsum(returns, axis=0)])
    return np.asarray(c[h:] - c[:-h], dtype=np.float64)


def fhs_scenarios(returns: NDArray[np.float64], decay: float, h: int, count: int) -> NDArray[np.float64]:
    """
    Filtered-historical-simulation h-day simple returns, most recent ``count`` windows.

    Parameters
    ----------
    returns : ndarray, shape (T, n)
        Daily log returns.
    decay : float
        EWMA decay.
    h : int
        Holding period.
    count : int
        Number of scenarios.

    Returns
    -------
    ndarray, shape (n, count)
        ``exp(sum of rescaled log returns) - 1``; rescaled = ``r_t / sigma_t * sigma_{T+1}``.
    """
    need = count + h - 1
    if returns.shape[0] < need + 1:
        raise ValueError(f"need at least {need + 1} daily returns for {count} scenarios of {h} days")
    sig = ewma_volatility(returns, decay)
    filtered = returns / sig[:-1] * sig[-1]
    hp = holding_period_returns(filtered[-need:], h)
    return np.asarray(np.expm1(hp).T, dtype=np.float64)


def find_stressed_window(returns: NDArray[np.float64], length: int) -> int:
    """
    Start of the ``length``-day window with the highest realised variance of the equal-weighted market.

    Parameters
    ----------
    returns : ndarray, shape (T, n)
        Daily log returns.
    length : int
        Window length in days.

    Returns
    -------
    int
        Index of the first return of the window.
    """
    t = returns.shape[0]
    if t < length:
        raise ValueError(f"history of {t} days is shorter than the stressed window ({length})")
    m2 = returns.mean(axis=1) ** 2
    c = np.concatenate([[0.0], np.cumsum(m2)])
    return int(np.argmax(c[length:] - c[:-length]))


def flat_rate_for(returns: NDArray[np.float64], h: int, cl: float, groups: Sequence[float]) -> float:
    """
    Flat rate: the ``cl`` quantile of |h-day simple return|, snapped up to a rate group.

    Parameters
    ----------
    returns : ndarray, shape (T,)
        Daily log returns of one instrument.
    h : int
        Holding period.
    cl : float
        Quantile.
    groups : sequence of float
        Allowed rates; the largest is used when the quantile exceeds all.

    Returns
    -------
    float
    """
    hp = holding_period_returns(returns[:, None], h)[:, 0]
    q = float(np.quantile(np.abs(np.expm1(hp)), cl))
    for g in sorted(groups):
        if q <= g:
            return float(g)
    return float(max(groups))


def liquidity_params(
    adv: float,
    price: float,
    beta: float,
    participation: float,
    buckets: Sequence[tuple[float, float]] = DEFAULT_LIQUIDITY_BUCKETS,
) -> LiquidityParams:
    """
    FieldType 4 row from average daily traded value.

    Parameters
    ----------
    adv : float
        Average daily traded value, HKD.
    price : float
        Last close (cash delta per unit).
    beta : float
        Beta to the hedging instrument.
    participation : float
        Threshold = participation * ADV.
    buckets : sequence of (min_adv, rate)
        Rate of the first bucket whose minimum ADV is <= ``adv`` (sorted descending).

    Returns
    -------
    LiquidityParams
    """
    rate = next((r for lo, r in sorted(buckets, reverse=True) if adv >= lo), buckets[-1][1])
    return LiquidityParams(float(rate), float(beta), float(participation * adv), float(price))


def generate_rpf(
    history: MarketHistory,
    config: GenerationConfig = GenerationConfig(),
    flat_rate_instruments: Sequence[str] = (),
    hedge_instrument: str = "2800",
    structured_products: Mapping[str, StructuredProductParams] | None = None,
    sp_addon: Mapping[str, SPAddonParams] | None = None,
    corporate_actions: Mapping[str, CorporateActionParams] | None = None,
) -> RiskParameterFile:
    """
    Build a complete RPF01 from price history.

    Parameters
    ----------
    history : MarketHistory
        Daily closes (and ADV) per instrument; the last date is the valuation date.
    config : GenerationConfig
        Method parameters.
    flat_rate_instruments : sequence of str
        Instruments margined at a flat rate (FieldType 3) instead of scenarios.
    hedge_instrument : str
        Instrument whose returns define betas (must be in ``history``).
    structured_products, sp_addon, corporate_actions : mapping, optional
        FieldType 5 / 6 / 7 rows passed through.

    Returns
    -------
    RiskParameterFile
    """
    rets = history.log_returns()
    h = config.holding_period
    ids = history.instruments
    flat_set = set(flat_rate_instruments)
    unknown = flat_set - set(ids)
    if unknown:
        raise ValueError(f"flat-rate instrument {sorted(unknown)[0]} not in the price history")
    var_cols = [j for j, i in enumerate(ids) if i not in flat_set]
    hv = fhs_scenarios(rets[:, var_cols], config.decay, h, config.hvar_count)
    s_len = config.svar_count + h - 1
    start = config.stressed_start if config.stressed_start is not None else find_stressed_window(rets, s_len)
    if not 0 <= start <= rets.shape[0] - s_len:
        raise ValueError(f"stressed window start {start} outside the history")
    sv = np.expm1(holding_period_returns(rets[start : start + s_len][:, var_cols], h)).T
    flat = {
        ids[j]: flat_rate_for(rets[:, j], h, config.flat_rate_cl, config.flat_rate_groups)
        for j in range(len(ids))
        if ids[j] in flat_set
    }
    if hedge_instrument not in ids:
        raise ValueError(f"hedge instrument {hedge_instrument} not in the price history")
    look = rets[-config.hvar_count :]
    hcol = look[:, ids.index(hedge_instrument)]
    hvar = float(np.var(hcol))
    betas = ((look - look.mean(axis=0)).T @ (hcol - hcol.mean())) / (len(hcol) * hvar) if hvar > 0 else np.ones(len(ids))
    liq = {
        ids[j]: liquidity_params(float(history.adv[j]), float(history.closes[-1, j]), float(betas[j]),
                                 config.liquidity_participation)
        for j in range(len(ids))
    }
    header = RPFHeader(
        valuation_date=history.dates[-1],
        hvar_weight=config.hvar_weight,
        svar_weight=config.svar_weight,
        hvar_scen_count=config.hvar_count,
        svar_scen_count=config.svar_count,
        stv_count=config.stv_count,
        hvar_cl=config.hvar_cl,
        svar_cl=config.svar_cl,
        rounding=config.rounding,
        holiday_factor=config.holiday_factor,
    )
    return RiskParameterFile(
        header,
        tuple(ids[j] for j in var_cols),
        np.ascontiguousarray(hv),
        np.ascontiguousarray(sv),
        flat,
        liq,
        dict(structured_products or {}),
        dict(sp_addon or {}),
        dict(corporate_actions or {}),
    )
