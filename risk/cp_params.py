"""Clearing-participant (CP) parameters of the margin method."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from risk.errors import CPParameterError

__all__ = ["CPParams", "load_cp_params"]


@dataclass(frozen=True)
class CPParams:
    """Per-participant inputs (rates are fractions: 0.032 = 3.2%).

    Attributes
    ----------
    floor_rate : float
        Portfolio-margin floor rate (Tier P minimum margin), e.g. 0.032.
    liquid_capital : float
        Apportioned liquid capital in HKD (not needed for custodians).
    liquid_capital_multiplier : float
        Multiplier on liquid capital in the position-limit add-on.
    flat_rate_multiplier : float
        Multiplier on flat-rate margin (default 1).
    margin_credit : float
        Margin credit in HKD (default 5,000,000).
    liquid_capital_cap : float or None
        Cap on ``liquid_capital * multiplier``; None = no cap.
    position_limit_addon_pct : float
        Position-limit add-on fraction (default 0.25).
    credit_risk_addon, adhoc_addon : float
        Add-ons in HKD set by the clearing house (default 0).
    ipo_instruments : frozenset of str
        Stocks listed < 180 days; each is its own sub-portfolio with its structured products.
    custodian : bool
        Custodian CPs have no position-limit add-on.
    min_tick : float
        Minimum tick for the structured-product add-on (0.001).
    hedge_instrument : str
        Hedging instrument of the portfolio-level liquidation add-on (Tracker Fund, ``2800``).
    """

    floor_rate: float
    liquid_capital: float = 0.0
    liquid_capital_multiplier: float = 1.0
    flat_rate_multiplier: float = 1.0
    margin_credit: float = 5_000_000.0
    liquid_capital_cap: float | None = None
    position_limit_addon_pct: float = 0.25
    credit_risk_addon: float = 0.0
    adhoc_addon: float = 0.0
    ipo_instruments: frozenset[str] = frozenset()
    custodian: bool = False
    min_tick: float = 0.001
    hedge_instrument: str = "2800"

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("ipo_instruments", "custodian", "hedge_instrument"):
                continue
            if v is None and f.name == "liquid_capital_cap":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise CPParameterError(f"CP parameter {f.name} must be a finite number, got {v!r}")
            if v < 0:
                raise CPParameterError(f"CP parameter {f.name} must be >= 0, got {v!r}")
        if not isinstance(self.custodian, bool):
            raise CPParameterError(f"CP parameter custodian must be true/false, got {self.custodian!r}")
        if not isinstance(self.hedge_instrument, str) or not self.hedge_instrument:
            raise CPParameterError(f"CP parameter hedge_instrument must be a non-empty string, got {self.hedge_instrument!r}")
        ipo = self.ipo_instruments
        if isinstance(ipo, str) or not all(isinstance(i, str) for i in ipo):
            raise CPParameterError(f"CP parameter ipo_instruments must be a list of instrument ids, got {ipo!r}")
        object.__setattr__(self, "ipo_instruments", frozenset(ipo))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], source: str = "CP parameters") -> CPParams:
        """
        Build from a JSON-like mapping; unknown keys and missing required keys are errors.

        Parameters
        ----------
        data : mapping
            Keys named as the attributes.
        source : str
            Name used in error messages.

        Returns
        -------
        CPParams
        """
        if not isinstance(data, Mapping):
            raise CPParameterError(f"{source}: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CPParameterError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        if "floor_rate" not in data:
            raise CPParameterError(f"{source}: missing required key 'floor_rate'")
        if not data.get("custodian", False):
            for req in ("liquid_capital", "liquid_capital_multiplier"):
                if req not in data:
                    raise CPParameterError(f"{source}: missing required key {req!r} (required unless custodian)")
        kw = dict(data)
        if "ipo_instruments" in kw:
            ipo = kw["ipo_instruments"]
            if not isinstance(ipo, (list, tuple, set, frozenset)):
                raise CPParameterError(f"{source}: ipo_instruments must be a list, got {ipo!r}")
            kw["ipo_instruments"] = frozenset(str(i) if isinstance(i, int) and not isinstance(i, bool) else i
                                              for i in ipo)
        try:
            return cls(**kw)  # type: ignore[arg-type]
        except CPParameterError as e:
            raise CPParameterError(f"{source}: {e}") from None


def load_cp_params(path: str | Path) -> CPParams:
    """
    Read CP parameters from a JSON file.

    Parameters
    ----------
    path : str or Path
        JSON object file.

    Returns
    -------
    CPParams
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CPParameterError(f"{path}, row {e.lineno}, column {e.colno}: invalid JSON ({e.msg})") from None
    return CPParams.from_mapping(data, source=str(path))
