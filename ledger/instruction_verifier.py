"""Checking participants' EIP-712 instruction signatures on chain (contracts/InstructionVerifier.sol).

An instruction is given as the typed-data `message` a participant signed (typed-data field names:
participantId, counterpartyId, direction, securityCode, quantity, amountCents, currency, settlementDate,
senderReference, nonce, expiry). The chain computes the digest in the engine's signing domain, recovers the
signer and compares it with the account the participant registry holds for `participantId`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_utils.address import to_checksum_address

from ledger.artifacts import load_artifact
from ledger.deployment import Deployment
from ledger.errors import LedgerError
from ledger.onchain import InputError

_UINT256_MAX = 2**256 - 1


@cache
def instruction_fields() -> tuple[tuple[str, str], ...]:
    """(name, ABI type) of the SettlementInstruction struct, in its order, read from the compiled contract so
    the Python side cannot drift from the type hash."""
    for item in load_artifact("InstructionVerifier").abi:
        if item.get("type") == "function" and item.get("name") == "verify":
            return tuple((c["name"], c["type"]) for c in item["inputs"][0]["components"])
    raise LedgerError("the InstructionVerifier artifact has no verify function; rebuild the contracts")


def as_struct(message: Mapping[str, Any]) -> tuple[Any, ...]:
    """The struct tuple for `message` (typed-data field names); InputError names the first bad field."""
    out: list[Any] = []
    for name, abi_type in instruction_fields():
        if name not in message:
            raise InputError(f"instruction field {name!r} is missing")
        value = message[name]
        if abi_type == "string":
            if not isinstance(value, str):
                raise InputError(f"instruction field {name!r} must be a string, got {value!r}")
        elif abi_type == "uint256":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT256_MAX:
                raise InputError(f"instruction field {name!r} must be a whole number in uint256 range, got {value!r}")
        else:  # the contract's struct changed without this module
            raise LedgerError(f"instruction field {name!r} has unsupported ABI type {abi_type}")
        out.append(value)
    return tuple(out)


def signature_bytes(signature: str | bytes) -> bytes:
    if isinstance(signature, bytes | bytearray):
        return bytes(signature)
    text = signature[2:] if signature.startswith(("0x", "0X")) else signature
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InputError(f"signature {signature!r} is not hex") from None


@dataclass(frozen=True)
class SignatureCheck:
    """What the chain says about one signed instruction."""

    participant_id: str
    signer: str  # the address the signature recovers to
    valid: bool  # signer is the account registered for participant_id


@dataclass(frozen=True)
class PairCheck:
    first: SignatureCheck
    second: SignatureCheck

    @property
    def valid(self) -> bool:
        return self.first.valid and self.second.valid


class InstructionVerifier:
    """View calls on a deployment's InstructionVerifier. Reverts come back as ledger.errors.ChainError:
    SignatureLengthInvalid / SignatureSInvalid / SignatureInvalid for a malformed signature, NotMirrored for a
    pair whose sides do not match."""

    def __init__(self, deployment: Deployment) -> None:
        if deployment.verifier is None:
            raise LedgerError("this deployment has no InstructionVerifier (described before it existed); "
                              "deploy one with ledger.deployment.add_verifier")
        self.chain = deployment.chain
        self.contract = deployment.verifier

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def digest(self, message: Mapping[str, Any]) -> bytes:
        """The EIP-712 digest the chain computes for `message` (engine's domain, this chain's id)."""
        return bytes(self.chain.call(self.contract.functions.digestOf(as_struct(message))))

    def verify(self, message: Mapping[str, Any], signature: str | bytes) -> SignatureCheck:
        signer, valid = self.chain.call(self.contract.functions.verify(as_struct(message), signature_bytes(signature)))
        return SignatureCheck(str(message["participantId"]), to_checksum_address(signer), bool(valid))

    def verify_pair(self, first: Mapping[str, Any], first_signature: str | bytes,
                    second: Mapping[str, Any], second_signature: str | bytes) -> PairCheck:
        """Both sides of a matched instruction (either order); NotMirrored if they are not mirror images."""
        sa, va, sb, vb = self.chain.call(self.contract.functions.verifyPair(
            as_struct(first), signature_bytes(first_signature), as_struct(second), signature_bytes(second_signature)))
        return PairCheck(SignatureCheck(str(first["participantId"]), to_checksum_address(sa), bool(va)),
                         SignatureCheck(str(second["participantId"]), to_checksum_address(sb), bool(vb)))

    def gas_of_verify(self, message: Mapping[str, Any], signature: str | bytes) -> int:
        """eth_estimateGas of `verify` as a transaction (what checking one signature on chain costs)."""
        return int(self.contract.functions.verify(as_struct(message), signature_bytes(signature)).estimate_gas())

    def gas_of_verify_pair(self, first: Mapping[str, Any], first_signature: str | bytes,
                           second: Mapping[str, Any], second_signature: str | bytes) -> int:
        return int(self.contract.functions.verifyPair(
            as_struct(first), signature_bytes(first_signature), as_struct(second), signature_bytes(second_signature),
        ).estimate_gas())
