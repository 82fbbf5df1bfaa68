"""ParticipantRegistry: register, registerBatch, setStatus, statusOf/participant, and each revert."""

from __future__ import annotations

import pytest
from chain_testkit import PARTICIPANTS, World, mentions, participant_address

from ledger.errors import ChainError
from ledger.onchain import InputError, Kind, Status, participant_id_bytes

NEW = participant_address("B09999")


def test_opening_registrations(world: World) -> None:
    reg = world.dep.registry
    assert world.chain.call(reg.functions.participantCount()) == len(PARTICIPANTS)
    for pid, kind in PARTICIPANTS.items():
        a = world.addr[pid]
        rec = world.chain.call(reg.functions.participant(a))
        assert rec[0] == participant_id_bytes(pid)
        assert rec[1] == int(kind)
        assert rec[2] == int(Status.ACTIVE)
        assert world.chain.call(reg.functions.accountOf(participant_id_bytes(pid))) == a


def test_register_happy_path_emits_event(world: World) -> None:
    reg = world.dep.registry
    rcpt = world.send(reg.functions.register(participant_id_bytes("B09999"), NEW, int(Kind.CUSTODIAN)), world.ops.csd)
    evs = [e for e in world.chain.events(rcpt) if e.name == "ParticipantRegistered"]
    assert len(evs) == 1 and evs[0].args["account"] == NEW and evs[0].args["kind"] == int(Kind.CUSTODIAN)
    assert world.ol.status_of(NEW) == Status.ACTIVE
    assert world.chain.call(reg.functions.participantCount()) == len(PARTICIPANTS) + 1
    assert world.chain.call(reg.functions.participant(NEW))[1] == int(Kind.CUSTODIAN)


def test_register_batch_happy_path(world: World) -> None:
    entries = [(f"C0{i:04d}", participant_address(f"batch{i}"), Kind.CUSTODIAN) for i in range(2, 7)]
    world.ol.register_participants(entries, chunk=2)  # three transactions
    for _, a, _ in entries:
        assert world.ol.status_of(a) == Status.ACTIVE
    assert world.chain.call(world.dep.registry.functions.participantCount()) == len(PARTICIPANTS) + 5


def test_register_batch_is_all_or_none(world: World, expect_revert) -> None:
    reg = world.dep.registry
    fresh = participant_address("fresh")
    err = expect_revert("ParticipantIdTaken", world.send, reg.functions.registerBatch(
        [participant_id_bytes("C00077"), participant_id_bytes("B00001")], [fresh, NEW], [1, 0]), world.ops.csd)
    assert "B00001" in str(err)
    assert world.ol.status_of(fresh) == Status.NONE  # the first entry was rolled back too


def test_register_batch_length_mismatch(world: World, expect_revert) -> None:
    reg = world.dep.registry
    expect_revert("LengthMismatch", world.send, reg.functions.registerBatch(
        [participant_id_bytes("C00077")], [NEW, participant_address("x")], [1]), world.ops.csd)


def test_duplicate_id(world: World, expect_revert) -> None:
    err = expect_revert("ParticipantIdTaken", world.ol.register_participant, "B00001", NEW, Kind.BROKER)
    assert "participant id B00001 is already registered" in str(err)


def test_duplicate_account(world: World, expect_revert) -> None:
    err = expect_revert("AccountAlreadyRegistered", world.ol.register_participant, "B09998", world.addr["B00002"],
                        Kind.BROKER)
    assert mentions(err, world.addr["B00002"]) and "already registered" in str(err)


def test_zero_address(world: World, expect_revert) -> None:
    expect_revert("ZeroAddress", world.ol.register_participant, "B09998", "0x" + "00" * 20, Kind.BROKER)


def test_zero_participant_id(world: World, expect_revert) -> None:
    reg = world.dep.registry
    expect_revert("InvalidParticipantId", world.send, reg.functions.register(b"\x00" * 8, NEW, 0), world.ops.csd)


def test_bad_participant_id_caught_in_python(world: World) -> None:
    with pytest.raises(InputError, match="one upper-case letter and five digits"):
        world.ol.register_participant("b1", NEW, Kind.BROKER)


def test_register_without_role(world: World, expect_revert) -> None:
    reg = world.dep.registry
    for sender in (world.outsider, world.ops.settler, world.ops.admin):  # admin holds no REGISTRAR_ROLE itself
        err = expect_revert("AccessControlUnauthorizedAccount", world.send,
                            reg.functions.register(participant_id_bytes("B09998"), NEW, 0), sender)
        assert "REGISTRAR_ROLE" in str(err) and mentions(err, sender)
    err = expect_revert("AccessControlUnauthorizedAccount", world.send, reg.functions.registerBatch(
        [participant_id_bytes("B09998")], [NEW], [0]), world.outsider)
    assert "REGISTRAR_ROLE" in str(err)


def test_set_status_cycle_and_event(world: World) -> None:
    a = world.addr["B00002"]
    rcpt = world.send(world.dep.registry.functions.setStatus(a, int(Status.SUSPENDED)), world.ops.csd)
    ev = [e for e in world.chain.events(rcpt) if e.name == "ParticipantStatusChanged"][0]
    assert ev.args["previous"] == int(Status.ACTIVE) and ev.args["current"] == int(Status.SUSPENDED)
    assert world.ol.status_of(a) == Status.SUSPENDED
    world.ol.set_status(a, Status.DEFAULTED)
    assert world.ol.status_of(a) == Status.DEFAULTED
    world.ol.set_status(a, Status.ACTIVE)
    assert world.ol.status_of(a) == Status.ACTIVE


def test_statuses_of_bulk(world: World) -> None:
    world.ol.set_status(world.addr["B00003"], Status.SUSPENDED)
    got = world.chain.call(world.dep.registry.functions.statusesOf([world.addr["B00001"], world.addr["B00003"], NEW]))
    assert list(got) == [int(Status.ACTIVE), int(Status.SUSPENDED), int(Status.NONE)]


def test_set_status_unknown_participant(world: World, expect_revert) -> None:
    err = expect_revert("UnknownParticipant", world.ol.set_status, NEW, Status.SUSPENDED)
    assert mentions(err, NEW) and "not a registered participant" in str(err)


def test_set_status_none_rejected(world: World, expect_revert) -> None:
    with pytest.raises(InputError):
        world.ol.set_status(world.addr["B00001"], Status.NONE)
    expect_revert("InvalidStatus", world.send,
                  world.dep.registry.functions.setStatus(world.addr["B00001"], 0), world.ops.csd)
    assert world.ol.status_of(world.addr["B00001"]) == Status.ACTIVE


def test_set_status_without_role(world: World, expect_revert) -> None:
    err = expect_revert("AccessControlUnauthorizedAccount", world.send,
                        world.dep.registry.functions.setStatus(world.addr["B00001"], 2), world.outsider)
    assert "STATUS_ROLE" in str(err)


def test_participant_and_status_of_unknown(world: World) -> None:
    assert world.ol.status_of(NEW) == Status.NONE
    with pytest.raises(ChainError) as info:
        world.chain.call(world.dep.registry.functions.participant(NEW))
    assert info.value.name == "UnknownParticipant" and mentions(info.value, NEW)
    assert world.chain.call(world.dep.registry.functions.accountOf(participant_id_bytes("B09999"))) == "0x" + "0" * 40


def test_error_message_names_participant_id(world: World) -> None:
    # the fixture sets chain.namer = {checksum address: participant id}.get, as the demo does (this was a bug:
    # errors.py passed eth_abi's lower-case address to the namer, so no message ever named a participant)
    with pytest.raises(ChainError) as info:
        world.ol.register_participant("B09998", world.addr["B00002"], Kind.BROKER)
    assert "B00002" in str(info.value)
