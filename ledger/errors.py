"""Readable errors for on-chain reverts: custom errors decoded from revert data into plain sentences."""

from __future__ import annotations

import ast

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.artifacts import CONTRACT_NAMES, load_artifact

# Reads an address into a participant id where the caller knows one (None: show the address).
AddressNamer = Callable[[str], str | None]


class LedgerError(Exception):
    """Base of every error ledgerclear raises on purpose; its message is meant for people."""


class ChainError(LedgerError):
    """A transaction or call reverted; `name` and `args` are the decoded custom error when known."""

    def __init__(self, message: str, name: str | None = None, args: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.args_by_name = args or {}


@dataclass(frozen=True)
class _ErrorAbi:
    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]


def _type_of(inp: dict[str, Any]) -> str:
    return str(inp["type"])


@cache
def _error_table() -> dict[bytes, _ErrorAbi]:
    table: dict[bytes, _ErrorAbi] = {}
    for name in CONTRACT_NAMES:
        for item in load_artifact(name).abi:
            if item.get("type") != "error":
                continue
            types = tuple(_type_of(i) for i in item["inputs"])
            sig = f"{item['name']}({','.join(types)})"
            table[keccak(text=sig)[:4]] = _ErrorAbi(
                item["name"], tuple(i["name"] or f"arg{k}" for k, i in enumerate(item["inputs"])), types
            )
    return table


_REASONS = {0: "none", 1: "LACK (securities short)", 2: "MONY (cash short)", 3: "BLOC (account blocked)",
            4: "already settled or cancelled", 5: "RISK (receiver ineligible under the risk gate)"}
_STATUSES = {0: "not registered", 1: "active", 2: "suspended", 3: "defaulted"}

# Sentences for the errors a user is likely to meet; the rest are shown as Name(arg=value, ...).
_TEMPLATES: dict[str, str] = {
    "UnknownParticipant": "{account} is not a registered participant",
    "AccountBlocked": "account {account} is blocked (frozen, suspended or defaulted)",
    "AccountSuspended": "account {account} is not active (suspended or defaulted)",
    "UnknownSecurity": "security {id} is not listed",
    "InvalidQuantity": "quantity must be positive (got {quantity})",
    "InvalidAmount": "amount must be positive (got {amount})",
    "UnknownCurrency": "currency index {currency} has no cash token",
    "InsufficientSecurities": "{account} holds {available} of security {securityId}, needs {needed} (LACK)",
    "InsufficientCash": "{account} holds {available} cents of currency {currency}, needs {needed} (MONY)",
    "InstructionFinal": "instruction {id} has already settled or been cancelled",
    "SameAccount": "deliverer and receiver are the same account {account}",
    "SecurityAlreadyListed": "security {id} is already listed",
    "ParticipantIdTaken": "participant id {id} is already registered",
    "AccountAlreadyRegistered": "account {account} is already registered",
    "TransfersRestricted": "holders cannot move settlement tokens themselves; only settlement and the CSD may",
    "AccessControlUnauthorizedAccount": "{account} lacks the role {neededRole} for this function",
    "EnforcedPause": "the contract is paused",
    "BatchFailed": "all-or-nothing batch failed at instruction {id}: {reason}",
    "NetShortfall": "all-or-nothing batch would leave account #{accountIndex} short of {assetId} (cash: {cash})",
    "BadObligation": "obligation {id} is malformed (slots do not match its parties or security)",
    "ERC6909InsufficientBalance": "{sender} holds {balance} of security {id}, needs {needed}",
    "ERC20InsufficientBalance": "{sender} holds {balance} cents, needs {needed}",
    # RiskGate
    "StaleValuation": "risk posting for {account} is for valuation date {given}, older than the posted {posted}",
    "InvalidValuationDate": "valuation date {valuationDate} is not a yyyymmdd date",
    "EmptyBatch": "a risk posting batch needs at least one participant",
    "InvalidDigest": "the parameter-file digest for valuation date {valuationDate} must not be zero",
    "ReceiverIneligible": "{account} is not eligible to receive deliveries (risk gate: margin call or default)",
    # InstructionVerifier (side: 1 = the first or only signature, 2 = the second of a pair)
    "SignatureLengthInvalid": "signature {side} is {length} bytes long; a 65-byte (r, s, v) signature is expected",
    "SignatureSInvalid": "signature {side} is malleated (its s is in the upper half of the curve order); "
                         "only the canonical low-s form is accepted",
    "SignatureInvalid": "signature {side} recovers to no address (v must be 27 or 28)",
    "NotMirrored": "the two instructions are not mirror images of each other: {field} does not match",
}

_ROLE_NAMES = {keccak(text=r): r for r in (
    "REGISTRAR_ROLE", "STATUS_ROLE", "LISTING_ROLE", "CSD_OPERATOR_ROLE", "SETTLEMENT_ROLE", "PAUSER_ROLE",
    "ISSUER_ROLE", "SETTLER_ROLE", "CONFIG_ROLE", "RISK_ENGINE_ROLE",
)}
_ROLE_NAMES[b"\x00" * 32] = "DEFAULT_ADMIN_ROLE"


def _render(value: Any, arg_type: str, arg_name: str, namer: AddressNamer | None) -> str:
    if arg_type == "address":
        value = to_checksum_address(value)  # eth_abi decodes lower case; names are keyed by checksum address
        named = namer(value) if namer else None
        return f"{named} ({value})" if named else str(value)
    if arg_name == "reason" and arg_type == "uint8":
        return _REASONS.get(int(value), str(value))
    if arg_name in ("status",) and arg_type == "uint8":
        return _STATUSES.get(int(value), str(value))
    if arg_type == "bytes32" and isinstance(value, bytes | bytearray):
        return _ROLE_NAMES.get(bytes(value), "0x" + bytes(value).hex())
    if arg_type.startswith("bytes") and isinstance(value, bytes | bytearray):
        text = bytes(value).rstrip(b"\x00")
        return text.decode("ascii") if text.isascii() and text.isalnum() else "0x" + bytes(value).hex()
    return str(value)


def decode_revert(data: bytes | str | None, namer: AddressNamer | None = None) -> ChainError:
    """Turn raw revert data into a ChainError with a readable message."""
    if isinstance(data, str):
        data = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    if not data:
        return ChainError("transaction reverted without a reason")
    selector, body = data[:4], data[4:]
    if selector == keccak(text="Error(string)")[:4]:
        (msg,) = abi_decode(["string"], body)
        return ChainError(f"reverted: {msg}", "Error", {"message": msg})
    if selector == keccak(text="Panic(uint256)")[:4]:
        (code,) = abi_decode(["uint256"], body)
        return ChainError(f"contract panic 0x{code:x} (arithmetic or bounds check)", "Panic", {"code": code})
    err = _error_table().get(selector)
    if err is None:
        return ChainError(f"reverted with unknown error 0x{data.hex()}")
    values = abi_decode(list(err.arg_types), body)
    args = dict(zip(err.arg_names, values, strict=True))
    shown = {n: _render(v, t, n, namer) for n, v, t in zip(err.arg_names, values, err.arg_types, strict=True)}
    template = _TEMPLATES.get(err.name)
    message = template.format(**shown) if template else f"{err.name}({', '.join(f'{k}={v}' for k, v in shown.items())})"
    return ChainError(message, err.name, args)


def revert_data_of(exc: BaseException) -> bytes | None:
    """Extract revert data from the exception web3 or a provider raised, if it carries any."""
    for attr in ("data",):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and value.startswith("0x"):
            return bytes.fromhex(value[2:])
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        if isinstance(value, dict) and isinstance(value.get("data"), str):
            return bytes.fromhex(value["data"][2:])
    args: Sequence[Any] = getattr(exc, "args", ())
    for a in args:
        # eth-tester reports reverts as "execution reverted: b'...'" with the raw bytes' repr.
        if isinstance(a, str) and a.startswith("execution reverted: b"):
            try:
                raw = ast.literal_eval(a[len("execution reverted: "):])
            except (ValueError, SyntaxError):
                continue
            if isinstance(raw, bytes):
                return raw
        if isinstance(a, str) and a.startswith("0x") and len(a) >= 10:
            try:
                return bytes.fromhex(a[2:])
            except ValueError:
                continue
        if isinstance(a, bytes | bytearray):
            return bytes(a)
    return None
