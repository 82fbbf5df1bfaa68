"""Build and sign a settlement instruction as EIP-712 typed data (the key never leaves the node)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from api import eip712


def instruction_fields(participant_id: str, counterparty_id: str, direction: str, security_code: str,
                       quantity: int, amount_cents: int, currency: str, settlement_date: str,
                       sender_reference: str, nonce: int | None = None, expiry: int | None = None,
                       ttl_s: int = 3600) -> dict[str, Any]:
    return {"participant_id": participant_id, "counterparty_id": counterparty_id, "direction": direction,
            "security_code": security_code, "quantity": quantity, "amount_cents": amount_cents,
            "currency": currency, "settlement_date": settlement_date, "sender_reference": sender_reference,
            "nonce": secrets.randbits(128) if nonce is None else nonce,
            "expiry": int(time.time()) + ttl_s if expiry is None else expiry}


def sign_instruction(fields: dict[str, Any], private_key: bytes, chain_id: int, verifying_contract: str) -> str:
    return eip712.sign(eip712.typed_data(fields, chain_id, verifying_contract), private_key)


def sign_with_domain(fields: dict[str, Any], private_key: bytes, domain: dict[str, Any]) -> str:
    """`domain` as served by GET /v1/signing-domain (its `domain` member)."""
    return sign_instruction(fields, private_key, int(domain["chainId"]), str(domain["verifyingContract"]))
