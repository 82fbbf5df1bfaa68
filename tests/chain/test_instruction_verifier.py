"""InstructionVerifier: participants' EIP-712 instruction signatures checked on chain against the registry.

Signatures are made exactly as participant nodes make them (api.eip712 over eth-account), in the
engine's signing domain; the chain must agree with eth-account on the digest and on who signed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from chain_testkit import World, participant_address
from eth_account import Account
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import eip712
from ledger.anvil import anvil_binary, anvil_node
from ledger.chain import Chain, ChainConfig
from ledger.deployment import add_verifier, bind, deploy
from ledger.errors import ChainError
from ledger.instruction_verifier import InstructionVerifier, as_struct, instruction_fields
from ledger.onchain import InputError, Kind, OnChainLedger

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# Gas ceilings as a transaction's gasUsed; measured 41.5k and 66.4k (embedded and Anvil agree). A regression
# well past these is a change in the contract worth looking at.
VERIFY_GAS_MAX = 50_000
VERIFY_PAIR_GAS_MAX = 80_000


def key_of(pid: str) -> bytes:
    return keccak(f"ledgerclear-tests/{pid}".encode())  # chain_testkit.participant_address's key


def fields(pid: str = "B00001", cp: str = "B00002", direction: str = "deliver", **over: Any) -> dict[str, Any]:
    f = {"participant_id": pid, "counterparty_id": cp, "direction": direction, "security_code": "700",
         "quantity": 300, "amount_cents": 12_378_000, "currency": "HKD", "settlement_date": "2026-11-24",
         "sender_reference": f"REF-{pid}", "nonce": 7, "expiry": 1_900_000_000}
    f.update(over)
    return f


def signed(world: World, f: dict[str, Any], key: bytes | None = None, chain_id: int | None = None,
           contract: str | None = None) -> tuple[dict[str, Any], str]:
    """(typed-data message, signature) of `f`, by the participant's own key unless `key` is given."""
    data = eip712.typed_data(f, chain_id or world.chain.chain_id, contract or world.dep.engine.address)
    return data["message"], eip712.sign(data, key or key_of(f["participant_id"]))


def mirror(f: dict[str, Any]) -> dict[str, Any]:
    return {**f, "participant_id": f["counterparty_id"], "counterparty_id": f["participant_id"],
            "direction": "receive" if f["direction"] == "deliver" else "deliver",
            "sender_reference": f["sender_reference"] + "-M", "nonce": f["nonce"] + 1}


@pytest.fixture
def v(world: World) -> InstructionVerifier:
    return InstructionVerifier(world.dep)


def test_registered_key_verifies(world: World, v: InstructionVerifier) -> None:
    msg, sig = signed(world, fields())
    check = v.verify(msg, sig)
    assert check.valid and check.signer == world.addr["B00001"] and check.participant_id == "B00001"


def test_another_key_is_returned_but_not_valid(world: World, v: InstructionVerifier) -> None:
    # another registered participant's key, and a key nobody registered
    for key, who in ((key_of("B00002"), world.addr["B00002"]), (b"\x11" * 32, Account.from_key(b"\x11" * 32).address)):
        msg, sig = signed(world, fields(), key=key)
        check = v.verify(msg, sig)
        assert not check.valid and check.signer == who


def test_unregistered_or_aliasing_participant_ids_are_not_valid(world: World, v: InstructionVerifier) -> None:
    # the registry has no "Z99999"; "B00001\0" and "B00001XYZ" must not read as B00001 (bytes8 padding, truncation)
    for pid in ("Z99999", "B00001\x00", "B00001XYZ", ""):
        msg, sig = signed(world, fields(pid=pid), key=key_of("B00001"))
        check = v.verify(msg, sig)
        assert not check.valid and check.signer == world.addr["B00001"], pid


@pytest.mark.parametrize("name", [n for n, _ in instruction_fields()])
def test_any_tampered_field_fails(world: World, v: InstructionVerifier, name: str) -> None:
    msg, sig = signed(world, fields())
    value = msg[name]
    tampered = {**msg, name: value + 1 if isinstance(value, int) else value + "x"}
    check = v.verify(tampered, sig)
    assert not check.valid and check.signer != world.addr["B00001"]


def test_signature_for_another_domain_fails(world: World, v: InstructionVerifier) -> None:
    # the same instruction signed for another chain id or another engine does not verify here
    for chain_id, contract in ((1, None), (None, "0x" + "22" * 20), (None, v.address)):
        msg, sig = signed(world, fields(), chain_id=chain_id, contract=contract)
        assert not v.verify(msg, sig).valid


def _high_s(sig: str) -> str:
    raw = bytes.fromhex(sig[2:])
    r, s, v_ = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
    # (r, n - s, v flipped) is the other valid signature of the same digest: malleable, so refused
    return "0x" + (r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v_])).hex()


def test_malformed_signatures_revert_readably(world: World, v: InstructionVerifier,
                                              expect_revert: Callable[..., ChainError]) -> None:
    msg, sig = signed(world, fields())
    for bad, length in ((sig[:-2], 64), (sig + "00", 66), ("0x", 0)):
        err = expect_revert("SignatureLengthInvalid", v.verify, msg, bad)
        assert err.args_by_name == {"side": 1, "length": length} and f"{length} bytes" in str(err)
    err = expect_revert("SignatureSInvalid", v.verify, msg, _high_s(sig))
    assert "malleated" in str(err) and err.args_by_name["side"] == 1
    err = expect_revert("SignatureInvalid", v.verify, msg, sig[:-2] + "1d")  # v = 29
    assert "v must be 27 or 28" in str(err)
    # in a pair, the message names which side is bad
    b_msg, b_sig = signed(world, mirror(fields()))
    err = expect_revert("SignatureLengthInvalid", v.verify_pair, msg, sig, b_msg, b_sig[:-4])
    assert err.args_by_name == {"side": 2, "length": 63}
    # a high-s signature really is the same signer's (eth-keys accepts it), so only the chain's rule refuses it
    assert Account._recover_hash(bytes.fromhex(eip712.digest(
        eip712.typed_data(fields(), world.chain.chain_id, world.dep.engine.address))[2:]),
        signature=_high_s(sig)) == world.addr["B00001"]


def test_bad_input_is_refused_before_the_chain(world: World, v: InstructionVerifier) -> None:
    msg, sig = signed(world, fields())
    with pytest.raises(InputError, match="quantity"):
        v.verify({**msg, "quantity": -1}, sig)
    with pytest.raises(InputError, match="nonce"):
        v.verify({**msg, "nonce": 2**256}, sig)
    with pytest.raises(InputError, match="expiry"):
        v.verify({k: x for k, x in msg.items() if k != "expiry"}, sig)
    with pytest.raises(InputError, match="hex"):
        v.verify(msg, "0xzz")


def test_pair_of_mirror_images_verifies_both_sides(world: World, v: InstructionVerifier) -> None:
    a, b = fields(), mirror(fields())
    (ma, sa), (mb, sb) = signed(world, a), signed(world, b)
    for first, second in (((ma, sa), (mb, sb)), ((mb, sb), (ma, sa))):  # either order
        pair = v.verify_pair(*first, *second)
        assert pair.valid and {pair.first.signer, pair.second.signer} == {world.addr["B00001"], world.addr["B00002"]}
    # a mirrored pair where one side was signed by the wrong key: only that side fails
    _, wrong = signed(world, b, key=key_of("B00003"))
    pair = v.verify_pair(ma, sa, mb, wrong)
    assert pair.first.valid and not pair.second.valid and pair.second.signer == world.addr["B00003"]
    assert not pair.valid


@pytest.mark.parametrize(("change", "field"), [
    ({"direction": "deliver"}, "direction"),
    ({"direction": "DELIVER"}, "direction"),
    # fields are named from the first side: b's participant must be a's counterparty and vice versa
    ({"participant_id": "B00003"}, "counterpartyId"),
    ({"counterparty_id": "B00003"}, "participantId"),
    ({"security_code": "5"}, "securityCode"),
    ({"quantity": 301}, "quantity"),
    ({"amount_cents": 12_378_001}, "amountCents"),
    ({"currency": "USD"}, "currency"),
    ({"settlement_date": "2026-11-25"}, "settlementDate"),
])
def test_pair_that_is_not_a_mirror_is_rejected(world: World, v: InstructionVerifier,
                                               expect_revert: Callable[..., ChainError],
                                               change: dict[str, Any], field: str) -> None:
    a = fields()
    b = {**mirror(a), **change}
    (ma, sa), (mb, sb) = signed(world, a), signed(world, b, key=key_of(b["participant_id"]))
    err = expect_revert("NotMirrored", v.verify_pair, ma, sa, mb, sb)
    assert err.args_by_name == {"field": field} and field in str(err)


def test_pair_with_itself_is_rejected(world: World, v: InstructionVerifier,
                                      expect_revert: Callable[..., ChainError]) -> None:
    a = fields(cp="B00001")  # a participant instructing against itself, both "sides" signed by it
    (ma, sa), (mb, sb) = signed(world, a), signed(world, mirror(a))
    assert expect_revert("NotMirrored", v.verify_pair, ma, sa, mb, sb).args_by_name == {"field": "counterpartyId"}


def test_domain_is_the_engines(world: World, v: InstructionVerifier) -> None:
    fields_, name, version, chain_id, contract, salt, ext = world.chain.call(v.contract.functions.eip712Domain())
    assert (fields_, name, version, chain_id, contract, salt, ext) == (
        b"\x0f", eip712.DOMAIN_NAME, eip712.DOMAIN_VERSION, world.chain.chain_id, world.dep.engine.address,
        b"\x00" * 32, [])
    assert world.chain.call(v.contract.functions.registry()) == world.dep.registry.address


def test_gas(world: World, v: InstructionVerifier, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = fields(), mirror(fields())
    (ma, sa), (mb, sb) = signed(world, a), signed(world, b)
    admin = world.dep.operators.admin
    # sent as transactions (the view functions run the same code), gasUsed read from the receipts
    single = world.send(v.contract.functions.verify(as_struct(ma), bytes.fromhex(sa[2:])), admin).gas_used
    pair = world.send(v.contract.functions.verifyPair(as_struct(ma), bytes.fromhex(sa[2:]), as_struct(mb),
                                                      bytes.fromhex(sb[2:])), admin).gas_used
    est_single, est_pair = v.gas_of_verify(ma, sa), v.gas_of_verify_pair(ma, sa, mb, sb)
    with capsys.disabled():
        print(f"\nInstructionVerifier gas, embedded: verify {single} (estimate {est_single}), "
              f"verifyPair {pair} (estimate {est_pair})")
    assert 21_000 < single <= VERIFY_GAS_MAX and single < pair <= VERIFY_PAIR_GAS_MAX
    assert est_single >= single and est_pair >= pair  # an estimate that runs short would make a sender fail


_text = st.text(st.characters(codec="utf-8"), max_size=40)  # any Unicode that UTF-8 can carry
_uint = st.one_of(st.integers(0, 2**64), st.integers(0, 2**256 - 1), st.sampled_from([0, 2**256 - 1, 2**255]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({
    "participant_id": _text, "counterparty_id": _text, "direction": _text, "security_code": _text,
    "quantity": _uint, "amount_cents": _uint, "currency": _text, "settlement_date": _text,
    "sender_reference": _text, "nonce": _uint, "expiry": _uint}),
    key=st.binary(min_size=32, max_size=32).filter(lambda k: 0 < int.from_bytes(k, "big") < SECP256K1_N))
def test_chain_digest_equals_eth_account(base_world: World, values: dict[str, Any], key: bytes) -> None:
    # view calls only, so the session chain needs no snapshot
    v = InstructionVerifier(base_world.dep)
    data = eip712.typed_data(values, base_world.chain.chain_id, base_world.dep.engine.address)
    assert "0x" + v.digest(data["message"]).hex() == eip712.digest(data)
    check = v.verify(data["message"], eip712.sign(data, key))
    assert check.signer == Account.from_key(key).address
    assert check.valid is (values["participant_id"] in base_world.addr
                           and participant_address(values["participant_id"]) == check.signer)


def test_deployment_describes_and_binds_the_verifier(world: World) -> None:
    desc = world.dep.describe()
    assert desc["contracts"]["InstructionVerifier"] == world.dep.verifier.address  # type: ignore[union-attr]
    again = bind(world.chain, desc)
    assert again.verifier is not None and again.verifier.address == world.dep.verifier.address  # type: ignore[union-attr]
    # a deployment.json written before the verifier existed binds without one; one can be added beside it
    old = {**desc, "contracts": {k: a for k, a in desc["contracts"].items() if k != "InstructionVerifier"}}
    legacy = bind(world.chain, old)
    with pytest.raises(Exception, match="no InstructionVerifier"):
        InstructionVerifier(legacy)
    added = InstructionVerifier(add_verifier(legacy))
    msg, sig = signed(world, fields())
    assert added.verify(msg, sig).valid  # signatures made before it existed verify: same (engine) domain


@pytest.mark.anvil
@pytest.mark.skipif(anvil_binary() is None, reason="Anvil not installed (npm install)")
def test_on_anvil(capsys: pytest.CaptureFixture[str]) -> None:
    with anvil_node() as rpc:
        chain = Chain.connect(ChainConfig(rpc_url=rpc))
        dep = deploy(chain)
        OnChainLedger(dep).register_participants([(p, participant_address(p), Kind.BROKER) for p in ("B00001", "B00002")])
        v = InstructionVerifier(bind(Chain.connect(ChainConfig(rpc_url=rpc)), dep.describe()))
        a, b = fields(), mirror(fields())
        da = eip712.typed_data(a, chain.chain_id, dep.engine.address)
        db = eip712.typed_data(b, chain.chain_id, dep.engine.address)
        sa, sb = eip712.sign(da, key_of("B00001")), eip712.sign(db, key_of("B00002"))
        assert "0x" + v.digest(da["message"]).hex() == eip712.digest(da)
        assert v.verify(da["message"], sa).valid and not v.verify(da["message"], sb).valid
        assert v.verify_pair(da["message"], sa, db["message"], sb).valid
        with pytest.raises(ChainError) as info:
            v.verify(da["message"], sa[:-2])
        assert info.value.name == "SignatureLengthInvalid"
        with pytest.raises(ChainError) as info:
            v.verify_pair(da["message"], sa, da["message"], sa)
        assert info.value.name == "NotMirrored"
        # gas as transactions (a receipt's gasUsed) as well as estimated
        fn_single = v.contract.functions.verify(as_struct(da["message"]), bytes.fromhex(sa[2:]))
        used = chain.send(fn_single, dep.operators.admin).gas_used
        est = v.gas_of_verify(da["message"], sa)
        pair = v.gas_of_verify_pair(da["message"], sa, db["message"], sb)
        with capsys.disabled():
            print(f"\nInstructionVerifier gas on Anvil: verify {used} (tx gasUsed) / {est} (estimate), "
                  f"verifyPair {pair} (estimate)")
        assert used <= VERIFY_GAS_MAX and pair <= VERIFY_PAIR_GAS_MAX

