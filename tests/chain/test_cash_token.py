"""CashToken: decimals, issue/issueBatch/redeem, each revert, restrictions, roles, pause."""

from __future__ import annotations

import pytest
from chain_testkit import CURRENCIES, World, mentions, participant_address

from ledger.onchain import InputError, Status

UNREGISTERED = participant_address("nobody")
REF = b"RTGS-0001".ljust(32, b"\x00")


def _hkd(world: World):  # type: ignore[no-untyped-def]
    return world.dep.cash["HKD"]


def test_metadata(world: World) -> None:
    for i, code in enumerate(CURRENCIES):
        tok = world.dep.cash[code]
        assert world.chain.call(tok.functions.decimals()) == 2
        assert world.chain.call(tok.functions.currency()) == code.encode()
        assert world.chain.call(tok.functions.symbol()) == code
        assert world.chain.call(world.dep.engine.functions.cashTokens(i)) == tok.address
    assert world.chain.call(world.dep.engine.functions.currencyCount()) == len(CURRENCIES)


def test_issue_and_redeem(world: World) -> None:
    b4 = world.addr["B00004"]
    supply = world.ol.cash_supply("HKD")
    rcpt = world.send(_hkd(world).functions.issue(b4, 12_345, REF), world.ops.bank)
    ev = [e for e in world.chain.events(rcpt) if e.name == "Issued"]
    assert ev[0].args == {"account": b4, "amount": 12_345, "rtgsRef": REF}
    assert world.cash("B00004") == 12_345 and world.ol.cash_supply("HKD") == supply + 12_345
    world.ol.redeem_cash(b4, "HKD", 345, reference="wd-1")
    assert world.cash("B00004") == 12_000 and world.ol.cash_supply("HKD") == supply + 12_000
    assert world.cash("B00004", "USD") == 0  # currencies are separate tokens
    assert world.conserved()


def test_issue_batch(world: World) -> None:
    b4, c1 = world.addr["B00004"], world.addr["C00001"]
    world.ol.issue_cash_many("USD", [(b4, 100), (c1, 200), (b4, 1)], reference="top-up", chunk=2)
    assert world.cash("B00004", "USD") == 101 and world.cash("C00001", "USD") == 200


def test_issue_batch_all_or_none_and_length(world: World, expect_revert) -> None:
    b4 = world.addr["B00004"]
    expect_revert("UnknownParticipant", world.ol.issue_cash_many, "HKD", [(b4, 100), (UNREGISTERED, 5)])
    assert world.cash("B00004") == 0
    expect_revert("LengthMismatch", world.send, _hkd(world).functions.issueBatch([b4], [1, 2], REF), world.ops.bank)


@pytest.mark.parametrize("op", ["issue", "redeem"])
def test_zero_amount(world: World, expect_revert, op: str) -> None:
    err = expect_revert("InvalidAmount", world.send,
                        getattr(_hkd(world).functions, op)(world.addr["B00001"], 0, REF), world.ops.bank)
    assert "amount must be positive" in str(err)
    with pytest.raises(InputError):
        getattr(world.ol, f"{op}_cash")(world.addr["B00001"], "HKD", 0)


@pytest.mark.parametrize("op", ["issue", "redeem"])
def test_unknown_participant(world: World, expect_revert, op: str) -> None:
    err = expect_revert("UnknownParticipant", getattr(world.ol, f"{op}_cash"), UNREGISTERED, "HKD", 10)
    assert mentions(err, UNREGISTERED)


@pytest.mark.parametrize("op", ["issue", "redeem"])
@pytest.mark.parametrize("status", [Status.SUSPENDED, Status.DEFAULTED])
def test_suspended_participant(world: World, expect_revert, op: str, status: Status) -> None:
    a = world.addr["B00001"]
    world.ol.set_status(a, status)
    err = expect_revert("AccountSuspended", getattr(world.ol, f"{op}_cash"), a, "HKD", 10)
    assert mentions(err, a) and "not active" in str(err)


def test_redeem_more_than_held(world: World, expect_revert) -> None:
    err = expect_revert("ERC20InsufficientBalance", world.ol.redeem_cash, world.addr["B00001"], "USD", 1_000_001)
    assert "1000000" in str(err) and "1000001" in str(err)


def test_unknown_currency_in_python(world: World) -> None:
    with pytest.raises(InputError, match="EUR"):
        world.ol.issue_cash(world.addr["B00001"], "EUR", 10)


def test_transfers_restricted(world: World, expect_revert) -> None:
    holder = world.spare
    world.ol.register_participant("C00099", holder, 1)
    world.ol.issue_cash(holder, "HKD", 500)
    fns = _hkd(world).functions
    b = world.addr["B00002"]
    for fn in (fns.transfer(b, 1), fns.transferFrom(holder, b, 1), fns.approve(b, 1)):
        err = expect_revert("TransfersRestricted", world.send, fn, holder)
        assert "holders cannot move" in str(err)
    assert world.cash(holder) == 500


def test_roles(world: World, expect_revert) -> None:
    fns = _hkd(world).functions
    a, b = world.addr["B00001"], world.addr["B00002"]
    for fn in (fns.issue(a, 1, REF), fns.redeem(a, 1, REF), fns.issueBatch([a], [1], REF)):
        for sender in (world.ops.csd, world.ops.settler, world.outsider):
            err = expect_revert("AccessControlUnauthorizedAccount", world.send, fn, sender)
            assert "ISSUER_ROLE" in str(err)
    for fn in (fns.settlementTransfer(a, b, 1), fns.settlementApply([a, b], [-1, 1])):
        err = expect_revert("AccessControlUnauthorizedAccount", world.send, fn, world.ops.bank)
        assert "SETTLEMENT_ROLE" in str(err)
    err = expect_revert("AccessControlUnauthorizedAccount", world.send, fns.pause(), world.ops.bank)
    assert "PAUSER_ROLE" in str(err)


def test_pause(world: World, expect_revert) -> None:
    fns = _hkd(world).functions
    a, b4 = world.addr["B00001"], world.addr["B00004"]
    world.send(fns.pause(), world.ops.admin)
    expect_revert("EnforcedPause", world.ol.issue_cash, a, "HKD", 1)
    expect_revert("EnforcedPause", world.ol.redeem_cash, a, "HKD", 1)
    expect_revert("EnforcedPause", world.ol.issue_cash_many, "HKD", [(a, 1)])
    world.ol.issue_cash(b4, "USD", 100)  # other currencies are unaffected
    world.send(fns.unpause(), world.ops.admin)
    world.ol.issue_cash(a, "HKD", 1)
    assert world.cash("B00001") == 50_000_001


def test_pause_blocks_dvp_cash_leg(world: World, expect_revert) -> None:
    from ledger.onchain import DvPInstruction
    a, b = world.addr["B00001"], world.addr["B00002"]
    world.send(_hkd(world).functions.pause(), world.ops.admin)
    expect_revert("EnforcedPause", world.ol.settle_dvp, DvPInstruction(7, a, b, 700, 10, "HKD", 1_000))
    assert world.ol.final_flags([7]) == [False]
    # free of payment does not touch the cash token
    world.ol.settle_dvp(DvPInstruction(8, a, b, 700, 10, "HKD", 0))
    assert world.sec("B00002", 700) == 2_010
