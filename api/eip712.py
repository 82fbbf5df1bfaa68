"""EIP-712 typed data of a settlement instruction: what a participant node signs and the service verifies.

Shared by the client (api/node) and the server (api/service), so neither imports the other.

Domain: name "ledgerclear", version "1", chainId, verifyingContract = the SettlementEngine address.
Primary type `SettlementInstruction` with the fields of `INSTRUCTION_TYPE` (order matters for the hash).
"""

from __future__ import annotations

import functools
from typing import Any

import ledger.keccak_backend  # noqa: F401 - eth-hash's Keccak backend, chosen before anything here hashes
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

DOMAIN_NAME = "ledgerclear"
DOMAIN_VERSION = "1"
PRIMARY_TYPE = "SettlementInstruction"

INSTRUCTION_TYPE: list[dict[str, str]] = [
    {"name": "participantId", "type": "string"},
    {"name": "counterpartyId", "type": "string"},
    {"name": "direction", "type": "string"},  # "deliver" | "receive"
    {"name": "securityCode", "type": "string"},
    {"name": "quantity", "type": "uint256"},
    {"name": "amountCents", "type": "uint256"},
    {"name": "currency", "type": "string"},
    {"name": "settlementDate", "type": "string"},  # yyyy-mm-dd
    {"name": "senderReference", "type": "string"},
    {"name": "nonce", "type": "uint256"},
    {"name": "expiry", "type": "uint256"},  # unix seconds
]
DOMAIN_TYPE: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

# API field name -> typed-data field name
FIELDS: dict[str, str] = {
    "participant_id": "participantId", "counterparty_id": "counterpartyId", "direction": "direction",
    "security_code": "securityCode", "quantity": "quantity", "amount_cents": "amountCents",
    "currency": "currency", "settlement_date": "settlementDate", "sender_reference": "senderReference",
    "nonce": "nonce", "expiry": "expiry",
}


def domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id,
            "verifyingContract": verifying_contract}


def typed_data(fields: dict[str, Any], chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The full EIP-712 message for instruction `fields` (API names, as in SignedFields)."""
    message = {FIELDS[k]: fields[k] for k in FIELDS}
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, PRIMARY_TYPE: INSTRUCTION_TYPE},
        "primaryType": PRIMARY_TYPE,
        "domain": domain(chain_id, verifying_contract),
        "message": message,
    }


def _general_digest(data: dict[str, Any]) -> bytes:
    m = encode_typed_data(full_message=data)
    return keccak(b"\x19" + m.version + m.header + m.body)


def digest(data: dict[str, Any]) -> str:
    """By eth-account's general encoder (the tests' independent reference for `instruction_digest`)."""
    return "0x" + _general_digest(data).hex()


def sign(data: dict[str, Any], private_key: bytes | str) -> str:
    signed = Account.sign_message(encode_typed_data(full_message=data), private_key)
    return "0x" + bytes(signed.signature).hex()


def _type_string(name: str, fields: list[dict[str, str]]) -> bytes:
    members = ",".join(f"{f['type']} {f['name']}" for f in fields)
    return f"{name}({members})".encode()


_DOMAIN_TYPEHASH = keccak(_type_string("EIP712Domain", DOMAIN_TYPE))
_INSTRUCTION_TYPEHASH = keccak(_type_string(PRIMARY_TYPE, INSTRUCTION_TYPE))
_DOMAIN_KEYS = {f["name"] for f in DOMAIN_TYPE}


@functools.lru_cache(maxsize=16)
def _domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    return keccak(_DOMAIN_TYPEHASH + keccak(DOMAIN_NAME.encode()) + keccak(DOMAIN_VERSION.encode())
                  + chain_id.to_bytes(32, "big") + bytes.fromhex(verifying_contract[2:]).rjust(32, b"\0"))


def instruction_digest(data: dict[str, Any]) -> bytes:
    """The EIP-712 digest of `data` as made by `typed_data` (our one primary type, its fields all `string` or
    `uint256`), encoded directly: the same bytes as eth-account's general encoder (tested), at a fraction of
    its cost; any other typed data goes to that encoder."""
    d = data.get("domain") or {}
    if data.get("types") != {"EIP712Domain": DOMAIN_TYPE, PRIMARY_TYPE: INSTRUCTION_TYPE} \
            or data.get("primaryType") != PRIMARY_TYPE or set(d) != _DOMAIN_KEYS \
            or d["name"] != DOMAIN_NAME or d["version"] != DOMAIN_VERSION:
        return _general_digest(data)
    msg = data["message"]
    parts = [_INSTRUCTION_TYPEHASH]
    for f in INSTRUCTION_TYPE:
        v = msg[f["name"]]
        if f["type"] == "string":
            parts.append(keccak(str(v).encode()))
        else:
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**256:
                raise ValueError(f"{f['name']} must be an unsigned 256-bit integer")
            parts.append(v.to_bytes(32, "big"))
    return keccak(b"\x19\x01" + _domain_separator(int(d["chainId"]), str(d["verifyingContract"]))
                  + keccak(b"".join(parts)))


def recover_with_digest(data: dict[str, Any], signature: str) -> tuple[str, str]:
    """(signer, digest) of `data` with one encoding of the typed data (the same as `recover` and `digest`);
    raises ValueError on a malformed signature."""
    h = instruction_digest(data)
    try:
        signer = str(Account._recover_hash(h, signature=signature))  # type: ignore[arg-type]
    except Exception as exc:  # eth-keys raises several types for bad signatures
        raise ValueError(f"signature cannot be recovered: {exc}") from None
    return signer, "0x" + h.hex()


def recover(data: dict[str, Any], signature: str) -> str:
    """The address that signed `data`; raises ValueError on a malformed signature."""
    try:
        return str(Account.recover_message(encode_typed_data(full_message=data), signature=signature))
    except Exception as exc:  # eth-keys raises several types for bad signatures
        raise ValueError(f"signature cannot be recovered: {exc}") from None
