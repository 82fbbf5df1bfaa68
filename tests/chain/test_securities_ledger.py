"""SecuritiesLedger: listing, deposits and withdrawals, freezes, operator transfers, restrictions, roles, pause."""

from __future__ import annotations

import pytest
from chain_testkit import SECURITIES, World, mentions, participant_address

from ledger.errors import ChainError
from ledger.onchain import InputError, Status, isin_bytes

UNREGISTERED = participant_address("nobody")


def _ledger(world: World):  # type: ignore[no-untyped-def]
    return world.dep.ledger


# ---- listing ------------------------------------------------------------------------------------------

def test_listing_state(world: World) -> None:
    led = _ledger(world)
    assert world.chain.call(led.functions.securityCount()) == len(SECURITIES)
    for sid, isin in SECURITIES.items():
        assert world.chain.call(led.functions.isListed(sid)) is True
        assert world.chain.call(led.functions.isinOf(sid)) == isin.encode()
    assert world.chain.call(led.functions.isListed(9999)) is False


def test_list_security_and_securities(world: World) -> None:
    rcpt = world.send(_ledger(world).functions.listSecurity(1299, isin_bytes("HK1299000004")), world.ops.csd)
    assert [e.args["id"] for e in world.chain.events(rcpt) if e.name == "SecurityListed"] == [1299]
    world.ol.list_securities([(2318, "HK2318000005"), (941, "HK0941000006")], chunk=1)
    for sid in (1299, 2318, 941):
        assert world.chain.call(_ledger(world).functions.isListed(sid))
    assert world.chain.call(_ledger(world).functions.securityCount()) == len(SECURITIES) + 3


def test_already_listed(world: World, expect_revert) -> None:
    err = expect_revert("SecurityAlreadyListed", world.ol.list_security, 700, "HK0700000009")
    assert "security 700 is already listed" in str(err)
    # listSecurities is all-or-none: 2318 is not listed either
    expect_revert("SecurityAlreadyListed", world.ol.list_securities, [(2318, "HK2318000005"), (5, "HK0005000009")])
    assert not world.chain.call(_ledger(world).functions.isListed(2318))


@pytest.mark.parametrize("sid,isin", [(0, b"HK0000000001"), (2**128, b"HK0000000001"), (77, b"\x00" * 12)])
def test_invalid_security_id(world: World, expect_revert, sid: int, isin: bytes) -> None:
    err = expect_revert("InvalidSecurityId", world.send, _ledger(world).functions.listSecurity(sid, isin), world.ops.csd)
    assert err.args_by_name["id"] == sid


def test_invalid_listing_caught_in_python(world: World) -> None:
    with pytest.raises(InputError):
        world.ol.list_security(0, "HK0000000001")
    with pytest.raises(InputError):
        world.ol.list_security(77, "short")


def test_list_securities_length_mismatch(world: World, expect_revert) -> None:
    expect_revert("LengthMismatch", world.send,
                  _ledger(world).functions.listSecurities([1299, 2318], [isin_bytes("HK1299000004")]), world.ops.csd)


def test_listing_without_role(world: World, expect_revert) -> None:
    err = expect_revert("AccessControlUnauthorizedAccount", world.send,
                        _ledger(world).functions.listSecurity(1299, isin_bytes("HK1299000004")), world.outsider)
    assert "LISTING_ROLE" in str(err)
    err = expect_revert("AccessControlUnauthorizedAccount", world.send,
                        _ledger(world).functions.listSecurities([1299], [isin_bytes("HK1299000004")]), world.ops.bank)
    assert "LISTING_ROLE" in str(err)


# ---- deposits and withdrawals -------------------------------------------------------------------------

def test_deposit_and_withdraw(world: World) -> None:
    b4 = world.addr["B00004"]
    supply = world.ol.total_supply(388)
    world.ol.deposit(b4, 388, 250)
    assert world.sec("B00004", 388) == 250
    assert world.ol.total_supply(388) == supply + 250
    world.ol.withdraw(b4, 388, 100)
    assert world.sec("B00004", 388) == 150
    assert world.ol.total_supply(388) == supply + 150
    assert world.conserved()


def test_deposit_events(world: World) -> None:
    b4 = world.addr["B00004"]
    rcpt = world.send(_ledger(world).functions.deposit(b4, 5, 42), world.ops.csd)
    ev = [e for e in world.chain.events(rcpt) if e.name == "Deposited"]
    assert len(ev) == 1 and ev[0].args == {"account": b4, "id": 5, "quantity": 42}


def test_deposit_batch(world: World) -> None:
    b4, c1 = world.addr["B00004"], world.addr["C00001"]
    world.ol.deposit_many([(b4, 700, 10), (c1, 5, 20), (b4, 700, 5)], chunk=2)
    assert world.sec("B00004", 700) == 15 and world.sec("C00001", 5) == 20


def test_deposit_batch_all_or_none(world: World, expect_revert) -> None:
    b4 = world.addr["B00004"]
    expect_revert("UnknownSecurity", world.ol.deposit_many, [(b4, 700, 10), (b4, 9999, 5)])
    assert world.sec("B00004", 700) == 0


def test_deposit_batch_length_mismatch(world: World, expect_revert) -> None:
    b4 = world.addr["B00004"]
    expect_revert("LengthMismatch", world.send, _ledger(world).functions.depositBatch([b4, b4], [700], [1, 2]),
                  world.ops.csd)


@pytest.mark.parametrize("op", ["deposit", "withdraw"])
def test_movement_unknown_participant(world: World, expect_revert, op: str) -> None:
    err = expect_revert("UnknownParticipant", world.send,
                        getattr(_ledger(world).functions, op)(UNREGISTERED, 700, 1), world.ops.csd)
    assert mentions(err, UNREGISTERED)


@pytest.mark.parametrize("op", ["deposit", "withdraw"])
def test_movement_unknown_security(world: World, expect_revert, op: str) -> None:
    err = expect_revert("UnknownSecurity", world.send,
                        getattr(_ledger(world).functions, op)(world.addr["B00001"], 9999, 1), world.ops.csd)
    assert "security 9999 is not listed" in str(err)


@pytest.mark.parametrize("op", ["deposit", "withdraw"])
def test_movement_zero_quantity(world: World, expect_revert, op: str) -> None:
    err = expect_revert("InvalidQuantity", world.send,
                        getattr(_ledger(world).functions, op)(world.addr["B00001"], 700, 0), world.ops.csd)
    assert "quantity must be positive" in str(err)
    with pytest.raises(InputError):
        getattr(world.ol, op)(world.addr["B00001"], 700, 0)
    with pytest.raises(InputError):
        getattr(world.ol, op)(world.addr["B00001"], 700, -5)


@pytest.mark.parametrize("op", ["deposit", "withdraw"])
def test_movement_frozen_account(world: World, expect_revert, op: str) -> None:
    a = world.addr["B00001"]
    world.ol.set_frozen(a, True)
    err = expect_revert("AccountBlocked", getattr(world.ol, op), a, 700, 1)
    assert mentions(err, a) and "blocked" in str(err)
    world.ol.set_frozen(a, False)
    getattr(world.ol, op)(a, 700, 1)  # movable again


@pytest.mark.parametrize("status", [Status.SUSPENDED, Status.DEFAULTED])
def test_movement_suspended_account(world: World, expect_revert, status: Status) -> None:
    a = world.addr["B00001"]
    world.ol.set_status(a, status)
    expect_revert("AccountBlocked", world.ol.deposit, a, 700, 1)
    expect_revert("AccountBlocked", world.ol.withdraw, a, 700, 1)


def test_withdraw_more_than_held(world: World, expect_revert) -> None:
    err = expect_revert("ERC6909InsufficientBalance", world.ol.withdraw, world.addr["B00002"], 700, 2_001)
    assert "2000" in str(err) and "2001" in str(err)


def test_movements_without_role(world: World, expect_revert) -> None:
    a = world.addr["B00001"]
    led = _ledger(world).functions
    for fn in (led.deposit(a, 700, 1), led.withdraw(a, 700, 1), led.depositBatch([a], [700], [1]),
               led.operatorTransfer(a, world.addr["B00002"], 700, 1, b"\x00" * 32), led.setFrozen(a, True)):
        err = expect_revert("AccessControlUnauthorizedAccount", world.send, fn, world.ops.settler)
        assert "CSD_OPERATOR_ROLE" in str(err)


# ---- freezes ------------------------------------------------------------------------------------------

def test_set_frozen_event_and_reads(world: World) -> None:
    a, b = world.addr["B00001"], world.addr["B00002"]
    rcpt = world.send(_ledger(world).functions.setFrozen(a, True), world.ops.csd)
    assert [e.args for e in world.chain.events(rcpt) if e.name == "AccountFrozen"] == [{"account": a, "frozen": True}]
    assert world.chain.call(_ledger(world).functions.isFrozen(a)) is True
    assert list(world.chain.call(_ledger(world).functions.frozenOf([a, b]))) == [True, False]


def test_set_frozen_unknown_participant(world: World, expect_revert) -> None:
    expect_revert("UnknownParticipant", world.ol.set_frozen, UNREGISTERED, True)


# ---- operator transfer --------------------------------------------------------------------------------

def test_operator_transfer(world: World) -> None:
    a, b4 = world.addr["B00001"], world.addr["B00004"]
    reason = b"court order 42".ljust(32, b"\x00")
    rcpt = world.send(_ledger(world).functions.operatorTransfer(a, b4, 700, 300, reason), world.ops.csd)
    ev = [e for e in world.chain.events(rcpt) if e.name == "OperatorTransfer"][0]
    assert ev.args["quantity"] == 300 and ev.args["reason"] == reason
    assert world.sec("B00001", 700) == 9_700 and world.sec("B00004", 700) == 300
    assert world.conserved()


def test_operator_transfer_blocked_parties(world: World, expect_revert) -> None:
    a, b4 = world.addr["B00001"], world.addr["B00004"]
    world.ol.set_frozen(b4, True)  # frozen receiver
    expect_revert("AccountBlocked", world.send,
                  _ledger(world).functions.operatorTransfer(a, b4, 700, 1, b"\x00" * 32), world.ops.csd)
    expect_revert("UnknownParticipant", world.send,
                  _ledger(world).functions.operatorTransfer(a, UNREGISTERED, 700, 1, b"\x00" * 32), world.ops.csd)
    expect_revert("InvalidQuantity", world.send,
                  _ledger(world).functions.operatorTransfer(a, world.addr["B00002"], 700, 0, b"\x00" * 32),
                  world.ops.csd)


# ---- holders cannot move tokens -----------------------------------------------------------------------

def test_holders_cannot_transfer_approve_or_set_operator(world: World, expect_revert) -> None:
    holder = world.spare  # an unlocked account: register it and give it stock so it could sign
    world.ol.register_participant("C00099", holder, 1)  # custodian
    world.ol.deposit(holder, 700, 100)
    led = _ledger(world).functions
    b = world.addr["B00002"]
    for fn in (led.transfer(b, 700, 10), led.transferFrom(holder, b, 700, 10), led.approve(b, 700, 10),
               led.setOperator(b, True)):
        err = expect_revert("TransfersRestricted", world.send, fn, holder)
        assert "holders cannot move" in str(err)
    assert world.sec(holder, 700) == 100


# ---- settlement hooks are the engine's only --------------------------------------------------------------

def test_settlement_transfer_and_apply_only_by_engine(world: World, expect_revert) -> None:
    a, b = world.addr["B00001"], world.addr["B00002"]
    led = _ledger(world).functions
    for sender in (world.ops.settler, world.ops.csd, world.ops.admin):
        err = expect_revert("AccessControlUnauthorizedAccount", world.send,
                            led.settlementTransfer(a, b, 700, 1), sender)
        assert "SETTLEMENT_ROLE" in str(err)
        err = expect_revert("AccessControlUnauthorizedAccount", world.send,
                            led.settlementApply([a, b], [700, (1 << 128) | 700], [-1, 1]), sender)
        assert "SETTLEMENT_ROLE" in str(err)


def test_slot_balances(world: World) -> None:
    a, b = world.addr["B00001"], world.addr["B00002"]
    led = _ledger(world).functions
    assert list(world.chain.call(led.slotBalances([a, b], [5, 700, (1 << 128) | 700]))) == [4_000, 10_000, 2_000]
    with pytest.raises(ChainError) as info:
        world.chain.call(led.slotBalances([a], [9999]))
    assert info.value.name == "UnknownSecurity"
    with pytest.raises(ChainError) as info:
        world.chain.call(led.slotBalances([a], [(3 << 128) | 700]))
    assert info.value.name == "LengthMismatch"


# ---- pause --------------------------------------------------------------------------------------------

def test_pause_blocks_movements(world: World, expect_revert) -> None:
    led = _ledger(world).functions
    a, b4 = world.addr["B00001"], world.addr["B00004"]
    err = expect_revert("AccessControlUnauthorizedAccount", world.send, led.pause(), world.ops.csd)
    assert "PAUSER_ROLE" in str(err)
    world.send(led.pause(), world.ops.admin)
    assert world.chain.call(led.paused()) is True
    err = expect_revert("EnforcedPause", world.ol.deposit, a, 700, 1)
    assert "paused" in str(err)
    expect_revert("EnforcedPause", world.ol.withdraw, a, 700, 1)
    expect_revert("EnforcedPause", world.ol.deposit_many, [(a, 700, 1)])
    expect_revert("EnforcedPause", world.send, led.operatorTransfer(a, b4, 700, 1, b"\x00" * 32), world.ops.csd)
    # settlement through the engine is blocked too (the ledger leg reverts, so the cash leg does not move)
    from ledger.onchain import DvPInstruction
    expect_revert("EnforcedPause", world.ol.settle_dvp, DvPInstruction(1, a, b4, 700, 1, "HKD", 0))
    assert world.ol.final_flags([1]) == [False]
    # listing and freezing are not movements
    world.ol.list_security(1299, "HK1299000004")
    world.send(led.unpause(), world.ops.admin)
    world.ol.deposit(a, 700, 1)
    assert world.sec("B00001", 700) == 10_001
