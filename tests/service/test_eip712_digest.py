"""The direct EIP-712 encoding of a settlement instruction gives the same digest as eth-account's general
encoder for any instruction, domain and text (what the chain's verifier and every node also compute)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from api import eip712

_text = st.text(min_size=0, max_size=24)
_u256 = st.integers(min_value=0, max_value=2**256 - 1)
_address = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


def _reference(data: dict[str, Any]) -> bytes:
    m = encode_typed_data(full_message=data)
    return keccak(b"\x19" + m.version + m.header + m.body)


@settings(max_examples=300, deadline=None)
@given(participant=_text, counterparty=_text, direction=st.sampled_from(["deliver", "receive"]), security=_text,
       quantity=_u256, amount=_u256, currency=_text, date=_text, reference=_text, nonce=_u256, expiry=_u256,
       chain_id=st.integers(min_value=1, max_value=2**64), contract=_address)
def test_direct_digest_equals_the_general_encoder(participant: str, counterparty: str, direction: str, security: str,
                                                  quantity: int, amount: int, currency: str, date: str,
                                                  reference: str, nonce: int, expiry: int, chain_id: int,
                                                  contract: str) -> None:
    fields = {"participant_id": participant, "counterparty_id": counterparty, "direction": direction,
              "security_code": security, "quantity": quantity, "amount_cents": amount, "currency": currency,
              "settlement_date": date, "sender_reference": reference, "nonce": nonce, "expiry": expiry}
    data = eip712.typed_data(fields, chain_id, contract)
    assert eip712.instruction_digest(data) == _reference(data)


def test_recovery_uses_it_and_other_typed_data_still_verifies() -> None:
    acct = Account.create()
    fields = {"participant_id": "B00001", "counterparty_id": "B00002", "direction": "deliver",
              "security_code": "00700", "quantity": 100, "amount_cents": 1, "currency": "HKD",
              "settlement_date": "2026-11-23", "sender_reference": "R1", "nonce": 7, "expiry": 2_000_000_000}
    data = eip712.typed_data(fields, 1337, "0x" + "ab" * 20)
    signer, digest = eip712.recover_with_digest(data, eip712.sign(data, acct.key))
    assert signer == acct.address and digest == "0x" + _reference(data).hex() == eip712.digest(data)
    # a different message shape falls back to the general encoder
    other = {**data, "types": {"EIP712Domain": data["types"]["EIP712Domain"],
                               "Other": [{"name": "x", "type": "uint256"}]},
             "primaryType": "Other", "message": {"x": 5}}
    assert eip712.instruction_digest(other) == _reference(other)
    with pytest.raises(ValueError):
        eip712.instruction_digest({**data, "message": {**data["message"], "quantity": -1}})
