"""Builders for the risk tests: tiny hand-checkable parameter files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
from risk.cp_params import CPParams
from risk.positions import Portfolio, Position
from risk.rpf import (
    CorporateActionParams,
    LiquidityParams,
    RiskParameterFile,
    RPFHeader,
    SPAddonParams,
    StructuredProductParams,
)


def make_rpf(
    hvar: Mapping[str, Sequence[float]],
    svar: Mapping[str, Sequence[float]],
    *,
    hvar_cl: float = 0.6,
    svar_cl: float = 0.5,
    flat: Mapping[str, float] | None = None,
    liquidity: Mapping[str, LiquidityParams] | None = None,
    sps: Mapping[str, StructuredProductParams] | None = None,
    sp_addon: Mapping[str, SPAddonParams] | None = None,
    cas: Mapping[str, CorporateActionParams] | None = None,
    holiday_factor: float = 0.0,
    rounding: int = 10000,
) -> RiskParameterFile:
    ids = tuple(hvar)
    h = len(next(iter(hvar.values()))) if hvar else 5
    s = len(next(iter(svar.values()))) if svar else 4
    header = RPFHeader(
        valuation_date=date(2026, 11, 20),
        hvar_scen_count=h,
        svar_scen_count=s,
        hvar_cl=hvar_cl,
        svar_cl=svar_cl,
        rounding=rounding,
        holiday_factor=holiday_factor,
        stv_count=0,
    )
    hv = np.array([hvar[i] for i in ids], dtype=np.float64).reshape(len(ids), h)
    sv = np.array([svar[i] for i in ids], dtype=np.float64).reshape(len(ids), s)
    return RiskParameterFile(header, ids, hv, sv, dict(flat or {}), dict(liquidity or {}), dict(sps or {}),
                             dict(sp_addon or {}), dict(cas or {}))


def pf(*rows: tuple[str, float, float, float]) -> Portfolio:
    """Portfolio from (instrument, quantity, contract value, market value) tuples."""
    return Portfolio.from_positions(Position(*r) for r in rows)


def params(**kw: object) -> CPParams:
    base: dict[str, object] = dict(floor_rate=0.032, liquid_capital=1e12, liquid_capital_multiplier=1.0,
                                   margin_credit=0.0)
    base.update(kw)
    return CPParams(**base)  # type: ignore[arg-type]


# The hand-computed two-instrument case (see test_margin_hand.py for the arithmetic).
HAND_HVAR = {"A": [0.0105, -0.0205, 0.0015, -0.03, 0.05], "B": [0.01, 0.01, -0.00125, 0.02, -0.02]}
HAND_SVAR = {"A": [-0.1, 0.02, -0.0505, 0.0], "B": [0.05, 0.0, 0.1, -0.0125]}
