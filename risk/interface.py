"""The small interface between the ledger and the risk engine: positions in, requirements out.

The ledger passes each participant's positions and pledged collateral; the risk
engine returns the requirement, whether the participant is eligible to receive
deliveries, and SHA-256 digests of the parameter file and of the position
snapshot, so the on-chain attestation can be recomputed by anyone who holds the
published RPF01 file and the participant's positions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from risk.cp_params import CPParams
from risk.errors import PositionError
from risk.margin import MarginResult, Mode, compute_margins
from risk.positions import Portfolio
from risk.rpf import RiskParameterFile, format_rpf

__all__ = ["MarginSnapshot", "rpf_digest", "positions_digest", "margin_snapshots"]


@dataclass(frozen=True)
class MarginSnapshot:
    """What the risk engine attests for one participant.

    Attributes
    ----------
    cp : str
        Participant id.
    requirement : int
        Total MTM and margin requirement, HKD.
    collateral : float
        Collateral pledged, HKD.
    eligible : bool
        ``collateral >= requirement``.
    rpf_sha256 : str
        Digest of the canonical RPF01 text (:func:`rpf_digest`).
    positions_sha256 : str
        Digest of the canonical position snapshot (:func:`positions_digest`).
    result : MarginResult
        All components, for reports.
    """

    cp: str
    requirement: int
    collateral: float
    eligible: bool
    rpf_sha256: str
    positions_sha256: str
    result: MarginResult


def rpf_digest(rpf: RiskParameterFile) -> str:
    """
    SHA-256 of the file as :func:`risk.rpf.format_rpf` writes it (hex).

    Parameters
    ----------
    rpf : RiskParameterFile

    Returns
    -------
    str
    """
    return hashlib.sha256(format_rpf(rpf).encode("utf-8")).hexdigest()


def positions_digest(portfolio: Portfolio) -> str:
    """
    SHA-256 of the positions as sorted CSV lines ``id,qty,cv,mv`` with ``repr`` floats (hex).

    Parameters
    ----------
    portfolio : Portfolio

    Returns
    -------
    str
    """
    lines = sorted(
        f"{p.instrument},{p.quantity!r},{p.contract_value!r},{p.market_value!r}" for p in portfolio.positions()
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def margin_snapshots(
    rpf: RiskParameterFile,
    portfolios: Mapping[str, Portfolio],
    params: Mapping[str, CPParams] | CPParams,
    collateral: Mapping[str, float],
    mode: Mode = "exact",
) -> dict[str, MarginSnapshot]:
    """
    Requirement, eligibility and digests for every participant.

    Parameters
    ----------
    rpf : RiskParameterFile
        Parameter file of the day.
    portfolios : mapping of str to Portfolio
        Positions per participant.
    params : mapping of str to CPParams, or CPParams
        Participant parameters.
    collateral : mapping of str to float
        Collateral pledged per participant (missing = error, never a silent zero).
    mode : {"exact", "fast"}
        Use exact for attestations.

    Returns
    -------
    dict of str to MarginSnapshot
    """
    missing = [cp for cp in portfolios if cp not in collateral]
    if missing:
        raise PositionError(f"no collateral given for CP {missing[0]}")
    results = compute_margins(rpf, portfolios, params, mode=mode)
    digest = rpf_digest(rpf)
    return {
        cp: MarginSnapshot(
            cp=cp,
            requirement=r.total_requirement,
            collateral=float(collateral[cp]),
            eligible=float(collateral[cp]) >= r.total_requirement,
            rpf_sha256=digest,
            positions_sha256=positions_digest(portfolios[cp]),
            result=r,
        )
        for cp, r in results.items()
    }
