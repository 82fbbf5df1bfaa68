"""Group commit of signed submissions: batches form from what is waiting, each item gets its own outcome, a
batch is all or nothing, and a batch that fails as a whole is retried item by item."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from service_world import P1, P2, World
from sqlalchemy import func, select

from api import eip712
from api.service import audit
from api.service import instructions as svc
from api.service.db import AuditRow, SignatureRow, SignedInstructionRow
from api.service.deps import Principal
from api.service.errors import ApiError
from api.service.group_commit import GroupCommitter
from api.service.schemas import InstructionOut, SignedFields
from ledger.store import InstructionRow

_n = itertools.count(700_000)


# ---- the committer on its own ---------------------------------------------------------------------------

def _in_threads(gc: GroupCommitter[int, int], items: Sequence[int]) -> list[object]:
    def one(i: int) -> object:
        try:
            return gc.submit(i)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            return exc

    with ThreadPoolExecutor(len(items)) as ex:
        return list(ex.map(one, items))


def test_items_waiting_behind_a_batch_form_the_next_one() -> None:
    gate, entered = threading.Event(), threading.Event()
    seen: list[list[int]] = []

    def store(items: Sequence[int]) -> list[int | BaseException]:
        seen.append(list(items))
        if len(seen) == 1:
            entered.set()
            assert gate.wait(10)
        return [i * 10 for i in items]

    gc: GroupCommitter[int, int] = GroupCommitter(store, "test")
    first = threading.Thread(target=gc.submit, args=(0,))
    first.start()
    assert entered.wait(10)
    out: list[object] = []
    waiting = threading.Thread(target=lambda: out.extend(_in_threads(gc, range(1, 21))))
    waiting.start()
    deadline = time.monotonic() + 10
    while gc._queue.qsize() < 20 and time.monotonic() < deadline:  # all 20 queued behind the first batch
        time.sleep(0.005)
    gate.set()
    waiting.join(10)
    first.join(10)
    assert out == [i * 10 for i in range(1, 21)]
    assert seen[0] == [0] and sorted(seen[1]) == list(range(1, 21))  # one transaction for the 20
    assert (gc.batches, gc.items) == (2, 21)


def test_each_item_gets_its_own_outcome() -> None:
    def store(items: Sequence[int]) -> list[int | BaseException]:
        return [ValueError(f"odd {i}") if i % 2 else i for i in items]

    out = _in_threads(GroupCommitter(store, "test"), range(12))
    for i, o in enumerate(out):
        assert (isinstance(o, ValueError) and str(o) == f"odd {i}") if i % 2 else o == i


def test_coroutines_wait_without_threads_and_get_their_own_outcomes() -> None:
    """submit_async: 30 coroutines on one event loop (no thread of theirs blocks) form batches and each gets its
    own result or error; a waiter cancelled while its batch is being stored does not stop the item from being
    stored, nor the others from being answered."""
    gate, entered = threading.Event(), threading.Event()
    stored: list[int] = []

    def store(items: Sequence[int]) -> list[int | BaseException]:
        if not entered.is_set():
            entered.set()
            assert gate.wait(10)
        stored.extend(items)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    gc: GroupCommitter[int, int] = GroupCommitter(store, "test")

    async def one(i: int) -> object:
        try:
            return await gc.submit_async(i)
        except ValueError as exc:
            return exc

    async def main() -> tuple[list[object], bool]:
        cancelled = asyncio.ensure_future(gc.submit_async(100))
        while not entered.is_set():  # item 100 is being stored, its waiter still waiting
            await asyncio.sleep(0.005)
        cancelled.cancel()
        rest = [asyncio.ensure_future(one(i)) for i in range(30)]
        while gc._queue.qsize() < 30:
            await asyncio.sleep(0.005)
        gate.set()
        out = await asyncio.wait_for(asyncio.gather(*rest), 10)
        try:
            await cancelled
        except asyncio.CancelledError:
            return out, True
        return out, False

    out, was_cancelled = asyncio.run(main())
    assert was_cancelled
    for i, o in enumerate(out):
        assert (isinstance(o, ValueError) and str(o) == f"odd {i}") if i % 2 else o == i * 10
    assert sorted(stored) == [*range(30), 100]  # the cancelled waiter's item was stored all the same
    assert (gc.batches, gc.items) == (2, 31)  # the 30 queued behind the first batch formed one


def test_a_batch_failing_as_a_whole_is_retried_item_by_item() -> None:
    calls: list[list[int]] = []
    gate = threading.Event()

    def store(items: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(items))
        if len(calls) == 1:
            assert gate.wait(10)
        if 13 in items:
            raise RuntimeError("the database refused the batch")
        return list(items)

    gc: GroupCommitter[int, int] = GroupCommitter(store, "test")
    first = threading.Thread(target=gc.submit, args=(1,))
    first.start()
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.001)
    out: list[object] = []
    rest = threading.Thread(target=lambda: out.extend(_in_threads(gc, [11, 12, 13, 14])))
    rest.start()
    while gc._queue.qsize() < 4 and time.monotonic() < deadline:
        time.sleep(0.001)
    gate.set()
    rest.join(10)
    first.join(10)
    assert out[:2] == [11, 12] and out[3] == 14
    assert isinstance(out[2], RuntimeError)
    assert sorted(calls[1]) == [11, 12, 13, 14]  # the failed batch, then each alone
    assert sorted(c[0] for c in calls[2:]) == [11, 12, 13, 14] and all(len(c) == 1 for c in calls[2:])


def test_an_idle_committer_thread_ends_and_a_new_one_starts() -> None:
    gc: GroupCommitter[int, int] = GroupCommitter(lambda items: list(items), "test", idle_exit_s=0.05)
    assert gc.submit(1) == 1
    deadline = time.monotonic() + 5
    while gc._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gc._thread is None
    assert gc.submit(2) == 2


# ---- storing submissions in one transaction ---------------------------------------------------------------

def _checked(world: World, fields: dict[str, Any]) -> svc.Checked:
    f = SignedFields.model_validate(fields)
    data = eip712.typed_data(f.model_dump(), world.ctx.chain_id, world.ctx.engine_address)
    sig = eip712.sign(data, world.keys[f.participant_id].key)
    signer, digest = eip712.recover_with_digest(data, sig)
    who = Principal("api_key", 1, f"stp-{f.participant_id}", f.participant_id, frozenset({"inputter", "authoriser"}))
    return svc.Checked(who, f, sig, signer, digest, data)


def _counts(world: World) -> tuple[int, ...]:
    with world.ctx.session() as s:
        return tuple(int(s.scalar(select(func.count()).select_from(t)) or 0)
                     for t in (SignedInstructionRow, SignatureRow, InstructionRow, AuditRow))


def test_one_batch_stores_matches_and_refuses_per_item(world: World) -> None:
    q = next(_n)
    stored_before = _checked(world, world.fields(P2, P1, "receive", ref="GC-OLD", nonce=next(_n), quantity=q + 5))
    old = svc.store_submissions(world.ctx, [stored_before])[0]
    assert isinstance(old, InstructionOut)
    before = _counts(world)
    nonce = next(_n)
    items = [
        _checked(world, world.fields(P1, P2, "deliver", ref="GC-1", nonce=nonce, quantity=q)),
        _checked(world, world.fields(P2, P1, "receive", ref="GC-1", nonce=next(_n), quantity=q)),
        _checked(world, world.fields(P1, P2, "deliver", ref="GC-2", nonce=nonce, quantity=q + 1)),  # nonce again
        _checked(world, world.fields(P1, P2, "deliver", ref="GC-1", nonce=next(_n), quantity=q + 2)),  # ref again
        _checked(world, {**world.fields(P1, P2, "deliver", ref="GC-3", nonce=next(_n)), "security_code": "99999"}),
        _checked(world, world.fields(P2, P1, "receive", ref="GC-4",
                                     nonce=int(stored_before.fields.nonce), quantity=q + 3)),  # stored nonce
    ]
    out = svc.store_submissions(world.ctx, items)
    a, b = out[0], out[1]
    assert isinstance(a, InstructionOut) and isinstance(b, InstructionOut)
    assert a.status == b.status == "pending" and a.instruction_id == b.instruction_id is not None
    for k, field, about in ((2, "instruction.nonce", a.id), (3, "instruction.sender_reference", a.id)):
        err = out[k]
        assert isinstance(err, ApiError) and err.status == 409 and err.field == field
        assert f"instruction {about}" in err.message
    assert isinstance(out[4], ApiError) and out[4].field == "instruction.security_code"
    err = out[5]
    assert isinstance(err, ApiError) and err.status == 409 and f"instruction {old.id}" in err.message
    # exactly the two accepted sides, their evidence, one ledger instruction, three audit entries
    assert _counts(world) == (before[0] + 2, before[1] + 2, before[2] + 1, before[3] + 3)
    with world.ctx.session() as s:
        assert audit.verify(s).ok


def test_a_failed_batch_stores_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    q = next(_n)
    items = [_checked(world, world.fields(P1, P2, "deliver", ref="GC-F1", nonce=next(_n), quantity=q)),
             _checked(world, world.fields(P2, P1, "receive", ref="GC-F1", nonce=next(_n), quantity=q))]
    before = _counts(world)

    def broken(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "append_many", broken)
    with pytest.raises(RuntimeError):
        svc.store_submissions(world.ctx, items)
    assert _counts(world) == before
    monkeypatch.undo()
    assert all(isinstance(o, InstructionOut) for o in svc.store_submissions(world.ctx, items))  # still fresh


def test_concurrent_pairs_through_the_api_all_match_once(world: World) -> None:
    q0 = next(_n) * 100
    bodies = []
    for k in range(24):
        bodies.append(("a-stp", world.signed(world.fields(P1, P2, "deliver", ref=f"GCP-{k}", nonce=next(_n),
                                                          quantity=q0 + k))))
        bodies.append(("b-stp", world.signed(world.fields(P2, P1, "receive", ref=f"GCP-{k}", nonce=next(_n),
                                                          quantity=q0 + k))))
    with ThreadPoolExecutor(16) as ex:
        rs = list(ex.map(lambda wb: world.client.post("/v1/instructions", json=wb[1], headers=world.h(wb[0])),
                         bodies))
    assert [r.status_code for r in rs] == [201] * len(bodies), [r.text for r in rs if r.status_code != 201]
    ids = [r.json()["id"] for r in rs]
    assert len(set(ids)) == len(ids)
    with world.ctx.session() as s:
        rows = list(s.scalars(select(SignedInstructionRow).where(SignedInstructionRow.id.in_(ids))))
        by_ref: dict[str, set[int | None]] = {}
        for r in rows:
            assert r.status == "matched"
            by_ref.setdefault(r.sender_reference, set()).add(r.instruction_id)
        assert all(len(v) == 1 for v in by_ref.values())  # both sides of a pair: one ledger instruction
        assert len({next(iter(v)) for v in by_ref.values()}) == 24  # and a different one per pair
        assert audit.verify(s).ok


def test_side_fields_are_the_listed_columns_in_order() -> None:
    """Matching builds `Side(*row)` from rows of the side columns: the dataclass must follow them."""
    assert tuple(f.name for f in dataclasses.fields(svc.Side)) == tuple(c.key for c in svc._SIDE)
