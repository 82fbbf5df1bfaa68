"""SettlementRunner + Store: runs record states and reasons, partials create remainders, the final run
fails the rest, and a crash between the chain send and the store write never settles anything twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chain_testkit import SECURITIES, World
from sqlalchemy import select

from ledger.settlement import SettlementRunner
from ledger.store import ChainEventRow, InstructionRow, NewInstruction, Store


class Crash(RuntimeError):
    pass


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open("sqlite://")
    yield s
    s.engine.dispose()


def runner_for(world: World, store: Store, batch_size: int = 1000) -> SettlementRunner:
    return SettlementRunner(world.ol, store, dict(world.addr), {str(s): s for s in SECURITIES}, batch_size=batch_size)


def ins(iid: int, d: str, r: str, code: str, qty: int, amount: int, cur: str = "HKD", min_partial: int = 0,
        priority: int = 0) -> NewInstruction:
    return NewInstruction(id=iid, source="CNS", settle_date="2026-11-23", deliverer=d, receiver=r, security_code=code,
                          quantity=qty, currency=cur, amount_cents=amount, min_partial=min_partial, priority=priority)


def day(world: World) -> list[NewInstruction]:
    """id 1 settles, 2 LACK, 3 MONY, 4 BLOC (C00001 frozen), 5 partial (600 of 1,000 held, lots of 500)."""
    world.ol.set_frozen(world.addr["C00001"], True)
    return [
        ins(1, "B00001", "B00002", "700", 100, 10_000),
        ins(2, "B00004", "B00002", "700", 50, 5_000),
        ins(3, "B00001", "B00004", "5", 10, 5_000),
        ins(4, "B00001", "C00001", "700", 10, 100),
        ins(5, "B00003", "B00001", "388", 1_000, 10_000, min_partial=500),
    ]


def states(store: Store) -> dict[int, tuple[str, str | None]]:
    return {r.id: (r.state, r.reason) for r in store.instructions()}


def test_run_records_states_reasons_and_remainders(world: World, store: Store) -> None:
    store.add_instructions(day(world))
    runner = runner_for(world, store)
    figs = runner.run("run 1")
    assert (figs.submitted, figs.settled, figs.partial, figs.batches) == (5, 1, 1, 1)
    assert figs.pending == 4 and figs.pending_by_reason == {"BLOC": 1, "LACK": 2, "MONY": 1}
    assert figs.legs == 4 and figs.gas_used > 0 and figs.failed == 0
    rows = {r.id: r for r in store.instructions()}
    assert states(store) == {1: ("settled", None), 2: ("pending", "LACK"), 3: ("pending", "MONY"),
                             4: ("pending", "BLOC"), 5: ("partial", "LACK"), 6: ("pending", "LACK")}
    assert (rows[1].settled_quantity, rows[1].settled_amount) == (100, 10_000) and rows[1].tx_hash
    assert (rows[5].settled_quantity, rows[5].settled_amount) == (500, 5_000)
    rem = rows[6]
    assert (rem.source, rem.parent_id, rem.quantity, rem.amount_cents, rem.min_partial) == ("REMAINDER", 5, 500,
                                                                                           5_000, 500)
    assert (rem.deliverer, rem.receiver, rem.security_code) == ("B00003", "B00001", "388")
    assert store.runs()[0].figures["settled"] == 1 and store.runs()[0].finished_at is not None
    with store.session() as s:
        names = [r.name for r in s.scalars(select(ChainEventRow))]
    assert names.count("ObligationSettled") == 1 and names.count("ObligationPartiallySettled") == 1
    assert names.count("ObligationPending") == 3
    # chain agrees with the store
    assert world.sec("B00002", 700) == 2_100 and world.sec("B00001", 388) == 500
    assert world.ol.final_flags([1, 2, 3, 4, 5, 6]) == [True, False, False, False, True, False]


def test_recycling_and_final_run(world: World, store: Store) -> None:
    store.add_instructions(day(world))
    runner = runner_for(world, store)
    runner.run("run 1")
    world.ol.deposit(world.addr["B00004"], 700, 50)  # top-up: 2 can settle now, and pays B00004 5,000 ...
    world.ol.deposit(world.addr["B00003"], 388, 100)  # remainder 6 (500, lots of 500) still short
    figs2 = runner.run("run 2")
    # ... which funds 3 in the same batch (priority order, then id)
    assert figs2.submitted == 4 and figs2.settled == 2 and figs2.pending_by_reason == {"BLOC": 1, "LACK": 1}
    assert states(store)[2] == ("settled", None) and states(store)[3] == ("settled", None)
    final = runner.run("final", final=True)
    assert final.failed == 2 and final.submitted == 2
    assert states(store) == {1: ("settled", None), 2: ("settled", None), 3: ("settled", None),
                             4: ("failed", "BLOC"), 5: ("partial", "LACK"), 6: ("failed", "LACK")}
    assert store.count_by_state() == {"settled": 3, "failed": 2, "partial": 1}
    # a later run has nothing to do
    assert runner.run("after").submitted == 0
    assert world.conserved()


def test_batches_of_given_size(world: World, store: Store) -> None:
    store.add_instructions([ins(10 + k, "B00001", "B00002", "700", 10, 100) for k in range(5)])
    figs = runner_for(world, store, batch_size=2).run("run")
    assert figs.batches == 3 and figs.settled == 5
    assert world.sec("B00002", 700) == 2_050


def _crash_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = SettlementRunner.record

    def record(self: SettlementRunner, outcome, rows, *args):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise Crash("process died after the chain accepted the batch")
        return original(self, outcome, rows, *args)

    monkeypatch.setattr(SettlementRunner, "record", record)
    return calls


def test_crash_after_send_then_rerun_settles_nothing_twice(world: World, store: Store,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store.add_instructions(day(world))
    _crash_once(monkeypatch)
    opening = world.snapshot_all()
    with pytest.raises(Crash):
        runner_for(world, store).run("run 1")
    # the batch landed on chain, the store still says "submitted"
    assert {s for s, _ in states(store).values()} == {"submitted"}
    assert world.ol.final_flags([1, 5]) == [True, True]
    after_crash = world.snapshot_all()
    assert after_crash != opening

    # restart: a new runner over the same store and chain
    runner = runner_for(world, store)
    figs = runner.run("run 2")
    st = states(store)
    assert st[1] == ("settled", None) and st[5] == ("partial", "LACK")
    assert st[6] == ("pending", "LACK") and store.instructions(["pending"])[-1].parent_id == 5
    assert {st[2][0], st[3][0], st[4][0]} == {"pending"}
    assert figs.settled == 0 and figs.partial == 0  # nothing settled a second time
    assert world.snapshot_all() == after_crash  # chain balances equal a single settlement
    rows = {r.id: r for r in store.instructions()}
    assert (rows[1].settled_quantity, rows[1].settled_amount) == (100, 10_000)
    assert (rows[5].settled_quantity, rows[5].settled_amount) == (500, 5_000)
    assert rows[1].tx_hash  # reconciled from the chain's event
    assert world.sec("B00002", 700) == 2_100 and world.cash("B00001") == 50_000_000 + 10_000 - 5_000


def test_crash_then_explicit_recover(world: World, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.add_instructions(day(world))
    _crash_once(monkeypatch)
    with pytest.raises(Crash):
        runner_for(world, store).run("run 1")
    runner = runner_for(world, store)
    assert runner.recover() == 5
    st = states(store)
    assert st[1][0] == "settled" and st[5][0] == "partial" and st[6] == ("pending", "LACK")
    assert {st[i][0] for i in (2, 3, 4)} == {"pending"}
    assert runner.recover() == 0  # idempotent
    assert len(store.instructions()) == 6  # one remainder, not two


def test_crash_before_send_goes_back_to_pending(world: World, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.add_instructions([ins(1, "B00001", "B00002", "700", 100, 10_000)])
    runner = runner_for(world, store)

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise Crash("node unreachable")

    monkeypatch.setattr(world.ol, "settle_batch", boom)
    with pytest.raises(Crash):
        runner.run("run 1")
    assert states(store) == {1: ("pending", None)}  # recover() ran: not final on chain, back to pending
    monkeypatch.undo()
    runner.run("run 2")
    assert states(store) == {1: ("settled", None)} and world.sec("B00002", 700) == 2_100


def test_store_behind_chain_is_reconciled_not_resettled(world: World, store: Store,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """If a settled id is submitted again (store lost track), the chain reports it Final and recovery takes
    its outcome from the chain's events."""
    store.add_instructions([ins(1, "B00001", "B00002", "700", 100, 10_000), ins(2, "B00004", "B00002", "700", 1, 0)])
    _crash_once(monkeypatch)
    with pytest.raises(Crash):
        runner_for(world, store).run("run 1")
    with store.session() as s:  # simulate a store restored from an older backup: everything pending again
        s.execute(InstructionRow.__table__.update().values(state="pending", reason=None))
    balances = world.snapshot_all()
    runner = runner_for(world, store)
    figs = runner.run("run 2")
    assert figs.settled == 0
    assert states(store) == {1: ("settled", None), 2: ("pending", "LACK")}
    assert world.snapshot_all() == balances


def test_cancelled_on_chain_is_recorded_cancelled(world: World, store: Store) -> None:
    store.add_instructions([ins(1, "B00001", "B00002", "700", 100, 10_000)])
    world.ol.cancel(1)
    runner_for(world, store).run("run 1")
    assert states(store)[1][0] == "cancelled"
    assert world.sec("B00002", 700) == 2_000
