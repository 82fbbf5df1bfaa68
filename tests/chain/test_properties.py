"""Hypothesis stateful tests: random sequences of deposits, withdrawals, cash issues and redemptions,
freezes, suspensions, single DvPs, batches (repeated ids, partials, money-only, reverse cash,
all-or-nothing) and cancels, run against the chain and a plain Python model of the market.

Invariants after every step:
  (a) conservation: OnChainLedger.conservation holds for every security and currency, every on-chain
      balance equals the model's, and the model's balances sum to the model's issued totals;
  (b) atomicity: each obligation moved both legs exactly as the model predicts, or neither — checked per
      step from the chain's own events (the legs the events report add up to the observed balance changes)
      and against the model's prediction of which obligations settle, in part or in full;
  (c) at-most-once: no id is reported settled twice, ever, and the chain's final flags equal the model's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from chain_testkit import CURRENCIES, PARTICIPANTS, SECURITIES, World
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ledger.batch import Obligation, Reason
from ledger.errors import ChainError
from ledger.onchain import DvPInstruction, Status

PIDS = list(PARTICIPANTS)
SIDS = list(SECURITIES)
pids = st.sampled_from(PIDS)
sids = st.sampled_from(SIDS)
curs = st.sampled_from(CURRENCIES)
# an id: (reuse an old id?, which one); new ids jump ahead so they spread over several bitmap words
id_choices = st.tuples(st.sampled_from([False, False, True]), st.integers(0, 10_000), st.integers(1, 200))

_SETTLE_EVENTS = ("ObligationSettled", "ObligationPartiallySettled", "InstructionSettled")


@dataclass(frozen=True)
class Predicted:
    settled: dict[int, tuple[int, int]]
    partial: dict[int, tuple[int, int, int]]
    pending: dict[int, Reason]
    moves: list[tuple[Obligation, int, int]]  # obligation, quantity moved, |amount| moved


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.w = world
        self.snap = world.take_snapshot()
        self.addr = world.addr
        self.holders = world.holders
        self.bal: dict[tuple[str, Any], int] = world.snapshot_all()
        self.supply: dict[Any, int] = Counter()
        for (_, key), v in self.bal.items():
            self.supply[key] += v
        self.status = {a: Status.ACTIVE for a in self.addr.values()}
        self.frozen: set[str] = set()
        self.final: set[int] = set()
        self.used: list[int] = []  # every id ever submitted or cancelled
        self.next_id = 1
        self.settle_reports: Counter[int] = Counter()  # id -> settlement events seen on chain
        self._after: dict[tuple[str, Any], int] | None = None  # balances read by check_legs in this step
        self._moved = False  # whether this step's transaction moved balances
        self._checked_once = False

    def teardown(self) -> None:
        self.w.revert(self.snap)

    # ---- helpers ----------------------------------------------------------------------------------
    def pick_id(self, choice: tuple[bool, int, int]) -> int:
        reuse, k, jump = choice
        if reuse and self.used:
            return self.used[k % len(self.used)]
        iid = self.next_id
        self.next_id += jump
        self.used.append(iid)
        return iid

    def blocked(self, a: str) -> bool:
        return self.status[a] != Status.ACTIVE or a in self.frozen

    def expect_error(self, name: str, call: Any, *args: Any) -> None:
        try:
            call(*args)
        except ChainError as exc:
            assert exc.name == name, f"expected {name}, chain said {exc.name}: {exc}"
            return
        raise AssertionError(f"expected {name}, but the call succeeded")

    def count_settlements(self, events: Any) -> dict[int, tuple[int, int]]:
        reported: dict[int, tuple[int, int]] = {}
        for e in events:
            if e.name in _SETTLE_EVENTS:
                iid = int(e.args["id"])
                self.settle_reports[iid] += 1
                reported[iid] = (int(e.args["quantity"]), int(e.args["amount"]))
        return reported

    def check_legs(self, obligations: dict[int, Obligation], reported: dict[int, tuple[int, int]],
                   before: dict[tuple[str, Any], int]) -> None:
        """Atomicity from the chain's own report: the legs its events say moved add up to the balance changes."""
        expect: Counter[tuple[str, Any]] = Counter()
        for iid, (qty, amt) in reported.items():
            o = obligations[iid]
            cur = CURRENCIES[o.currency]
            payer, payee = (o.receiver, o.deliverer) if o.amount >= 0 else (o.deliverer, o.receiver)
            expect[(o.deliverer, o.security_id)] -= qty
            expect[(o.receiver, o.security_id)] += qty
            expect[(payer, cur)] -= amt
            expect[(payee, cur)] += amt
        after = self.w.snapshot_all()
        self._after = after
        observed = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        assert observed == {k: v for k, v in expect.items() if v}, "legs moved that the events do not report"

    def predict(self, obligations: list[Obligation]) -> Predicted:
        """The engine's ordinary batch semantics, in Python: priority order, each obligation atomic on its own,
        partial delivery in whole lots where allowed."""
        sec = dict(self.bal)
        final = set(self.final)
        settled: dict[int, tuple[int, int]] = {}
        partial: dict[int, tuple[int, int, int]] = {}
        pending: dict[int, Reason] = {}
        moves: list[tuple[Obligation, int, int]] = []
        for o in obligations:
            cur = CURRENCIES[o.currency]
            reason = Reason.NONE
            qty, amt = o.quantity, abs(o.amount)
            if o.id in final:
                reason = Reason.FINAL
            elif self.blocked(o.deliverer) or self.blocked(o.receiver):
                reason = Reason.BLOC
            else:
                held = sec[(o.deliverer, o.security_id)]
                if held < qty:
                    if o.min_partial == 0 or held < o.min_partial:
                        reason = Reason.LACK
                    else:
                        qty = held // o.min_partial * o.min_partial
                        amt = amt * qty // o.quantity
            payer, payee = (o.receiver, o.deliverer) if o.amount >= 0 else (o.deliverer, o.receiver)
            if reason == Reason.NONE and sec[(payer, cur)] < amt:
                reason = Reason.MONY
            if reason == Reason.NONE:
                final.add(o.id)
                sec[(o.deliverer, o.security_id)] -= qty
                sec[(o.receiver, o.security_id)] += qty
                sec[(payer, cur)] -= amt
                sec[(payee, cur)] += amt
                moves.append((o, qty, amt))
                if qty == o.quantity:
                    settled[o.id] = (qty, amt)
                else:
                    partial[o.id] = (qty, amt, o.quantity - qty)
            else:
                pending[o.id] = reason
        return Predicted(settled, partial, pending, moves)

    def predict_all_or_nothing(self, obligations: list[Obligation]) -> tuple[Predicted, tuple[Any, ...] | None]:
        """All-or-nothing: a final or blocked obligation fails the batch there (BatchFailed); otherwise every
        obligation settles in full and only the net positions must stay non-negative (NetShortfall)."""
        final = set(self.final)
        net = dict(self.bal)
        moves: list[tuple[Obligation, int, int]] = []
        for o in obligations:
            if o.id in final:
                return Predicted({}, {}, {}, []), ("BatchFailed", o.id, int(Reason.FINAL))
            if self.blocked(o.deliverer) or self.blocked(o.receiver):
                return Predicted({}, {}, {}, []), ("BatchFailed", o.id, int(Reason.BLOC))
            final.add(o.id)
            cur = CURRENCIES[o.currency]
            payer, payee = (o.receiver, o.deliverer) if o.amount >= 0 else (o.deliverer, o.receiver)
            net[(o.deliverer, o.security_id)] -= o.quantity
            net[(o.receiver, o.security_id)] += o.quantity
            net[(payer, cur)] -= abs(o.amount)
            net[(payee, cur)] += abs(o.amount)
            moves.append((o, o.quantity, abs(o.amount)))
        if any(v < 0 for v in net.values()):
            return Predicted({}, {}, {}, []), ("NetShortfall",)
        settled = {o.id: (q, a) for o, q, a in moves}
        return Predicted(settled, {}, {}, moves), None

    def apply(self, moves: list[tuple[Obligation, int, int]]) -> None:
        self._moved = True
        for o, qty, amt in moves:
            cur = CURRENCIES[o.currency]
            payer, payee = (o.receiver, o.deliverer) if o.amount >= 0 else (o.deliverer, o.receiver)
            self.bal[(o.deliverer, o.security_id)] -= qty
            self.bal[(o.receiver, o.security_id)] += qty
            self.bal[(payer, cur)] -= amt
            self.bal[(payee, cur)] += amt
            self.final.add(o.id)

    # ---- movements outside settlement --------------------------------------------------------------
    @rule(pid=pids, sid=sids, qty=st.integers(1, 3_000), out=st.booleans())
    def csd_movement(self, pid: str, sid: int, qty: int, out: bool) -> None:
        """A CSD deposit or withdrawal."""
        if out:
            self.withdraw(pid, sid, qty)
        else:
            self.deposit(pid, sid, qty)

    def deposit(self, pid: str, sid: int, qty: int) -> None:
        a = self.addr[pid]
        if self.blocked(a):
            self.expect_error("AccountBlocked", self.w.ol.deposit, a, sid, qty)
            return
        self.w.ol.deposit(a, sid, qty)
        self.bal[(a, sid)] += qty
        self.supply[sid] += qty
        self._moved = True

    def withdraw(self, pid: str, sid: int, qty: int) -> None:
        a = self.addr[pid]
        if self.blocked(a):
            self.expect_error("AccountBlocked", self.w.ol.withdraw, a, sid, qty)
        elif self.bal[(a, sid)] < qty:
            self.expect_error("ERC6909InsufficientBalance", self.w.ol.withdraw, a, sid, qty)
        else:
            self.w.ol.withdraw(a, sid, qty)
            self.bal[(a, sid)] -= qty
            self.supply[sid] -= qty
            self._moved = True

    @rule(pid=pids, cur=curs, cents=st.integers(1, 5_000_000), out=st.booleans())
    def cash_movement(self, pid: str, cur: str, cents: int, out: bool) -> None:
        """The settlement bank issues or redeems cash."""
        if out:
            self.redeem(pid, cur, cents)
        else:
            self.issue(pid, cur, cents)

    def issue(self, pid: str, cur: str, cents: int) -> None:
        a = self.addr[pid]
        if self.status[a] != Status.ACTIVE:  # a frozen securities account may still receive cash
            self.expect_error("AccountSuspended", self.w.ol.issue_cash, a, cur, cents)
            return
        self.w.ol.issue_cash(a, cur, cents)
        self.bal[(a, cur)] += cents
        self.supply[cur] += cents
        self._moved = True

    def redeem(self, pid: str, cur: str, cents: int) -> None:
        a = self.addr[pid]
        if self.status[a] != Status.ACTIVE:
            self.expect_error("AccountSuspended", self.w.ol.redeem_cash, a, cur, cents)
        elif self.bal[(a, cur)] < cents:
            self.expect_error("ERC20InsufficientBalance", self.w.ol.redeem_cash, a, cur, cents)
        else:
            self.w.ol.redeem_cash(a, cur, cents)
            self.bal[(a, cur)] -= cents
            self.supply[cur] -= cents
            self._moved = True

    @rule(pid=pids, change=st.sampled_from(["freeze", "unfreeze", "unfreeze", Status.ACTIVE, Status.ACTIVE,
                                            Status.SUSPENDED, Status.DEFAULTED]))
    def block(self, pid: str, change: Any) -> None:
        """Freeze or unfreeze the securities account, or suspend / default / reinstate the participant."""
        a = self.addr[pid]
        if change in ("freeze", "unfreeze"):
            self.w.ol.set_frozen(a, change == "freeze")
            (self.frozen.add if change == "freeze" else self.frozen.discard)(a)
        else:
            self.w.ol.set_status(a, change)
            self.status[a] = change

    # ---- settlement --------------------------------------------------------------------------------
    @rule(d=pids, r=pids, sid=sids, qty=st.integers(1, 1_500), cur=curs, amount=st.integers(0, 3_000_000),
          choice=id_choices)
    def dvp(self, d: str, r: str, sid: int, qty: int, cur: str, amount: int, choice: tuple[bool, int, int]) -> None:
        da, ra = self.addr[d], self.addr[r]
        iid = self.pick_id(choice)
        ins = DvPInstruction(iid, da, ra, sid, qty, cur, amount)
        expected = None
        if iid in self.final:
            expected = "InstructionFinal"
        elif da == ra:
            expected = "SameAccount"
        elif self.blocked(da) or self.blocked(ra):
            expected = "AccountBlocked"
        elif self.bal[(da, sid)] < qty:
            expected = "InsufficientSecurities"
        elif amount > 0 and self.bal[(ra, cur)] < amount:
            expected = "InsufficientCash"
        before = dict(self.bal)
        event(f"dvp: {expected or 'settled'}")
        if expected:
            self.expect_error(expected, self.w.ol.settle_dvp, ins)
            return
        self.w.ol.settle_dvp(ins)
        block = self.w.chain.block_number
        events = self.w.chain.logs([self.w.dep.engine.address], block, block)
        reported = self.count_settlements(events)
        o = Obligation(iid, da, ra, sid, qty, CURRENCIES.index(cur), amount)
        assert reported == {iid: (qty, amount)}
        self.check_legs({iid: o}, reported, before)
        self.apply([(o, qty, amount)])

    @rule(data=st.data(), aon=st.sampled_from([False, False, False, True]))
    def batch(self, data: st.DataObject, aon: bool) -> None:
        self.settle_random_batch(data, aon)

    @rule(data=st.data())
    def batch_again(self, data: st.DataObject) -> None:
        """A second batch rule, so batches (the core of the system) make up a good share of the steps."""
        self.settle_random_batch(data, False)

    def settle_random_batch(self, data: st.DataObject, aon: bool) -> None:
        raw = data.draw(st.lists(st.tuples(
            pids, pids, sids, st.integers(0, 60).map(lambda k: k * 50), st.integers(0, 2),
            st.integers(-3_000_000, 3_000_000), st.sampled_from([0, 0, 100, 500]), id_choices),
            min_size=1, max_size=8), label="obligations")
        obligations: list[Obligation] = []
        for d, r, sid, qty, cur, amount, mp, choice in raw:
            if d == r:
                r = PIDS[(PIDS.index(d) + 1) % len(PIDS)]
            if qty == 0 and amount == 0:
                amount = 1
            obligations.append(Obligation(self.pick_id(choice), self.addr[d], self.addr[r], sid, qty, cur, amount,
                                          mp))
        before = dict(self.bal)
        if aon:
            p, failure = self.predict_all_or_nothing(obligations)
            event(f"all-or-nothing: {failure[0] if failure else 'settled'}")
            if failure is not None:
                try:
                    self.w.ol.settle_batch(obligations, all_or_nothing=True)
                except ChainError as exc:
                    if failure[0] == "NetShortfall":
                        assert exc.name == "NetShortfall", exc
                    else:
                        assert exc.name == "BatchFailed", exc
                        assert (exc.args_by_name["id"], exc.args_by_name["reason"]) == failure[1:]
                    return  # nothing moved: checked by the invariants against the unchanged model
                raise AssertionError(f"all-or-nothing batch should have failed ({failure}) but settled")
        else:
            p = self.predict(obligations)
        out = self.w.ol.settle_batch(obligations, all_or_nothing=aon)
        for r in sorted({r.name for r in p.pending.values()} | ({"PARTIAL"} if p.partial else set())
                        | ({"SETTLED"} if p.settled else set())):
            event(f"batch outcome: {r}")
        assert out.settled == p.settled
        assert out.partial == p.partial
        assert out.pending == p.pending
        reported = self.count_settlements(out.events)
        # which of the obligations sharing an id settled is the model's word (checked equal to the chain's above)
        self.check_legs({o.id: o for o, _, _ in p.moves}, reported, before)
        self.apply(p.moves)

    @rule(choice=id_choices)
    def cancel(self, choice: tuple[bool, int, int]) -> None:
        iid = self.pick_id(choice)
        if iid in self.final:
            self.expect_error("InstructionFinal", self.w.ol.cancel, iid)
            return
        self.w.ol.cancel(iid)
        self.final.add(iid)

    # ---- invariants --------------------------------------------------------------------------------
    @invariant()
    def balances_match_model_and_conserve(self) -> None:
        on_chain = self._after if self._after is not None else self.w.snapshot_all()
        self._after = None
        assert on_chain == self.bal
        totals: Counter[Any] = Counter()
        for (_, key), v in self.bal.items():
            totals[key] += v
        assert all(v >= 0 for v in self.bal.values())
        assert {k: v for k, v in totals.items() if v} == {k: v for k, v in self.supply.items() if v}
        # OnChainLedger.conservation (balances sum to the issued total, engine escrow empty) after every step
        # that moved anything; a step that moved nothing left the last checked state as it was.
        if self._moved or not self._checked_once:
            assert self.w.ol.conservation(self.holders, SIDS) == {
                **{f"security:{s}": True for s in SIDS}, **{f"cash:{c}": True for c in CURRENCIES}}
            self._checked_once = True
        self._moved = False

    @invariant()
    def at_most_once(self) -> None:
        assert all(n == 1 for n in self.settle_reports.values()), self.settle_reports
        if self.used:
            flags = self.w.ol.final_flags(self.used)
            assert flags == [i in self.final for i in self.used]


def _run(world: World, examples: int, steps: int, shrink: bool) -> None:
    phases = list(Phase) if shrink else [Phase.explicit, Phase.reuse, Phase.generate]
    run_state_machine_as_test(
        lambda: LedgerMachine(world),
        settings=settings(max_examples=examples, stateful_step_count=steps, deadline=None, phases=phases,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )


def test_ledger_state_machine(world: World) -> None:
    """About a minute: conservation, atomicity and at-most-once over random operation sequences.

    Shrinking is off here (every step costs chain calls, and shrinking a long sequence can take many
    minutes); a failure is saved in the Hypothesis database and shrunk by the slow variant below.
    """
    _run(world, examples=4, steps=14, shrink=False)


@pytest.mark.slow
def test_ledger_state_machine_long(world: World) -> None:
    _run(world, examples=30, steps=20, shrink=True)
