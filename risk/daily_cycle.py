"""The daily risk cycle: open obligations -> marks -> margin per participant -> calls, coverage, eligibility.

Pure (no chain, no database): the ledger hands over its open settlement instructions (or CNS rows),
the marks of the day and each participant's collateral; the cycle returns one :class:`CPCycleResult`
per participant with the attestation the ledger posts to the on-chain risk gate
(``ledger.risk_gate``).

Rules (documented choices; the method does not prescribe them):

* **Positions**: the participant's open obligations (instruction states pending, submitted, failed),
  signed from its own view (see :mod:`risk.marks`); the CCP is excluded.
* **Requirement**: total MTM and margin requirement, exact mode (:func:`risk.interface.margin_snapshots`).
* **Shortfall** = ``max(requirement − collateral, 0)`` rounded up to a whole HKD.
* **Margin call** = the shortfall rounded *up* to the parameter file's ``Rounding`` (HKD 10,000), the
  same unit the method rounds the aggregate margin to; paying the call always restores cover.
* **Coverage ratio** = collateral / requirement (``None`` when the requirement is 0).
* **Eligibility to receive deliveries**: a participant is *ineligible* when its status is in
  ``policy.ineligible_statuses`` (default suspended or defaulted), or when a call beyond the tolerance
  (``max(policy.call_tolerance_hkd, policy.call_tolerance_ratio × requirement)``) has been outstanding
  for more than ``policy.grace_cycles`` consecutive cycles, counting this one (pass the previous
  cycle's result as ``previous``). With the defaults (no tolerance, no grace) that is exactly
  ``collateral < requirement``, the rule of :func:`risk.interface.margin_snapshots`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from risk.attestation import ENGINE_VERSION, Attestation, attest
from risk.cp_params import CPParams
from risk.errors import RiskInputError
from risk.interface import margin_snapshots, rpf_digest
from risk.margin import MarginResult, Mode
from risk.marks import UNSETTLED_STATES, InstructionLike, Marks, marginable_positions
from risk.positions import Portfolio
from risk.rounding import round_up_to
from risk.rpf import RiskParameterFile

__all__ = ["EligibilityPolicy", "CPCycleResult", "DailyCycleResult", "run_daily_cycle", "run_cycle"]


@dataclass(frozen=True)
class EligibilityPolicy:
    """When a participant may no longer receive deliveries.

    Attributes
    ----------
    call_tolerance_hkd : float
        A shortfall up to this amount (HKD) does not count as an outstanding call.
    call_tolerance_ratio : float
        ... nor one up to this fraction of the requirement (the larger tolerance applies).
    grace_cycles : int
        Cycles a call may stay outstanding before the participant becomes ineligible (0 = at once).
    ineligible_statuses : frozenset of str
        Participant statuses that are ineligible whatever the cover.
    """

    call_tolerance_hkd: float = 0.0
    call_tolerance_ratio: float = 0.0
    grace_cycles: int = 0
    ineligible_statuses: frozenset[str] = frozenset({"suspended", "defaulted"})

    def __post_init__(self) -> None:
        for name in ("call_tolerance_hkd", "call_tolerance_ratio"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise RiskInputError(f"eligibility policy {name} must be finite and >= 0, got {v!r}")
        if self.grace_cycles < 0:
            raise RiskInputError(f"eligibility policy grace_cycles must be >= 0, got {self.grace_cycles}")


@dataclass(frozen=True)
class CPCycleResult:
    """One participant's outcome of the daily cycle (amounts HKD).

    Attributes
    ----------
    cp : str
        Participant id.
    positions : Portfolio
        Marginable positions.
    requirement : int
        Total MTM and margin requirement.
    collateral : float
        Collateral pledged.
    shortfall : int
        ``max(requirement − collateral, 0)`` rounded up to a whole HKD.
    margin_call : int
        Shortfall rounded up to ``Rounding``; 0 when covered.
    excess : float
        ``max(collateral − requirement, 0)``.
    coverage_ratio : float or None
        Collateral / requirement; None when the requirement is 0.
    call_outstanding_cycles : int
        Consecutive cycles (this one included) with a call beyond tolerance.
    status : str
        Participant status used (``active`` when not given).
    eligible : bool
        May receive deliveries.
    reason : str
        Why not eligible (``""`` when eligible).
    margin : MarginResult
        All components.
    attestation : Attestation
        What is posted to the risk gate.
    """

    cp: str
    positions: Portfolio
    requirement: int
    collateral: float
    shortfall: int
    margin_call: int
    excess: float
    coverage_ratio: float | None
    call_outstanding_cycles: int
    status: str
    eligible: bool
    reason: str
    margin: MarginResult
    attestation: Attestation

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (components included, positions counted)."""
        return {
            "cp": self.cp,
            "positions": len(self.positions),
            "requirement": self.requirement,
            "collateral": self.collateral,
            "shortfall": self.shortfall,
            "margin_call": self.margin_call,
            "excess": self.excess,
            "coverage_ratio": self.coverage_ratio,
            "call_outstanding_cycles": self.call_outstanding_cycles,
            "status": self.status,
            "eligible": self.eligible,
            "reason": self.reason,
            "components": self.margin.components(),
            "attestation": "0x" + self.attestation.hash.hex(),
            "positions_sha256": self.attestation.positions_sha256,
        }


@dataclass(frozen=True)
class DailyCycleResult:
    """The whole cycle of one valuation date.

    Attributes
    ----------
    valuation_date : date
    rpf_sha256 : str
        Digest of the parameter file used.
    engine_version : str
    records : dict of str to CPCycleResult
        Per participant, sorted by id.
    """

    valuation_date: date
    rpf_sha256: str
    engine_version: str
    records: dict[str, CPCycleResult] = field(default_factory=dict)

    def attestations(self) -> list[Attestation]:
        """What to post to the risk gate, in participant order."""
        return [r.attestation for r in self.records.values()]

    @property
    def ineligible(self) -> list[str]:
        """Participants that must not receive deliveries."""
        return [cp for cp, r in self.records.items() if not r.eligible]

    @property
    def calls(self) -> dict[str, int]:
        """Margin calls by participant (non-zero only)."""
        return {cp: r.margin_call for cp, r in self.records.items() if r.margin_call}

    def totals(self) -> dict[str, float]:
        """Market-wide requirement, collateral, calls and coverage."""
        req = sum(r.requirement for r in self.records.values())
        coll = sum(r.collateral for r in self.records.values())
        return {
            "participants": len(self.records),
            "requirement": req,
            "collateral": coll,
            "margin_calls": sum(r.margin_call for r in self.records.values()),
            "participants_called": len(self.calls),
            "ineligible": len(self.ineligible),
            "coverage_ratio": coll / req if req else math.inf,
        }

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: header, totals (coverage ``None`` when there is no requirement) and records."""
        totals: dict[str, object] = dict(self.totals())
        if totals["coverage_ratio"] == math.inf:
            totals["coverage_ratio"] = None
        return {
            "valuation_date": self.valuation_date.isoformat(),
            "rpf_sha256": self.rpf_sha256,
            "engine_version": self.engine_version,
            "totals": totals,
            "participants": [r.to_dict() for r in self.records.values()],
        }


def run_cycle(
    rpf: RiskParameterFile,
    portfolios: Mapping[str, Portfolio],
    params: Mapping[str, CPParams] | CPParams,
    collateral: Mapping[str, float],
    *,
    status: Mapping[str, str] | None = None,
    previous: DailyCycleResult | None = None,
    policy: EligibilityPolicy = EligibilityPolicy(),
    mode: Mode = "exact",
    engine_version: str = ENGINE_VERSION,
) -> DailyCycleResult:
    """
    The cycle on ready-made portfolios (see :func:`run_daily_cycle` for the ledger's instructions).

    Parameters
    ----------
    rpf : RiskParameterFile
        Parameter file of the day; its valuation date is the cycle's.
    portfolios : mapping of str to Portfolio
        Marginable positions per participant.
    params : mapping of str to CPParams, or CPParams
        Participant parameters.
    collateral : mapping of str to float
        Collateral per participant in HKD; every participant in ``portfolios`` needs an entry.
    status : mapping of str to str, optional
        Participant statuses (``active``, ``suspended``, ``defaulted``); missing = active.
    previous : DailyCycleResult, optional
        The previous cycle, for counting how long calls have been outstanding.
    policy : EligibilityPolicy
        Eligibility rule.
    mode : {"exact", "fast"}
        Margin mode; attestations are only reproducible in exact mode (the default).
    engine_version : str
        Named in the attestations.

    Returns
    -------
    DailyCycleResult
    """
    for cp, amount in collateral.items():
        if not math.isfinite(float(amount)) or float(amount) < 0:
            raise RiskInputError(f"collateral of CP {cp} is {amount!r}; expected a finite amount >= 0")
    ordered = {cp: portfolios[cp] for cp in sorted(portfolios)}
    snaps = margin_snapshots(rpf, ordered, params, collateral, mode=mode)
    vdate = rpf.header.valuation_date
    unit = rpf.header.rounding
    statuses = status or {}
    records: dict[str, CPCycleResult] = {}
    for cp, snap in snaps.items():
        req = snap.requirement
        coll = snap.collateral
        shortfall = max(math.ceil(req - coll), 0)
        call = round_up_to(shortfall, unit) if shortfall > 0 else 0
        tolerance = max(policy.call_tolerance_hkd, policy.call_tolerance_ratio * req)
        called = shortfall > tolerance
        prev = previous.records.get(cp) if previous is not None else None
        outstanding = ((prev.call_outstanding_cycles if prev is not None else 0) + 1) if called else 0
        st = statuses.get(cp, "active")
        reason = ""
        if st in policy.ineligible_statuses:
            reason = f"participant is {st}"
        elif called and outstanding > policy.grace_cycles:
            reason = (f"margin call of HKD {call:,} outstanding for {outstanding} cycle"
                      f"{'s' if outstanding != 1 else ''} (shortfall HKD {shortfall:,})")
        eligible = not reason
        records[cp] = CPCycleResult(
            cp=cp,
            positions=ordered[cp],
            requirement=req,
            collateral=coll,
            shortfall=shortfall,
            margin_call=call,
            excess=max(coll - req, 0.0),
            coverage_ratio=coll / req if req else None,
            call_outstanding_cycles=outstanding,
            status=st,
            eligible=eligible,
            reason=reason,
            margin=snap.result,
            attestation=attest(snap, vdate, eligible=eligible, engine_version=engine_version),
        )
    return DailyCycleResult(vdate, rpf_digest(rpf), engine_version, records)


def run_daily_cycle(
    rpf: RiskParameterFile,
    instructions: Iterable[InstructionLike],
    marks: Marks,
    params: Mapping[str, CPParams] | CPParams,
    collateral: Mapping[str, float],
    *,
    exclude: Collection[str] = (),
    states: Collection[str] = UNSETTLED_STATES,
    status: Mapping[str, str] | None = None,
    previous: DailyCycleResult | None = None,
    policy: EligibilityPolicy = EligibilityPolicy(),
    mode: Mode = "exact",
    engine_version: str = ENGINE_VERSION,
    check_dates: bool = True,
) -> DailyCycleResult:
    """
    One daily cycle from the ledger's open instructions.

    Every participant with open obligations or with a collateral entry is margined (a participant
    with collateral and no obligations gets the requirement of an empty portfolio).

    Parameters
    ----------
    rpf : RiskParameterFile
        Parameter file of the valuation date.
    instructions : iterable of InstructionLike
        Settlement instructions (e.g. ``Store.instructions()``); only ``states`` count.
    marks : Marks
        Prices of the valuation date.
    params : mapping of str to CPParams, or CPParams
        Participant parameters.
    collateral : mapping of str to float
        Collateral per participant (HKD); a participant with positions and no entry is an error.
    exclude : collection of str
        Participants not margined (the CCP).
    states : collection of str
        Open instruction states.
    status, previous, policy, mode, engine_version
        See :func:`run_cycle`.
    check_dates : bool
        Require the marks and the parameter file to share the valuation date.

    Returns
    -------
    DailyCycleResult
    """
    if check_dates and marks.valuation_date != rpf.header.valuation_date:
        raise RiskInputError(
            f"marks are for {marks.valuation_date.isoformat()} but the parameter file is for "
            f"{rpf.header.valuation_date.isoformat()}"
        )
    portfolios = marginable_positions(instructions, marks, states=states, exclude=exclude,
                                      participants=collateral.keys())
    return run_cycle(rpf, portfolios, params, collateral, status=status, previous=previous, policy=policy,
                     mode=mode, engine_version=engine_version)
