"""The on-chain risk gate: deploy it, post the risk engine's attestations, read them, verify them.

The risk engine (``risk.daily_cycle`` / ``risk.interface``) computes, per participant, requirement,
collateral, eligibility and an attestation hash (``risk.attestation``); this module puts them on chain
in ``RiskGate`` (signed by the account holding ``RISK_ENGINE_ROLE``) and reads them back. The
settlement engine asks the gate ``ineligibleOf(accounts)`` once per batch, and refuses deliveries to
an ineligible participant.

A participant checks its posting with :func:`verify_attestation`: from the published parameter file
and its own positions it recomputes requirement and hash and compares them with the chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from web3.contract import Contract

from ledger.chain import Chain
from ledger.deployment import Deployment, role
from ledger.errors import LedgerError
from risk.attestation import (
    ENGINE_VERSION,
    Attestation,
    date_to_int,
    int_to_date,
    recompute,
)
from risk.cp_params import CPParams
from risk.positions import Portfolio
from risk.rpf import RiskParameterFile

__all__ = [
    "RISK_ENGINE_ROLE",
    "PostedRisk",
    "Verification",
    "RiskGateClient",
    "deploy_risk_gate",
    "bind_risk_gate",
    "attach_to_engine",
    "post_attestations",
    "verify_attestation",
]

RISK_ENGINE_ROLE = "RISK_ENGINE_ROLE"
#: Postings per transaction by default (~70k gas each for a first posting; ~5M gas per chunk of 64).
DEFAULT_CHUNK = 200


@dataclass(frozen=True)
class PostedRisk:
    """What the gate holds for one account.

    Attributes
    ----------
    account : str
    requirement_cents, collateral_cents : int
    eligible : bool
    attestation : bytes
        32-byte attestation hash.
    valuation_date : date or None
        None = never posted (eligible by default).
    posted_block : int
    """

    account: str
    requirement_cents: int
    collateral_cents: int
    eligible: bool
    attestation: bytes
    valuation_date: date | None
    posted_block: int

    @property
    def posted(self) -> bool:
        return self.valuation_date is not None


@dataclass(frozen=True)
class Verification:
    """Outcome of :func:`verify_attestation`.

    Attributes
    ----------
    ok : bool
        Requirement and hash both match (and the valuation date, when given).
    posted : PostedRisk
    requirement_cents : int
        Recomputed requirement.
    hash : bytes
        Recomputed attestation hash.
    mismatches : tuple of str
        Readable differences.
    """

    ok: bool
    posted: PostedRisk
    requirement_cents: int
    hash: bytes
    mismatches: tuple[str, ...]


class RiskGateClient:
    """Typed access to one deployed RiskGate; postings are signed by `poster` (holds RISK_ENGINE_ROLE)."""

    def __init__(self, chain: Chain, contract: Contract, poster: str) -> None:
        self.chain = chain
        self.contract = contract
        self.poster = poster

    @property
    def address(self) -> str:
        return str(self.contract.address)

    # ---- writes ----------------------------------------------------------------------------------------

    def post(
        self,
        attestations: Sequence[Attestation],
        addresses: Mapping[str, str],
        chunk: int = DEFAULT_CHUNK,
        sender: str | None = None,
    ) -> list[str]:
        """
        Post attestations (one valuation date per transaction), `chunk` participants per transaction.

        Parameters
        ----------
        attestations : sequence of Attestation
            From ``DailyCycleResult.attestations()`` or ``attestations_from_snapshots``.
        addresses : mapping of str to str
            Participant id -> account address.
        chunk : int
            Postings per transaction (calldata and gas bound the batch).
        sender : str, optional
            Signing account (default the client's poster).

        Returns
        -------
        list of str
            Transaction hashes.
        """
        if chunk < 1:
            raise LedgerError("chunk must be at least 1")
        if not attestations:
            raise LedgerError("nothing to post: no attestations")
        by_date: dict[int, list[tuple[str, int, int, bool, bytes]]] = {}
        for a in attestations:
            try:
                account = addresses[a.cp]
            except KeyError:
                raise LedgerError(f"no chain address for participant {a.cp}") from None
            if len(a.hash) != 32:
                raise LedgerError(f"attestation of {a.cp} must be 32 bytes, got {len(a.hash)}")
            by_date.setdefault(date_to_int(a.valuation_date), []).append(
                (account, a.requirement_cents, a.collateral_cents, a.eligible, a.hash))
        hashes: list[str] = []
        for vdate in sorted(by_date):
            rows = by_date[vdate]
            for start in range(0, len(rows), chunk):
                part = rows[start:start + chunk]
                fn = (self.contract.functions.post(vdate, part[0]) if len(part) == 1
                      else self.contract.functions.postBatch(vdate, part))
                receipt = self.chain.send(fn, sender or self.poster)
                hashes.append(receipt.tx_hash)
        return hashes

    def publish_parameter_file(self, valuation_date: date, rpf_sha256: str, sender: str | None = None) -> str:
        """Publish the SHA-256 digest (hex) of the parameter file of `valuation_date`."""
        digest = bytes.fromhex(rpf_sha256)
        if len(digest) != 32:
            raise LedgerError(f"parameter-file digest must be 32 bytes, got {len(digest)}")
        receipt = self.chain.send(
            self.contract.functions.publishParameterFile(date_to_int(valuation_date), digest), sender or self.poster)
        return receipt.tx_hash

    # ---- reads -----------------------------------------------------------------------------------------

    def read(self, account: str) -> PostedRisk:
        """The figures posted for `account` (``posted`` False if never)."""
        return _posted(account, self.chain.call(self.contract.functions.attestationOf(account)))

    def read_many(self, accounts: Sequence[str], chunk: int = 2000) -> list[PostedRisk]:
        out: list[PostedRisk] = []
        for start in range(0, len(accounts), chunk):
            part = list(accounts[start:start + chunk])
            rows = self.chain.call(self.contract.functions.attestationsOf(part))
            out.extend(_posted(a, r) for a, r in zip(part, rows, strict=True))
        return out

    def ineligible_of(self, accounts: Sequence[str], chunk: int = 5000) -> list[bool]:
        out: list[bool] = []
        for start in range(0, len(accounts), chunk):
            out.extend(bool(f) for f in self.chain.call(
                self.contract.functions.ineligibleOf(list(accounts[start:start + chunk]))))
        return out

    def ineligible(self, account: str) -> bool:
        return bool(self.chain.call(self.contract.functions.ineligible(account)))

    def parameter_file_of(self, valuation_date: date) -> str | None:
        raw = bytes(self.chain.call(self.contract.functions.parameterFileOf(date_to_int(valuation_date))))
        return None if raw == b"\x00" * 32 else raw.hex()

    def latest_valuation_date(self) -> date | None:
        v = int(self.chain.call(self.contract.functions.latestValuationDate()))
        return int_to_date(v) if v else None

    def attestation_hash_on_chain(self, rpf_sha256: str, positions_sha256: str,
                                  engine_version: str = ENGINE_VERSION) -> bytes:
        """The contract's own computation of the attestation hash (for cross-checking)."""
        return bytes(self.chain.call(self.contract.functions.attestationHash(
            bytes.fromhex(rpf_sha256), bytes.fromhex(positions_sha256), engine_version)))

    def has_role(self, account: str) -> bool:
        return bool(self.chain.call(self.contract.functions.hasRole(role(RISK_ENGINE_ROLE), account)))


def _posted(account: str, row: Sequence[object]) -> PostedRisk:
    requirement, collateral, att, vdate, block, inelig = row
    v = int(vdate)  # type: ignore[call-overload]
    return PostedRisk(
        account=account,
        requirement_cents=int(requirement),  # type: ignore[call-overload]
        collateral_cents=int(collateral),  # type: ignore[call-overload]
        eligible=not bool(inelig),
        attestation=bytes(att),  # type: ignore[call-overload]
        valuation_date=int_to_date(v) if v else None,
        posted_block=int(block),  # type: ignore[call-overload]
    )


def deploy_risk_gate(chain: Chain, deployment: Deployment, risk_engine: str | None = None) -> Contract:
    """
    Deploy a RiskGate administered by the deployment's admin and grant RISK_ENGINE_ROLE.

    Parameters
    ----------
    chain : Chain
    deployment : Deployment
        The contract set the gate serves (its admin administers the gate).
    risk_engine : str, optional
        Account of the risk engine's key (default the deployment's admin account).

    Returns
    -------
    Contract
        The bound gate (wrap it in :class:`RiskGateClient` to post).
    """
    admin = deployment.operators.admin
    gate = chain.deploy("RiskGate", [admin], admin)
    chain.send(gate.functions.grantRole(role(RISK_ENGINE_ROLE), risk_engine or admin), admin)
    return gate


def bind_risk_gate(chain: Chain, address: str, poster: str) -> RiskGateClient:
    """Attach to a deployed gate at `address`, posting as `poster`."""
    return RiskGateClient(chain, chain.bind("RiskGate", address), poster)


def attach_to_engine(deployment: Deployment, gate_address: str) -> None:
    """
    Make the settlement engine consult the gate (``SettlementEngine.setRiskGate``, CONFIG_ROLE / admin).

    Raises
    ------
    LedgerError
        The deployed engine has no risk-gate hook (artifacts built before the wiring).
    """
    engine = deployment.engine
    if not any(item.get("name") == "setRiskGate" for item in engine.abi):
        raise LedgerError("this SettlementEngine has no setRiskGate; rebuild the contracts with the risk-gate wiring")
    deployment.chain.send(engine.functions.setRiskGate(gate_address), deployment.operators.admin)


def post_attestations(
    client: RiskGateClient,
    attestations: Sequence[Attestation],
    addresses: Mapping[str, str],
    *,
    publish_parameter_file: bool = True,
    chunk: int = DEFAULT_CHUNK,
) -> list[str]:
    """
    Post a cycle's attestations, first publishing the parameter-file digest of each valuation date.

    Parameters
    ----------
    client : RiskGateClient
    attestations : sequence of Attestation
    addresses : mapping of str to str
        Participant id -> account.
    publish_parameter_file : bool
        Also publish each valuation date's parameter-file digest (skipped if already published).
    chunk : int
        Postings per transaction.

    Returns
    -------
    list of str
        Transaction hashes.
    """
    hashes: list[str] = []
    if publish_parameter_file:
        digests = {(a.valuation_date, a.rpf_sha256) for a in attestations}
        for vdate, digest in sorted(digests):
            if client.parameter_file_of(vdate) != digest:
                hashes.append(client.publish_parameter_file(vdate, digest))
    hashes.extend(client.post(attestations, addresses, chunk=chunk))
    return hashes


def verify_attestation(
    client: RiskGateClient,
    account: str,
    rpf: RiskParameterFile,
    portfolio: Portfolio,
    params: CPParams,
    *,
    engine_version: str = ENGINE_VERSION,
) -> Verification:
    """
    Recompute a participant's requirement and attestation hash and compare them with the gate.

    Parameters
    ----------
    client : RiskGateClient
    account : str
        The participant's account.
    rpf : RiskParameterFile
        The published parameter file (its digest must match the gate's, if published).
    portfolio : Portfolio
        The participant's own marginable positions.
    params : CPParams
        The participant's parameters.
    engine_version : str
        Engine version named in the attestation.

    Returns
    -------
    Verification
    """
    posted = client.read(account)
    mine = recompute(rpf, portfolio, params, engine_version)
    problems: list[str] = []
    if not posted.posted:
        problems.append(f"nothing posted for {account}")
    else:
        if posted.requirement_cents != mine.requirement_cents:
            problems.append(f"requirement: posted {posted.requirement_cents} cents, recomputed {mine.requirement_cents}")
        if posted.attestation != mine.hash:
            problems.append(f"attestation: posted 0x{posted.attestation.hex()}, recomputed 0x{mine.hash.hex()}")
        if posted.valuation_date != rpf.header.valuation_date:
            problems.append(f"valuation date: posted {posted.valuation_date}, parameter file "
                            f"{rpf.header.valuation_date}")
        published = client.parameter_file_of(rpf.header.valuation_date)
        if published is not None and published != mine.rpf_sha256:
            problems.append(f"parameter file: published sha256 {published}, this file {mine.rpf_sha256}")
    return Verification(not problems, posted, mine.requirement_cents, mine.hash, tuple(problems))
