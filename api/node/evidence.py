"""Verify a signed instruction's evidence (as the service reports it) against the chain itself.

The service's own `chain_verified` flags are not trusted: every side's typed data and signature are sent to
the deployment's InstructionVerifier, which recomputes the digest, recovers the signer and compares it with
the participant registry; the service's reported digest and signer must agree with the chain's, and a
matched pair must be mirror images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.errors import ChainError
from ledger.instruction_verifier import InstructionVerifier
from ledger.onchain import InputError


@dataclass
class EvidenceVerification:
    sides: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.sides) and not self.problems

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "sides": self.sides, "problems": self.problems}


def verify_evidence(evidence: list[dict[str, Any]], verifier: InstructionVerifier) -> EvidenceVerification:
    out = EvidenceVerification()
    if not evidence:
        out.problems.append("the service reported no evidence")
    for e in evidence:
        pid = str(e.get("participant_id"))
        side: dict[str, Any] = {"signed_instruction_id": e.get("signed_instruction_id"), "participant_id": pid}
        out.sides.append(side)
        message = dict((e.get("typed_data") or {}).get("message") or {})
        if message.get("participantId") != pid:
            out.problems.append(f"{pid}: the signed typed data is for {message.get('participantId')!r}")
        try:
            check = verifier.verify(message, str(e.get("signature")))
            digest = "0x" + verifier.digest(message).hex()
        except (ChainError, InputError) as exc:
            side["chain_verified"] = False
            out.problems.append(f"{pid}: {exc}")
            continue
        side.update(chain_signer=check.signer, chain_digest=digest, chain_verified=check.valid)
        if not check.valid:
            out.problems.append(f"{pid}: signed by {check.signer}, not by {pid}'s registered account")
        if str(e.get("digest", "")).lower() != digest:
            out.problems.append(f"{pid}: the service reports digest {e.get('digest')}, the chain computes {digest}")
        if str(e.get("signer", "")).lower() != check.signer.lower():
            out.problems.append(f"{pid}: the service reports signer {e.get('signer')}, the chain recovers {check.signer}")
    if len(evidence) == 2 and not out.problems:
        a, b = evidence
        try:
            verifier.verify_pair(a["typed_data"]["message"], a["signature"], b["typed_data"]["message"], b["signature"])
        except ChainError as exc:
            out.problems.append(str(exc))
    elif len(evidence) > 2:
        out.problems.append(f"the service reported {len(evidence)} signatures for one instruction; expected 1 or 2")
    return out
