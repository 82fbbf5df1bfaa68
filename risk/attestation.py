"""What the risk engine attests on chain, and how anyone recomputes it.

An attestation binds one participant's posted figures to the inputs that produced them::

    hash = sha256(rpf_sha256 ‖ positions_sha256 ‖ utf8(engine_version))

where the two digests are the 32-byte SHA-256 values of :func:`risk.interface.rpf_digest` (the
canonical RPF01 text) and :func:`risk.interface.positions_digest` (the canonical position snapshot).
The same hash is computed by ``RiskGate.attestationHash`` on chain (the SHA-256 precompile), so a
participant holding the published parameter file and its own positions can recompute its
requirement (:func:`recompute`) and check both the number and the hash against the gate.

Amounts on chain are HKD cents: the requirement is an integer number of HKD times 100; collateral is
rounded half away from zero to the cent.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from risk.cp_params import CPParams
from risk.errors import RiskInputError
from risk.interface import MarginSnapshot, positions_digest, rpf_digest
from risk.margin import compute_margin
from risk.positions import Portfolio
from risk.rounding import round_half_away
from risk.rpf import RiskParameterFile

__all__ = [
    "ENGINE_VERSION",
    "Attestation",
    "attestation_hash",
    "date_to_int",
    "int_to_date",
    "hkd_to_cents",
    "attest",
    "attestations_from_snapshots",
    "Recomputed",
    "recompute",
]

#: Identifies the method implementation whose numbers are attested (part of every attestation hash).
ENGINE_VERSION = "ledgerclear-risk/1 hkscc-var-platform-v1.4 exact"

_U128 = (1 << 128) - 1


@dataclass(frozen=True)
class Attestation:
    """One participant's figures as posted to the risk gate.

    Attributes
    ----------
    cp : str
        Participant id.
    valuation_date : date
        Valuation date of the parameter file.
    requirement_cents, collateral_cents : int
        Total MTM and margin requirement and collateral pledged, HKD cents.
    eligible : bool
        False = the participant must not receive deliveries.
    rpf_sha256, positions_sha256 : str
        Hex digests of the inputs.
    engine_version : str
        :data:`ENGINE_VERSION` of the engine that computed the figures.
    hash : bytes
        :func:`attestation_hash` of the three (32 bytes).
    """

    cp: str
    valuation_date: date
    requirement_cents: int
    collateral_cents: int
    eligible: bool
    rpf_sha256: str
    positions_sha256: str
    engine_version: str
    hash: bytes


def _digest_bytes(hex_digest: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(hex_digest)
    except ValueError:
        raise RiskInputError(f"{what} {hex_digest!r} is not a hex SHA-256 digest") from None
    if len(raw) != 32:
        raise RiskInputError(f"{what} must be 32 bytes (64 hex digits), got {len(raw)}")
    return raw


def attestation_hash(rpf_sha256: str, positions_sha256: str, engine_version: str = ENGINE_VERSION) -> bytes:
    """
    ``sha256(rpf ‖ positions ‖ utf8(engine_version))`` — equal to ``RiskGate.attestationHash``.

    Parameters
    ----------
    rpf_sha256, positions_sha256 : str
        Hex SHA-256 digests (64 hex digits).
    engine_version : str
        Engine version string.

    Returns
    -------
    bytes
        32 bytes.
    """
    body = _digest_bytes(rpf_sha256, "parameter-file digest") + _digest_bytes(positions_sha256, "positions digest")
    return hashlib.sha256(body + engine_version.encode("utf-8")).digest()


def date_to_int(d: date) -> int:
    """``date(2026, 11, 20)`` -> ``20261120`` (the gate's valuation-date encoding)."""
    return d.year * 10000 + d.month * 100 + d.day


def int_to_date(value: int) -> date:
    """``20261120`` -> ``date(2026, 11, 20)``."""
    return date(value // 10000, value // 100 % 100, value % 100)


def hkd_to_cents(amount: float, what: str = "amount") -> int:
    """
    HKD to integer cents, half away from zero; negative or non-finite amounts are errors.

    Parameters
    ----------
    amount : float
        HKD.
    what : str
        Name used in the error message.

    Returns
    -------
    int
    """
    if isinstance(amount, int) and not isinstance(amount, bool):
        cents = amount * 100  # whole HKD: exact at any size
    else:
        if not math.isfinite(amount):
            raise RiskInputError(f"{what} {amount!r} is not finite")
        cents = round_half_away(float(amount) * 100.0)
    if cents < 0:
        raise RiskInputError(f"{what} {amount!r} must not be negative")
    if cents > _U128:
        raise RiskInputError(f"{what} {amount!r} is too large for the gate (uint128 cents)")
    return cents


def attest(
    snapshot: MarginSnapshot,
    valuation_date: date,
    eligible: bool | None = None,
    engine_version: str = ENGINE_VERSION,
) -> Attestation:
    """
    The attestation of one :class:`~risk.interface.MarginSnapshot`.

    Parameters
    ----------
    snapshot : MarginSnapshot
        Requirement, collateral and digests of one participant.
    valuation_date : date
        Valuation date (normally the parameter file's).
    eligible : bool, optional
        Eligibility to post; default the snapshot's (collateral >= requirement). The daily cycle passes
        its own rule (:mod:`risk.daily_cycle`).
    engine_version : str
        Engine version in the hash.

    Returns
    -------
    Attestation
    """
    return Attestation(
        cp=snapshot.cp,
        valuation_date=valuation_date,
        requirement_cents=hkd_to_cents(int(snapshot.requirement), f"requirement of {snapshot.cp}"),
        collateral_cents=hkd_to_cents(snapshot.collateral, f"collateral of {snapshot.cp}"),
        eligible=snapshot.eligible if eligible is None else bool(eligible),
        rpf_sha256=snapshot.rpf_sha256,
        positions_sha256=snapshot.positions_sha256,
        engine_version=engine_version,
        hash=attestation_hash(snapshot.rpf_sha256, snapshot.positions_sha256, engine_version),
    )


def attestations_from_snapshots(
    snapshots: Mapping[str, MarginSnapshot],
    valuation_date: date,
    engine_version: str = ENGINE_VERSION,
) -> list[Attestation]:
    """
    Attestations of :func:`risk.interface.margin_snapshots` results (eligibility as computed there).

    Parameters
    ----------
    snapshots : mapping of str to MarginSnapshot
    valuation_date : date
    engine_version : str

    Returns
    -------
    list of Attestation
        In the order of ``snapshots``.
    """
    return [attest(s, valuation_date, engine_version=engine_version) for s in snapshots.values()]


@dataclass(frozen=True)
class Recomputed:
    """A participant's own recomputation of its figure.

    Attributes
    ----------
    requirement_cents : int
        Total requirement in HKD cents (exact mode).
    rpf_sha256, positions_sha256 : str
        Digests of the inputs used.
    hash : bytes
        :func:`attestation_hash` of the inputs.
    """

    requirement_cents: int
    rpf_sha256: str
    positions_sha256: str
    hash: bytes


def recompute(
    rpf: RiskParameterFile,
    portfolio: Portfolio,
    params: CPParams,
    engine_version: str = ENGINE_VERSION,
) -> Recomputed:
    """
    Recompute one participant's requirement and attestation hash from the published inputs.

    Parameters
    ----------
    rpf : RiskParameterFile
        The published parameter file of the valuation date.
    portfolio : Portfolio
        The participant's own marginable positions (e.g. from :func:`risk.marks.marginable_positions`).
    params : CPParams
        The participant's parameters.
    engine_version : str
        Engine version named in the attestation.

    Returns
    -------
    Recomputed
    """
    result = compute_margin(rpf, portfolio, params, mode="exact")
    r_digest, p_digest = rpf_digest(rpf), positions_digest(portfolio)
    return Recomputed(
        requirement_cents=hkd_to_cents(int(result.total_requirement), "requirement"),
        rpf_sha256=r_digest,
        positions_sha256=p_digest,
        hash=attestation_hash(r_digest, p_digest, engine_version),
    )
