"""Evidence of signed instructions checked against the chain: the InstructionVerifier contract recomputes each
side's EIP-712 digest in the engine's domain, recovers the signer and compares it with the participant's
registered account, and (once matched) checks the two sides are mirror images.

The service's own check at submission (eth-account, participants table) is not repeated here: this is the
answer an outside party gets from the chain alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.service.context import ServiceContext
from api.service.db import SignatureRow
from ledger.errors import ChainError
from ledger.instruction_verifier import InstructionVerifier
from ledger.onchain import InputError


def chain_verified(ctx: ServiceContext, sides: Sequence[SignatureRow]) -> list[bool | None]:
    """Per side: True if the chain recovers that participant's registered account from its stored typed data
    and signature (and, for a pair, the sides mirror each other); None if this deployment has no verifier."""
    if ctx.deployment.verifier is None:
        return [None] * len(sides)
    messages: list[dict[str, Any]] = [dict(g.typed_data.get("message", {})) for g in sides]
    with ctx.chain_lock:  # the chain client is not thread-safe
        verifier = InstructionVerifier(ctx.deployment)
        if len(sides) == 2:
            try:
                pair = verifier.verify_pair(messages[0], sides[0].signature, messages[1], sides[1].signature)
                return [pair.first.valid, pair.second.valid]
            except InputError:
                return [False, False]
            except ChainError as exc:
                if exc.name == "NotMirrored":  # the stored pair is not what was matched: neither side stands
                    return [False, False]
                # a malformed signature on one side: the per-side checks below say which
        out: list[bool | None] = []
        for message, g in zip(messages, sides, strict=True):
            try:
                out.append(verifier.verify(message, g.signature).valid)
            except (ChainError, InputError):
                out.append(False)
        return out
