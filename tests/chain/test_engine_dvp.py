"""SettlementEngine.settleDvP (real-time DvP of one instruction), cancel, roles, pause, configuration."""

from __future__ import annotations

import pytest
from chain_testkit import World, mentions, participant_address, readable

from ledger.errors import ChainError
from ledger.onchain import DvPInstruction, InputError, Status

UNREGISTERED = participant_address("nobody")


def lower(args: dict) -> dict:  # type: ignore[type-arg]
    """Decoded error args with addresses in lower case (abi_decode gives lower-case addresses)."""
    return {k: v.lower() if isinstance(v, str) else v for k, v in args.items()}


def dvp(world: World, iid: int, d: str, r: str, sid: int, qty: int, amount: int, cur: str = "HKD") -> DvPInstruction:
    return DvPInstruction(iid, world.addr.get(d, d), world.addr.get(r, r), sid, qty, cur, amount)


def test_happy_path_moves_both_legs(world: World) -> None:
    before = world.snapshot_all()
    tx = world.ol.settle_dvp(dvp(world, 1, "B00001", "B00002", 700, 1_000, 3_500_000))
    assert tx.startswith("0x") and len(tx) == 66
    a, b = world.addr["B00001"], world.addr["B00002"]
    after = world.snapshot_all()
    assert after[(a, 700)] == before[(a, 700)] - 1_000
    assert after[(b, 700)] == before[(b, 700)] + 1_000
    assert after[(a, "HKD")] == before[(a, "HKD")] + 3_500_000
    assert after[(b, "HKD")] == before[(b, "HKD")] - 3_500_000
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {(a, 700), (b, 700), (a, "HKD"), (b, "HKD")}
    assert world.ol.final_flags([1, 2]) == [True, False]
    assert world.conserved()


def test_settled_event(world: World) -> None:
    ins = dvp(world, 77, "B00003", "C00001", 5, 400, 1_000, cur="HKD")
    world.ol.settle_dvp(ins)
    logs = world.chain.logs([world.dep.engine.address], world.chain.block_number)
    ev = [e for e in logs if e.name == "InstructionSettled"]
    assert len(ev) == 1
    assert ev[0].args == {"id": 77, "deliverer": ins.deliverer, "receiver": ins.receiver, "securityId": 5,
                          "quantity": 400, "currency": 0, "amount": 1_000}


def test_other_currency(world: World) -> None:
    # B00002 pays in CNY (currency index 1)
    world.ol.settle_dvp(dvp(world, 5, "B00001", "B00002", 5, 100, 50_000, cur="CNY"))
    assert world.cash("B00002", "CNY") == 1_950_000 and world.cash("B00001", "CNY") == 50_000
    assert world.cash("B00002", "HKD") == 80_000_000


def test_free_of_payment(world: World) -> None:
    # B00004 has no cash at all: a free-of-payment delivery still settles
    world.ol.settle_dvp(dvp(world, 2, "B00001", "B00004", 700, 10, 0))
    assert world.sec("B00004", 700) == 10 and world.cash("B00004") == 0
    assert world.cash("B00001") == 50_000_000


def test_exact_balances_settle(world: World) -> None:
    # delivers everything it holds, receiver pays everything it has
    world.ol.issue_cash(world.addr["B00004"], "HKD", 777)
    world.ol.settle_dvp(dvp(world, 3, "B00002", "B00004", 388, 1_500, 777))
    assert world.sec("B00002", 388) == 0 and world.cash("B00004") == 0


def test_insufficient_securities(world: World, expect_revert) -> None:
    err = expect_revert("InsufficientSecurities", world.ol.settle_dvp,
                        dvp(world, 4, "B00002", "B00001", 700, 2_001, 100))
    assert lower(err.args_by_name) == {"account": world.addr["B00002"].lower(), "securityId": 700, "available": 2_000,
                                "needed": 2_001}
    msg = str(err)
    assert mentions(msg, world.addr["B00002"]) and "700" in msg and "2000" in msg and "2001" in msg and "LACK" in msg
    assert world.ol.final_flags([4]) == [False]


def test_insufficient_cash(world: World, expect_revert) -> None:
    err = expect_revert("InsufficientCash", world.ol.settle_dvp,
                        dvp(world, 5, "B00001", "B00003", 700, 10, 30_000_001))
    assert lower(err.args_by_name) == {"account": world.addr["B00003"].lower(), "currency": 0, "available": 30_000_000,
                                "needed": 30_000_001}
    msg = str(err)
    assert mentions(msg, world.addr["B00003"]) and "30000000" in msg and "30000001" in msg and "MONY" in msg
    assert world.ol.final_flags([5]) == [False]
    # the same id settles later once the cash is there (a failed instruction is not final)
    world.ol.issue_cash(world.addr["B00003"], "HKD", 1)
    world.ol.settle_dvp(dvp(world, 5, "B00001", "B00003", 700, 10, 30_000_001))
    assert world.cash("B00003") == 0


@pytest.mark.parametrize("who", ["deliverer", "receiver"])
@pytest.mark.parametrize("block", ["frozen", "suspended", "defaulted"])
def test_blocked_account(world: World, expect_revert, who: str, block: str) -> None:
    target = world.addr["B00001" if who == "deliverer" else "B00002"]
    if block == "frozen":
        world.ol.set_frozen(target, True)
    else:
        world.ol.set_status(target, Status.SUSPENDED if block == "suspended" else Status.DEFAULTED)
    err = expect_revert("AccountBlocked", world.ol.settle_dvp, dvp(world, 6, "B00001", "B00002", 700, 10, 100))
    assert err.args_by_name["account"].lower() == target.lower() and mentions(err, target) and "blocked" in str(err)


@pytest.mark.parametrize("who", ["deliverer", "receiver"])
def test_unknown_participant(world: World, expect_revert, who: str) -> None:
    d, r = ("B00001", UNREGISTERED) if who == "receiver" else (UNREGISTERED, "B00002")
    err = expect_revert("UnknownParticipant", world.ol.settle_dvp, dvp(world, 7, d, r, 700, 10, 100))
    assert mentions(err, UNREGISTERED) and "not a registered participant" in str(err)


@pytest.mark.parametrize("sid", [9999, 0])
def test_unknown_security(world: World, expect_revert, sid: int) -> None:
    err = expect_revert("UnknownSecurity", world.ol.settle_dvp, dvp(world, 8, "B00001", "B00002", sid, 10, 100))
    assert f"security {sid} is not listed" in str(err)


def test_unknown_currency_python(world: World) -> None:
    before = world.snapshot_all()
    with pytest.raises(InputError) as info:
        world.ol.settle_dvp(dvp(world, 9, "B00001", "B00002", 700, 10, 100, cur="EUR"))
    assert "EUR" in str(info.value) and "HKD" in str(info.value)
    assert world.snapshot_all() == before and world.ol.final_flags([9]) == [False]


def test_unknown_currency_on_chain(world: World, expect_revert) -> None:
    a, b = world.addr["B00001"], world.addr["B00002"]
    err = expect_revert("UnknownCurrency", world.send,
                        world.dep.engine.functions.settleDvP(9, a, b, 700, 10, 3, 100), world.ops.settler)
    assert "currency index 3" in str(err)


def test_zero_quantity(world: World, expect_revert) -> None:
    a, b = world.addr["B00001"], world.addr["B00002"]
    with pytest.raises(InputError):
        world.ol.settle_dvp(dvp(world, 10, "B00001", "B00002", 700, 0, 100))
    with pytest.raises(InputError):
        world.ol.settle_dvp(dvp(world, 10, "B00001", "B00002", 700, 10, -1))
    err = expect_revert("InvalidQuantity", world.send,
                        world.dep.engine.functions.settleDvP(10, a, b, 700, 0, 0, 100), world.ops.settler)
    assert "quantity must be positive" in str(err)


def test_same_account(world: World, expect_revert) -> None:
    err = expect_revert("SameAccount", world.ol.settle_dvp, dvp(world, 11, "B00001", "B00001", 700, 10, 100))
    assert mentions(err, world.addr["B00001"]) and "same account" in str(err)


def test_reused_id(world: World, expect_revert) -> None:
    world.ol.settle_dvp(dvp(world, 12, "B00001", "B00002", 700, 10, 100))
    err = expect_revert("InstructionFinal", world.ol.settle_dvp, dvp(world, 12, "B00001", "B00002", 700, 10, 100))
    assert "instruction 12 has already settled" in str(err)
    # a different instruction body under the same id is refused too
    expect_revert("InstructionFinal", world.ol.settle_dvp, dvp(world, 12, "B00003", "C00001", 5, 1, 0))
    assert world.sec("B00002", 700) == 2_010


def test_cancel_then_settle(world: World, expect_revert) -> None:
    world.ol.cancel(13)
    assert world.ol.final_flags([13]) == [True]
    logs = world.chain.logs([world.dep.engine.address], world.chain.block_number)
    assert [(e.name, e.args) for e in logs] == [("InstructionCancelled", {"id": 13})]
    expect_revert("InstructionFinal", world.ol.settle_dvp, dvp(world, 13, "B00001", "B00002", 700, 10, 100))
    expect_revert("InstructionFinal", world.ol.cancel, 13)


def test_cancel_settled_id_refused(world: World, expect_revert) -> None:
    world.ol.settle_dvp(dvp(world, 14, "B00001", "B00002", 700, 10, 100))
    expect_revert("InstructionFinal", world.ol.cancel, 14)


def test_large_and_bit_boundary_ids(world: World) -> None:
    ids = [255, 256, 2**64 - 1]
    for k, iid in enumerate(ids):
        world.ol.settle_dvp(dvp(world, iid, "B00001", "B00002", 700, 1 + k, 0))
    assert world.ol.final_flags([254, 255, 256, 257, 2**64 - 2, 2**64 - 1]) == [False, True, True, False, False, True]


def test_caller_without_settler_role(world: World, expect_revert) -> None:
    eng = world.dep.engine.functions
    a, b = world.addr["B00001"], world.addr["B00002"]
    for sender in (world.outsider, world.ops.csd, world.ops.admin):
        err = expect_revert("AccessControlUnauthorizedAccount", world.send,
                            eng.settleDvP(15, a, b, 700, 10, 0, 100), sender)
        assert "SETTLER_ROLE" in str(err) and mentions(err, sender)
        assert readable(err)
        err = expect_revert("AccessControlUnauthorizedAccount", world.send, eng.cancel(15), sender)
        assert "SETTLER_ROLE" in str(err)
        err = expect_revert("AccessControlUnauthorizedAccount", world.send,
                            eng.settleBatch([a, b], [], [], [], False), sender)
        assert "SETTLER_ROLE" in str(err)
    assert world.ol.final_flags([15]) == [False]


def test_config_role(world: World, expect_revert) -> None:
    eng = world.dep.engine.functions
    err = expect_revert("AccessControlUnauthorizedAccount", world.send,
                        eng.setCashToken(0, world.dep.cash["USD"].address), world.ops.settler)
    assert "CONFIG_ROLE" in str(err)
    expect_revert("UnknownCurrency", world.send, eng.setCashToken(5, world.dep.cash["USD"].address), world.ops.admin)
    expect_revert("ZeroAddress", world.send, eng.setCashToken(0, "0x" + "00" * 20), world.ops.admin)


def test_paused(world: World, expect_revert) -> None:
    eng = world.dep.engine.functions
    err = expect_revert("AccessControlUnauthorizedAccount", world.send, eng.pause(), world.ops.settler)
    assert "PAUSER_ROLE" in str(err)
    world.send(eng.pause(), world.ops.admin)
    err = expect_revert("EnforcedPause", world.ol.settle_dvp, dvp(world, 16, "B00001", "B00002", 700, 10, 100))
    assert "paused" in str(err)
    from ledger.batch import Obligation
    expect_revert("EnforcedPause", world.ol.settle_batch,
                  [Obligation(17, world.addr["B00001"], world.addr["B00002"], 700, 10, 0, 100)])
    assert world.ol.final_flags([16, 17]) == [False, False]
    world.send(eng.unpause(), world.ops.admin)
    world.ol.settle_dvp(dvp(world, 16, "B00001", "B00002", 700, 10, 100))
    assert world.ol.final_flags([16]) == [True]


def test_chain_error_is_ledger_error(world: World) -> None:
    from ledger.errors import LedgerError
    with pytest.raises(LedgerError):
        world.ol.settle_dvp(dvp(world, 18, "B00004", "B00001", 700, 1, 0))
    try:
        world.ol.settle_dvp(dvp(world, 18, "B00004", "B00001", 700, 1, 0))
    except ChainError as exc:
        assert exc.name == "InsufficientSecurities"
