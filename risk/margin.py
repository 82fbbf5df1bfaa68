"""Total MTM and margin requirement of the HKSCC VaR Platform method.

Entry points: :func:`compute_margin` for one participant, :func:`compute_margins`
for many at once (one batched P&L computation). Every component is a small pure
function of arrays so it can be tested by hand. Amounts are integers in HKD.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from risk.cp_params import CPParams
from risk.errors import PositionError
from risk.expected_shortfall import tail_count, worst_k_mean
from risk.positions import Portfolio
from risk.rounding import round_half_away, round_half_away_array, round_up_to
from risk.rpf import RiskParameterFile
from risk.scenario_pnl import SubPortfolioBook, exact_tail_means, fast_error_bound, pnl_exact, pnl_fast

__all__ = [
    "Mode",
    "MarginResult",
    "MarginDetail",
    "COMPONENT_KEYS",
    "compute_margin",
    "compute_margins",
    "tail_counts",
    "es_from_pnl",
    "portfolio_margin",
    "flat_rate_margin",
    "liquidation_risk_addon",
    "structured_product_addon",
    "corporate_action_margin",
    "holiday_addon",
    "mark_to_market",
    "position_limit_addon",
    "CA_PREFIXES",
    "MAIN_SUBPORTFOLIO",
]

Mode = Literal["exact", "fast"]

# Entitlement id prefix -> FieldType 7 type code.
CA_PREFIXES = {"DSP": 1, "SRI": 2, "DIV": 3}
MAIN_SUBPORTFOLIO = ""

# The tail sizes depend only on the header; Decimal arithmetic is worth caching.
_tail_count = functools.lru_cache(maxsize=64)(tail_count)

COMPONENT_KEYS = (
    "portfolio_margin",
    "flat_rate_margin",
    "liquidation_risk_addon",
    "structured_product_addon",
    "corporate_action_margin",
    "holiday_addon",
    "aggregated_margin",
    "rounded_margin",
    "favourable_mtm",
    "mtm_requirement",
    "net_margin",
    "net_margin_after_credit",
    "position_limit_addon",
    "credit_risk_addon",
    "adhoc_addon",
    "total_requirement",
)


# --------------------------------------------------------------------------- components


def portfolio_margin(
    hvar_es: NDArray[np.float64],
    svar_es: NDArray[np.float64],
    hvar_weight: float,
    svar_weight: float,
    long_mv: float,
    short_mv: float,
    floor_rate: float,
) -> tuple[int, float, float]:
    """
    Portfolio margin from sub-portfolio expected shortfalls.

    Parameters
    ----------
    hvar_es, svar_es : ndarray, shape (n_subportfolios,)
        Signed ES (mean of the worst k P&Ls) of each sub-portfolio.
    hvar_weight, svar_weight : float
        ``HVaR_WGT`` and ``SVaR_WGT``.
    long_mv, short_mv : float
        Gross long and gross short (absolute) market value of FieldType 1/2 positions.
    floor_rate : float
        Portfolio-margin floor rate.

    Returns
    -------
    margin : int
        ``round(max(|sum_j (w_H ES_H_j + w_S ES_S_j)|, floor))``.
    var_charge : float
        The unrounded ``|sum ...|``.
    floor : float
        ``max(long_mv, short_mv) * floor_rate``.
    """
    var_charge = abs(float(np.sum(hvar_weight * hvar_es + svar_weight * svar_es)))
    floor = max(long_mv, short_mv) * floor_rate
    return round_half_away(max(var_charge, floor)), var_charge, floor


def flat_rate_margin(market_values: NDArray[np.float64], rates: NDArray[np.float64], multiplier: float) -> int:
    """
    Flat-rate margin of FieldType 3 instruments.

    Parameters
    ----------
    market_values : ndarray
        Signed market values.
    rates : ndarray
        Flat rate of each position; positions with the same rate form a sub-group.
    multiplier : float
        CP flat-rate multiplier.

    Returns
    -------
    int
        ``round(multiplier * sum_g max(long_g, |short_g|) * rate_g)``.
    """
    total = 0.0
    for rate in np.unique(rates):
        mv = market_values[rates == rate]
        long_ = float(mv[mv > 0].sum())
        short = float(-mv[mv < 0].sum())
        total += max(long_, short) * float(rate)
    return round_half_away(total * multiplier)


def liquidation_risk_addon(
    group_mv: NDArray[np.float64],
    bucket_rate: NDArray[np.float64],
    beta: NDArray[np.float64],
    threshold: NDArray[np.float64],
    hedge_rate: float,
    hedge_threshold: float,
) -> tuple[int, int]:
    """
    Liquidation-risk add-on, instrument level and portfolio level.

    Parameters
    ----------
    group_mv : ndarray, shape (n_groups,)
        Delta-equivalent market value per underlying group (sum of quantity x cash delta).
    bucket_rate, beta, threshold : ndarray, shape (n_groups,)
        FieldType 4 parameters of each group.
    hedge_rate, hedge_threshold : float
        FieldType 4 bucket rate and threshold of the hedging instrument (2800).

    Returns
    -------
    instrument_level : int
        ``round(sum_g max(|MV_g| - threshold_g, 0) * rate_g)``.
    portfolio_level : int
        ``round(max(|sum_g MV_g beta_g| - threshold_h, 0) * rate_h)``.
    """
    if group_mv.size == 0:
        return 0, 0
    inst = float(np.sum(np.maximum(np.abs(group_mv) - threshold, 0.0) * bucket_rate))
    hedged = float(np.sum(group_mv * beta))
    port = max(abs(hedged) - hedge_threshold, 0.0) * hedge_rate
    return round_half_away(inst), round_half_away(port)


def structured_product_addon(quantity: NDArray[np.float64], tick_tenth: NDArray[np.float64], min_tick: float) -> int:
    """
    Structured-product add-on on long FieldType 6 positions.

    Parameters
    ----------
    quantity : ndarray
        Signed quantities of FieldType 6 instruments.
    tick_tenth : ndarray
        FieldType 6 column 2 (one tenth of the tick multiplier).
    min_tick : float
        Minimum tick (0.001).

    Returns
    -------
    int
        ``round(sum_{q > 0} q * 10 * tick_tenth * min_tick)``.
    """
    long_ = quantity > 0
    return round_half_away(float(np.sum(quantity[long_] * (10.0 * tick_tenth[long_]) * min_tick)))


def corporate_action_margin(
    net_mv: NDArray[np.float64], short_rate: NDArray[np.float64], long_rate: NDArray[np.float64]
) -> int:
    """
    Corporate-action position margin.

    Parameters
    ----------
    net_mv : ndarray
        ``MV - contract value`` per entitlement position.
    short_rate, long_rate : ndarray
        FieldType 7 scenario 3 and scenario 4 rates (fractions).

    Returns
    -------
    int
        ``sum |round(net * rate)|`` with the long rate for net > 0, else the short rate.
    """
    rate = np.where(net_mv > 0, long_rate, short_rate)
    return int(np.abs(round_half_away_array(net_mv * rate)).sum())


def holiday_addon(portfolio: int, flat: int, factor: float) -> int:
    """
    Holiday add-on ``round((portfolio + flat) * Holiday_Factor)``.

    Parameters
    ----------
    portfolio, flat : int
        Portfolio margin and flat-rate margin.
    factor : float
        ``Holiday_Factor`` from the RPF header.

    Returns
    -------
    int
    """
    return round_half_away((portfolio + flat) * factor)


def mark_to_market(market_value: NDArray[np.float64], contract_value: NDArray[np.float64]) -> int:
    """
    MTM ``sum_i round(MV_i - CV_i)`` (position-level rounding); positive is favourable.

    Parameters
    ----------
    market_value, contract_value : ndarray
        Per position, HKD.

    Returns
    -------
    int
    """
    return int(round_half_away_array(market_value - contract_value).sum())


def position_limit_addon(
    net_market_value: float,
    liquid_capital: float,
    multiplier: float,
    cap: float | None,
    margin_base: int,
    addon_pct: float,
    net_after_credit: int,
    custodian: bool,
) -> int:
    """
    Position-limit add-on.

    Parameters
    ----------
    net_market_value : float
        ``|sum MV|`` over all positions.
    liquid_capital, multiplier : float
        Apportioned liquid capital and its multiplier.
    cap : float or None
        Cap on ``liquid_capital * multiplier``.
    margin_base : int
        ``roundup(portfolio + flat + CA + LRA + SP, Rounding)``.
    addon_pct : float
        Add-on fraction (0.25).
    net_after_credit : int
        Net margin after margin credit; selects ``pct`` (> 0) or ``1 + pct``.
    custodian : bool
        Custodians have no position-limit add-on.

    Returns
    -------
    int
    """
    if custodian or net_market_value == 0:
        return 0
    limit = liquid_capital * multiplier
    if cap is not None:
        limit = min(limit, cap)
    excess = max(net_market_value - limit, 0.0)
    pct = addon_pct if net_after_credit > 0 else 1.0 + addon_pct
    return round_half_away(excess / net_market_value * margin_base * pct)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class MarginDetail:
    """Intermediate values behind a :class:`MarginResult`.

    Attributes
    ----------
    mode : str
        ``"exact"`` or ``"fast"``.
    subportfolios : tuple of str
        Sub-portfolio names (``""`` = main, otherwise the IPO stock id).
    hvar_es, svar_es : tuple of float
        Signed ES per sub-portfolio.
    hvar_k, svar_k : int
        Tail sizes.
    var_charge : float
        ``|sum (w_H ES_H + w_S ES_S)|``.
    floor : float
        Portfolio-margin floor.
    lra_instrument, lra_portfolio : int
        Liquidation-risk add-on parts.
    mtm : int
        Signed mark-to-market.
    portfolio_margin_error_bound : float
        Bound on ``|fast - exact|`` portfolio margin (0 in exact mode).
    """

    mode: str
    subportfolios: tuple[str, ...]
    hvar_es: tuple[float, ...]
    svar_es: tuple[float, ...]
    hvar_k: int
    svar_k: int
    var_charge: float
    floor: float
    lra_instrument: int
    lra_portfolio: int
    mtm: int
    portfolio_margin_error_bound: float


@dataclass(frozen=True)
class MarginResult:
    """Margin components of one participant (HKD, integers)."""

    portfolio_margin: int
    flat_rate_margin: int
    liquidation_risk_addon: int
    structured_product_addon: int
    corporate_action_margin: int
    holiday_addon: int
    aggregated_margin: int
    rounded_margin: int
    favourable_mtm: int
    mtm_requirement: int
    net_margin: int
    net_margin_after_credit: int
    position_limit_addon: int
    credit_risk_addon: int
    adhoc_addon: int
    total_requirement: int
    detail: MarginDetail = field(compare=False)

    def components(self) -> dict[str, int]:
        """The sixteen amounts keyed as in :data:`COMPONENT_KEYS`."""
        return {k: int(getattr(self, k)) for k in COMPONENT_KEYS}

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: the amounts plus ``detail``."""
        d: dict[str, object] = dict(self.components())
        det = asdict(self.detail)
        det["subportfolios"] = [s or "main" for s in self.detail.subportfolios]
        det["hvar_es"] = list(self.detail.hvar_es)
        det["svar_es"] = list(self.detail.svar_es)
        d["detail"] = det
        return d


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True, eq=False)
class _Classified:
    """Positions of one CP split by the component that margins them."""

    var_rows: NDArray[np.intp]
    var_mv: NDArray[np.float64]
    var_sub: tuple[str, ...]
    non_var: dict[str, int]  # components not depending on scenarios
    lra_instrument: int
    lra_portfolio: int
    mtm: int
    long_mv: float
    short_mv: float
    nmv: float


def _classify(rpf: RiskParameterFile, pf: Portfolio, params: CPParams, cp: str) -> _Classified:
    lk = rpf.lookup
    who = f"CP {cp}: " if cp else ""
    n = len(pf)
    k = np.fromiter((lk.position.get(i, -1) for i in pf.instruments), dtype=np.intp, count=n)
    known = k >= 0
    kk = np.where(known, k, 0)  # safe gather index; masked out below
    is_var = known & (lk.var_row[kk] >= 0) if n else np.zeros(0, dtype=bool)
    is_flat = known & ~is_var & ~np.isnan(lk.flat_rate[kk]) if n else np.zeros(0, dtype=bool)
    other = np.flatnonzero(~is_var & ~is_flat)
    ca_pos: list[int] = []
    ca_short: list[float] = []
    ca_long: list[float] = []
    for j in other.tolist():
        inst = pf.instruments[j]
        cap = rpf.corporate_actions.get(inst[3:]) if inst[:3] in CA_PREFIXES else None
        if cap is None:
            raise PositionError(f"{who}instrument {inst} has no scenario returns, flat rate or "
                                f"corporate-action row in the parameter file", instrument=inst)
        if cap.kind != CA_PREFIXES[inst[:3]]:
            raise PositionError(
                f"{who}entitlement {inst}: FieldType 7 row of {inst[3:]} has type {cap.kind}, "
                f"prefix {inst[:3]} needs type {CA_PREFIXES[inst[:3]]}",
                instrument=inst,
            )
        ca_pos.append(j)
        ca_short.append(cap.short_addon)
        ca_long.append(cap.long_addon)
    mv, q, cv = pf.market_value, pf.quantity, pf.contract_value

    # Portfolio-margin positions and their sub-portfolio (each IPO stock with its SPs).
    vk = k[is_var]
    var_mv = mv[is_var]
    sub_key = lk.ipo_key[vk]
    var_sub: tuple[str, ...]
    if params.ipo_instruments and vk.size:
        ipo_mask = np.zeros(len(lk.ids), dtype=bool)
        ipo_mask[[lk.position[i] for i in params.ipo_instruments if i in lk.position]] = True
        in_ipo = ipo_mask[sub_key]
        var_sub = tuple(lk.ids[s] if f else MAIN_SUBPORTFOLIO for s, f in zip(sub_key.tolist(), in_ipo.tolist()))
    else:
        var_sub = (MAIN_SUBPORTFOLIO,) * int(vk.size)

    frm = flat_rate_margin(mv[is_flat], lk.flat_rate[k[is_flat]], params.flat_rate_multiplier)

    # Liquidation-risk groups.
    g_all = np.where(known, lk.liq_group[kk], -1)
    has_g = g_all >= 0
    bad = np.flatnonzero(known & lk.liq_missing[kk])
    if bad.size:
        inst = pf.instruments[int(bad[0])]
        raise PositionError(f"{who}structured product {inst}: underlying group "
                            f"{rpf.structured_products[inst].underlying} has no FieldType 4 row", instrument=inst)
    if has_g.any():
        groups, inv = np.unique(g_all[has_g], return_inverse=True)
        gmv = np.asarray(np.bincount(inv, weights=q[has_g] * lk.liq_cash_delta[k[has_g]], minlength=groups.size),
                         dtype=np.float64)
        h = rpf.liquidity.get(params.hedge_instrument)
        if h is None:
            raise PositionError(f"{who}hedging instrument {params.hedge_instrument} has no FieldType 4 row")
        lra_i, lra_p = liquidation_risk_addon(gmv, lk.bucket_rate[groups], lk.beta[groups], lk.threshold[groups],
                                              h.bucket_rate, h.threshold)
    else:
        lra_i = lra_p = 0

    tick = np.where(known, lk.sp_tick_tenth[kk], np.nan)
    has_sp = ~np.isnan(tick)
    spa_amt = structured_product_addon(q[has_sp], tick[has_sp], params.min_tick)
    ca_idx = np.array(ca_pos, dtype=np.intp)
    cam = corporate_action_margin(mv[ca_idx] - cv[ca_idx], np.array(ca_short), np.array(ca_long))
    return _Classified(
        var_rows=lk.var_row[vk],
        var_mv=var_mv,
        var_sub=var_sub,
        non_var={"flat_rate_margin": frm, "structured_product_addon": spa_amt, "corporate_action_margin": cam},
        lra_instrument=lra_i,
        lra_portfolio=lra_p,
        mtm=mark_to_market(mv, cv),
        long_mv=float(var_mv[var_mv > 0].sum()),
        short_mv=float(-var_mv[var_mv < 0].sum()),
        nmv=abs(float(mv.sum())),
    )


def _subportfolio_rows(c: _Classified) -> list[tuple[str, NDArray[np.intp], NDArray[np.float64]]]:
    names = sorted(set(c.var_sub))
    if not names:
        return []
    if len(names) == 1:
        return [(names[0], c.var_rows, c.var_mv)]
    sub = np.array(c.var_sub, dtype=object)
    return [(n, c.var_rows[sub == n], c.var_mv[sub == n]) for n in names]


def tail_counts(rpf: RiskParameterFile) -> tuple[int, int]:
    """
    HVaR and SVaR tail sizes ``k`` of a parameter file.

    Parameters
    ----------
    rpf : RiskParameterFile

    Returns
    -------
    (int, int)
        E.g. (6, 21) for 1000 scenarios at 99.4% and 1018 at 98%.
    """
    hdr = rpf.header
    return _tail_count(hdr.hvar_cl, hdr.hvar_scen_count), _tail_count(hdr.svar_cl, hdr.svar_scen_count)


def es_from_pnl(rpf: RiskParameterFile, pnl: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """
    Signed HVaR and SVaR ES per row of a scenario-P&L matrix (HVaR columns first).

    Parameters
    ----------
    rpf : RiskParameterFile
    pnl : ndarray, shape (n_rows, H + S)

    Returns
    -------
    (ndarray, ndarray)
    """
    if pnl.shape[0] == 0:
        return np.zeros(0), np.zeros(0)
    h = rpf.header.hvar_scen_count
    kh, ks = tail_counts(rpf)
    return worst_k_mean(pnl[:, :h], kh), worst_k_mean(pnl[:, h:], ks)


def _finish(
    rpf: RiskParameterFile,
    params: CPParams,
    c: _Classified,
    names: tuple[str, ...],
    es_h: NDArray[np.float64],
    es_s: NDArray[np.float64],
    bound_rows: NDArray[np.float64],
    mode: str,
) -> MarginResult:
    hdr = rpf.header
    kh, ks = tail_counts(rpf)
    pm, var_charge, floor = portfolio_margin(es_h, es_s, hdr.hvar_weight, hdr.svar_weight, c.long_mv, c.short_mv,
                                             params.floor_rate)
    # ES is 1-Lipschitz in the sup norm; |.|, max and the sum keep the bound; final rounding adds 1.
    bound = float((hdr.hvar_weight + hdr.svar_weight) * bound_rows.sum()) + 1.0 if mode == "fast" else 0.0
    frm = c.non_var["flat_rate_margin"]
    spa = c.non_var["structured_product_addon"]
    cam = c.non_var["corporate_action_margin"]
    lra = c.lra_instrument + c.lra_portfolio
    hol = holiday_addon(pm, frm, hdr.holiday_factor)
    aggregated = pm + frm + lra + spa + cam + hol
    rounded = round_up_to(aggregated, hdr.rounding)
    fav = max(c.mtm, 0)
    mtm_req = max(-c.mtm, 0)
    net = max(0, rounded - fav)
    nac = max(0, net - round_half_away(params.margin_credit))
    pla = position_limit_addon(
        c.nmv, params.liquid_capital, params.liquid_capital_multiplier, params.liquid_capital_cap,
        round_up_to(pm + frm + cam + lra + spa, hdr.rounding), params.position_limit_addon_pct, nac,
        params.custodian,
    )
    cra = round_half_away(params.credit_risk_addon)
    adhoc = round_half_away(params.adhoc_addon)
    return MarginResult(
        portfolio_margin=pm,
        flat_rate_margin=frm,
        liquidation_risk_addon=lra,
        structured_product_addon=spa,
        corporate_action_margin=cam,
        holiday_addon=hol,
        aggregated_margin=aggregated,
        rounded_margin=rounded,
        favourable_mtm=fav,
        mtm_requirement=mtm_req,
        net_margin=net,
        net_margin_after_credit=nac,
        position_limit_addon=pla,
        credit_risk_addon=cra,
        adhoc_addon=adhoc,
        total_requirement=nac + mtm_req + pla + cra + adhoc,
        detail=MarginDetail(
            mode=mode,
            subportfolios=names,
            hvar_es=tuple(float(x) for x in es_h),
            svar_es=tuple(float(x) for x in es_s),
            hvar_k=kh,
            svar_k=ks,
            var_charge=var_charge,
            floor=floor,
            lra_instrument=c.lra_instrument,
            lra_portfolio=c.lra_portfolio,
            mtm=c.mtm,
            portfolio_margin_error_bound=bound,
        ),
    )


# --------------------------------------------------------------------------- entry points


def compute_margins(
    rpf: RiskParameterFile,
    portfolios: Mapping[str, Portfolio],
    params: Mapping[str, CPParams] | CPParams,
    mode: Mode = "exact",
    exact_strategy: Literal["tail", "full"] = "tail",
) -> dict[str, MarginResult]:
    """
    Margin of many participants with one batched scenario-P&L computation.

    Parameters
    ----------
    rpf : RiskParameterFile
        Parameter file of the day.
    portfolios : mapping of str to Portfolio
        Positions per CP id.
    params : mapping of str to CPParams, or CPParams
        Per-CP parameters (one object = same for all).
    mode : {"exact", "fast"}
        ``exact``: per-term rounded P&L (reproduces HKSCC). ``fast``: one BLAS matrix
        product for all CPs; ``detail.portfolio_margin_error_bound`` bounds the
        difference of the portfolio margin from exact.
    exact_strategy : {"tail", "full"}
        How exact mode gets the exact ES. ``full`` rounds every term of every scenario
        (:func:`risk.scenario_pnl.pnl_exact`); ``tail`` (default) uses the fast P&L and its
        rigorous error bound to find the only scenarios that can be in the exact tail and
        rounds terms there (:func:`risk.scenario_pnl.exact_tail_means`). Both give
        identical results.

    Returns
    -------
    dict of str to MarginResult
        In the order of ``portfolios``.

    Raises
    ------
    PositionError
        An instrument not in the parameter file, non-finite values, etc.
    CPParameterError
        Missing parameters for a CP.
    """
    if mode not in ("exact", "fast"):
        raise ValueError(f"mode must be 'exact' or 'fast', got {mode!r}")
    cps = list(portfolios)
    per_cp: dict[str, CPParams] = {}
    for cp in cps:
        if isinstance(params, CPParams):
            per_cp[cp] = params
        elif cp in params:
            per_cp[cp] = params[cp]
        else:
            raise PositionError(f"no CP parameters for CP {cp}")
    classified = {cp: _classify(rpf, portfolios[cp], per_cp[cp], cp) for cp in cps}
    rows: list[tuple[NDArray[np.intp], NDArray[np.float64]]] = []
    layout: dict[str, tuple[tuple[str, ...], int, int]] = {}
    for cp in cps:
        subs = _subportfolio_rows(classified[cp])
        layout[cp] = (tuple(s[0] for s in subs), len(rows), len(rows) + len(subs))
        rows.extend((s[1], s[2]) for s in subs)
    book = SubPortfolioBook.from_rows(rows)
    ret = rpf.scenario_returns
    if mode == "exact" and exact_strategy == "full":
        es_h, es_s = es_from_pnl(rpf, pnl_exact(ret, book))
    else:
        fast = pnl_fast(ret, book)
        bound = fast_error_bound(rpf.scenario_absmax, book)
        if mode == "fast":
            es_h, es_s = es_from_pnl(rpf, fast)
        else:
            kh, ks = tail_counts(rpf)
            h = rpf.header.hvar_scen_count
            es_h, es_s = exact_tail_means(ret, book, [(0, h, kh), (h, ret.shape[1], ks)], fast, bound)
    if mode == "exact":
        bound = np.zeros(book.n_rows)
    out: dict[str, MarginResult] = {}
    for cp in cps:
        names, a, b = layout[cp]
        out[cp] = _finish(rpf, per_cp[cp], classified[cp], names, es_h[a:b], es_s[a:b], bound[a:b], mode)
    return out


def compute_margin(
    rpf: RiskParameterFile,
    portfolio: Portfolio,
    params: CPParams,
    mode: Mode = "exact",
    exact_strategy: Literal["tail", "full"] = "tail",
) -> MarginResult:
    """
    Margin of one participant.

    Parameters
    ----------
    rpf : RiskParameterFile
        Parameter file of the day.
    portfolio : Portfolio
        Marginable positions.
    params : CPParams
        CP parameters.
    mode : {"exact", "fast"}
        See :func:`compute_margins`.
    exact_strategy : {"tail", "full"}
        See :func:`compute_margins`.

    Returns
    -------
    MarginResult
    """
    return compute_margins(rpf, {"": portfolio}, {"": params}, mode, exact_strategy)[""]
