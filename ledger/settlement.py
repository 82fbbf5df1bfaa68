"""Settlement runs: pending instructions go to the chain in batches; outcomes come back from events.

Accepted work settles at most once, even across crashes: an instruction is marked `submitted` before its
batch is sent, the chain refuses any id that is already final, and `recover()` settles the store's view
of `submitted` instructions from the chain before a run starts.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update

from ledger.batch import BatchOutcome, Obligation, Reason, outcome_from_events
from ledger.chain import DecodedEvent
from ledger.errors import ChainError, LedgerError
from ledger.gridlock import compare
from ledger.onchain import DvPInstruction, OnChainLedger
from ledger.store import ChainEventRow, InstructionRow, RunRow, Store

Progress = Callable[[int, int], None]

# Single-DvP reverts that mean "not now" (the instruction stays pending with this reason).
_REVERT_REASONS = {"InsufficientSecurities": "LACK", "InsufficientCash": "MONY", "AccountBlocked": "BLOC",
                   "ReceiverIneligible": "RISK"}

IN_FLIGHT = "settlement:in_flight"  # meta key: the batch sent and not yet recorded

_FINAL_EVENTS = ("ObligationSettled", "ObligationPartiallySettled", "InstructionSettled", "InstructionCancelled")


@dataclass
class RunFigures:
    run_id: int
    name: str
    final: bool
    submitted: int = 0
    settled: int = 0
    partial: int = 0
    pending: int = 0
    pending_by_reason: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    batches: int = 0
    legs: int = 0
    gas_used: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def count(self, outcome: BatchOutcome, submitted: int) -> None:
        """Add one batch's outcome (`pending_by_reason` holds the batches' reasons until the run ends)."""
        self.submitted += submitted
        self.batches += 1
        self.gas_used += outcome.gas_used
        self.settled += len(outcome.settled)
        self.partial += len(outcome.partial)
        self.legs += 2 * (len(outcome.settled) + len(outcome.partial))
        # FINAL ids were settled before (a crash between send and record); recovery books them
        reasons = Counter(self.pending_by_reason)
        reasons.update(r.name for r in outcome.pending.values() if r != Reason.FINAL)
        self.pending_by_reason = dict(reasons)


class SettlementRunner:
    """Runs settlement for the instructions in `store` on the chain behind `onchain`.

    addresses: participant id -> chain address; token_ids: stock code -> token id;
    currencies: currency code -> index in the deployment; batch_size: obligations per transaction.
    """

    def __init__(
        self,
        onchain: OnChainLedger,
        store: Store,
        addresses: dict[str, str],
        token_ids: dict[str, int],
        batch_size: int = 1000,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.onchain = onchain
        self.store = store
        self.addresses = addresses
        self.token_ids = token_ids
        self.batch_size = batch_size
        self._currency_index = {c: onchain.d.currency_index(c) for c in onchain.d.currencies}

    # ---- runs -----------------------------------------------------------------------------------------

    def run(self, name: str, final: bool = False, progress: Progress | None = None) -> RunFigures:
        """Submit every pending instruction in priority order; on the final run, fail what is left.

        A run interrupted by a crash (its row unfinished) is resumed, not restarted: what it already
        submitted keeps its outcome, and the rest goes in the same order, so the run ends as it would have.
        """
        self.recover()
        t0 = time.perf_counter()
        resumed = self.store.unfinished_run(name)
        if resumed is None:
            run_id = self.store.start_run(name, final)
            figs = RunFigures(run_id=run_id, name=name, final=final)
        else:
            run_id = int(resumed.id)
            figs = RunFigures(**{**resumed.figures, "run_id": run_id, "name": name, "final": final}) \
                if resumed.figures else RunFigures(run_id=run_id, name=name, final=final)
        # an instruction this run has already tried carries its run id (a remainder too)
        pending = [r for r in self.store.instructions(["pending"]) if r.run_id != run_id]
        total = figs.submitted + len(pending)
        done = figs.submitted
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start:start + self.batch_size]
            self._submit(run_id, chunk, figs=figs)
            done += len(chunk)
            if progress:
                progress(done, total)
        figs.pending = sum(figs.pending_by_reason.values()) + figs.partial  # remainders of partials recycle too
        reasons = dict(figs.pending_by_reason)
        if figs.partial:
            reasons["LACK"] = reasons.get("LACK", 0) + figs.partial
        figs.pending_by_reason = dict(sorted(reasons.items()))
        if final:
            figs.failed = self._fail_remaining(run_id)
        figs.seconds = round(figs.seconds + time.perf_counter() - t0, 3)
        self.store.finish_run(run_id, figs.as_dict())
        return figs

    def settle_realtime(self, row: InstructionRow) -> str | None:
        """Real-time DvP of one pending instruction (one transaction). Returns None when settled, else why not.

        A business failure (securities or cash short, blocked, ineligible) leaves it pending with the
        reason for the next batch run; the chain moved nothing.
        """
        self.recover()
        if row.amount_cents < 0 or row.quantity == 0:
            return "not a plain DvP (settles in batch runs)"
        with self.store.session() as s:
            moved = s.execute(update(InstructionRow).where(InstructionRow.id == row.id,
                                                           InstructionRow.state == "pending")
                              .values(state="submitted"))
            if not moved.rowcount:  # type: ignore[attr-defined]
                return "not pending"
        ins = DvPInstruction(row.id, self.addresses[row.deliverer], self.addresses[row.receiver],
                             self.token_ids[row.security_code], row.quantity, row.currency, row.amount_cents)
        try:
            tx = self.onchain.settle_dvp(ins)
        except ChainError as exc:
            reason = _REVERT_REASONS.get(exc.name or "")
            if reason is None:
                self.recover()
                raise
            with self.store.session() as s:
                s.execute(update(InstructionRow).where(InstructionRow.id == row.id)
                          .values(state="pending", reason=reason))
            return reason
        with self.store.session() as s:
            s.execute(update(InstructionRow).where(InstructionRow.id == row.id).values(
                state="settled", reason=None, settled_quantity=row.quantity, settled_amount=row.amount_cents,
                tx_hash=tx))
        return None

    def liquidity_saving(self, name: str = "liquidity saving") -> dict[str, Any]:
        """Settle together the largest set of LACK/MONY-pending obligations that offsets to feasible.

        The set is found off chain (ledger.gridlock.resolve against current chain balances) and settled in
        one all-or-nothing batch, which the engine checks on net positions. Returns the comparison with a
        plain first-in-first-out pass over the same obligations and balances. The plan is stored with the
        run before the batch is sent, so a step interrupted by a crash settles the same set, once.
        """
        self.recover()
        resumed = self.store.unfinished_run(name)
        if resumed is not None:
            figures = dict(resumed.figures)
            chosen = set(figures.pop("chosen"))
            run_id = int(resumed.id)
        else:
            plan = self._plan_liquidity_saving(name)
            if "chosen" not in plan:
                return plan
            chosen = set(plan.pop("chosen"))
            figures = plan
            run_id = self.store.start_run(name, final=False, figures={**figures, "chosen": sorted(chosen)})
        rows = [r for r in self.store.instructions(["pending"]) if r.id in chosen and r.run_id != run_id]
        if len(rows) == len(chosen):
            self._submit(run_id, rows, all_or_nothing=True)
        settled = [r for r in self.store.instructions(["settled"]) if r.id in chosen and r.run_id == run_id]
        figures["settled"] = len(settled)
        figures["legs"] = 2 * len(settled)
        # from the mined batch itself, whether this call or crash recovery booked it
        tx = next((r.tx_hash for r in settled if r.tx_hash), None)
        figures["gas_used"] = self.onchain.chain.receipt(bytes.fromhex(tx[2:])).gas_used if tx else 0
        self.store.finish_run(run_id, figures)
        return figures

    def _plan_liquidity_saving(self, name: str) -> dict[str, Any]:
        """The comparison figures, and under "chosen" the ids to settle together (absent: nothing to do)."""
        rows = [r for r in self.store.instructions(["pending"]) if r.reason in ("LACK", "MONY")]
        figures: dict[str, Any] = {"name": name, "candidates": len(rows), "settled": 0}
        if not rows:
            return figures
        obligations = [self._obligation(r) for r in rows]
        sec_keys = sorted({(a, o.security_id) for o in obligations for a in (o.deliverer, o.receiver)})
        cash_keys = sorted({(a, o.currency) for o in obligations for a in (o.deliverer, o.receiver)})
        securities = dict(zip(sec_keys, self.onchain.security_balances(sec_keys), strict=True))
        cash: dict[tuple[str, int], int] = {}
        for code in self.onchain.d.currencies:
            c = self._currency_index[code]
            holders = [a for a, k in cash_keys if k == c]
            if holders:
                cash.update(zip(((a, c) for a in holders), self.onchain.cash_balances(code, holders), strict=True))
        cmp = compare(obligations, securities, cash)
        resolution = cmp.resolution
        figures.update(cmp.as_dict())
        if resolution is None or resolution.source == "fifo" or not resolution.settle:
            return figures  # nothing beyond what the next plain run would settle anyway
        figures["chosen"] = sorted(o.id for o in resolution.settle)
        return figures

    def _obligation(self, row: InstructionRow) -> Obligation:
        try:
            return Obligation(
                id=row.id,
                deliverer=self.addresses[row.deliverer],
                receiver=self.addresses[row.receiver],
                security_id=self.token_ids[row.security_code],
                quantity=row.quantity,
                currency=self._currency_index[row.currency],
                amount=row.amount_cents,
                min_partial=row.min_partial,
            )
        except KeyError as exc:
            raise LedgerError(f"instruction {row.id} refers to unknown reference data {exc.args[0]!r}") from None

    def _submit(self, run_id: int, rows: Sequence[InstructionRow], all_or_nothing: bool = False,
                figs: RunFigures | None = None) -> BatchOutcome:
        """One batch: intent stored, sent, outcome recorded (with the run's figures so far, when given)."""
        ids = [r.id for r in rows]
        obligations = [self._obligation(r) for r in rows]
        if all_or_nothing:  # settled together: no partial deliveries
            obligations = [Obligation(o.id, o.deliverer, o.receiver, o.security_id, o.quantity, o.currency, o.amount)
                           for o in obligations]
        settler = self.onchain.ops.settler
        with self.store.session() as s:  # durable intent before the chain sees anything
            s.execute(update(InstructionRow).where(InstructionRow.id.in_(ids))
                      .values(state="submitted", run_id=run_id))
            # the batch takes the settler's next nonce: after a crash, recover() finds it by that nonce
            self.store.set_meta_in(s, IN_FLIGHT, {"nonce": self.onchain.chain.nonce(settler), "run_id": run_id,
                                                  "counted": figs is not None})
        try:
            outcome = self.onchain.settle_batch(obligations, all_or_nothing=all_or_nothing)
        except Exception:
            # The batch did not land (or we cannot tell): recover() decides from the chain.
            self.recover()
            raise
        if figs is not None:
            figs.count(outcome, len(rows))
        self.record(outcome, {r.id: r for r in rows}, run_id, figs)
        return outcome

    def record(self, outcome: BatchOutcome, rows: dict[int, InstructionRow], run_id: int | None = None,
               figs: RunFigures | None = None) -> None:
        """Write a batch's outcome to the store in one transaction (states, remainders, events, and the
        run's figures so far when given: a resumed run carries on from them)."""
        with self.store.session() as s:
            next_id = int(s.scalar(select(func.max(InstructionRow.id))) or 0) + 1
            # One executemany per kind of change (ORM bulk UPDATE by primary key), not a statement per row.
            changes: list[dict[str, Any]] = [
                {"id": iid, "state": "settled", "reason": None, "settled_quantity": qty, "settled_amount": amt,
                 "tx_hash": outcome.tx_hash}
                for iid, (qty, amt) in outcome.settled.items()]
            remainders: list[dict[str, Any]] = []
            for iid, (qty, amt, remaining) in outcome.partial.items():
                changes.append({"id": iid, "state": "partial", "reason": "LACK", "settled_quantity": qty,
                                "settled_amount": amt, "tx_hash": outcome.tx_hash})
                parent = rows[iid]
                rest_amount = parent.amount_cents - (amt if parent.amount_cents >= 0 else -amt)
                remainders.append({
                    "id": next_id, "source": "REMAINDER", "parent_id": iid, "settle_date": parent.settle_date,
                    "deliverer": parent.deliverer, "receiver": parent.receiver,
                    "security_code": parent.security_code, "quantity": remaining, "currency": parent.currency,
                    "amount_cents": rest_amount, "min_partial": parent.min_partial, "priority": parent.priority,
                    "state": "pending", "reason": "LACK", "settled_quantity": 0, "settled_amount": 0,
                    "run_id": run_id if run_id is not None else parent.run_id})
                next_id += 1
            for iid, reason in outcome.pending.items():
                # FINAL means the chain already holds this id as settled/cancelled: recovery's business.
                final = reason == Reason.FINAL
                changes.append({"id": iid, "state": "submitted" if final else "pending",
                                "reason": None if final else reason.name})
            for keys in {tuple(sorted(c)) for c in changes}:  # executemany needs one shape per call
                s.execute(update(InstructionRow), [c for c in changes if tuple(sorted(c)) == keys])
            if remainders:
                s.execute(insert(InstructionRow), remainders)
            self._store_events(s, outcome.events)
            if figs is not None:
                s.execute(update(RunRow).where(RunRow.id == figs.run_id).values(figures=figs.as_dict()))
            if run_id is not None:
                self.store.set_meta_in(s, IN_FLIGHT, None)
        if any(r == Reason.FINAL for r in outcome.pending.values()):
            self.recover()

    @staticmethod
    def _store_events(s: Any, events: Sequence[DecodedEvent]) -> None:
        if not events:
            return
        s.execute(insert(ChainEventRow), [
            {"block_number": e.block_number, "tx_hash": e.tx_hash, "log_index": e.log_index,
             "contract": e.contract, "name": e.name, "args": _jsonable(e.args)} for e in events])

    def _fail_remaining(self, run_id: int) -> int:
        with self.store.session() as s:
            result = s.execute(update(InstructionRow).where(InstructionRow.state == "pending")
                               .values(state="failed", run_id=run_id))
            return int(result.rowcount)  # type: ignore[attr-defined]

    # ---- crash recovery -------------------------------------------------------------------------------

    def recover(self) -> int:
        """Reconcile instructions left `submitted` (a crash between send and record) with the chain.

        Ids the chain holds as final take their outcome from the chain's events; the rest go back to
        pending. Returns how many instructions were reconciled.
        """
        rows = {r.id: r for r in self.store.instructions(["submitted"])}
        if not rows:
            return 0
        reconciled = len(rows)
        self._recover_batch(rows)
        rows = {r.id: r for r in self.store.instructions(["submitted"])}
        if not rows:
            return reconciled
        ids = list(rows)
        final = dict(zip(ids, self.onchain.final_flags(ids), strict=True))
        outcomes = self._final_outcomes({i for i, f in final.items() if f})
        settled = BatchOutcome(batch_id=0, tx_hash="", block_number=0, gas_used=0,
                               events=list(outcomes.values()))
        for iid, f in final.items():
            if not f:
                continue
            ev = outcomes.get(iid)
            if ev is None:
                raise LedgerError(f"instruction {iid} is final on chain but no settlement event was found")
            if ev.name == "ObligationPartiallySettled":
                settled.partial[iid] = (int(ev.args["quantity"]), int(ev.args["amount"]), int(ev.args["remaining"]))
            elif ev.name == "InstructionCancelled":
                with self.store.session() as s:
                    s.execute(update(InstructionRow).where(InstructionRow.id == iid).values(state="cancelled"))
                continue
            else:
                settled.settled[iid] = (int(ev.args["quantity"]), int(ev.args["amount"]))
            settled.tx_hash = ev.tx_hash
        with self.store.session() as s:
            s.execute(update(InstructionRow).where(InstructionRow.id.in_([i for i, f in final.items() if not f]))
                      .values(state="pending"))
        if settled.settled or settled.partial:
            self.record(settled, rows)
        return reconciled

    def _recover_batch(self, submitted: dict[int, InstructionRow]) -> None:
        """Book the batch that was in flight at a crash: from its mined transaction if it landed (with the
        reasons of what it left pending, and in its run's figures), else its instructions were never tried."""
        flight = self.store.get_meta(IN_FLIGHT)
        if not flight:
            return
        run_id = int(flight["run_id"])
        chain, settler = self.onchain.chain, self.onchain.ops.settler
        mine = {iid: r for iid, r in submitted.items() if r.run_id == run_id}
        if chain.nonce(settler) <= int(flight["nonce"]):
            with self.store.session() as s:  # it never reached the chain: untried, as if not submitted
                s.execute(update(InstructionRow).where(InstructionRow.id.in_(list(mine)))
                          .values(state="pending", run_id=None))
                self.store.set_meta_in(s, IN_FLIGHT, None)
            return
        receipt = chain.mined_receipt(settler, int(flight["nonce"]))
        outcome = outcome_from_events(chain.events(receipt), receipt.tx_hash, receipt.block_number, receipt.gas_used)
        ids = set(outcome.settled) | set(outcome.partial) | set(outcome.pending)
        if not ids or not ids <= set(mine):
            return  # another sender's transaction took the nonce: the generic recovery below decides
        figs: RunFigures | None = None
        if flight["counted"]:
            row = self.store.run(run_id)
            if row is not None:
                figs = RunFigures(**{**row.figures, "run_id": run_id}) if row.figures else \
                    RunFigures(run_id=run_id, name=row.name, final=row.final)
                figs.count(outcome, len(ids))
        self.record(outcome, {i: mine[i] for i in ids}, run_id, figs)

    def _final_outcomes(self, ids: set[int]) -> dict[int, DecodedEvent]:
        if not ids:
            return {}
        events = self.onchain.chain.logs([self.onchain.d.engine.address], self.onchain.d.start_block)
        out: dict[int, DecodedEvent] = {}
        for ev in events:
            if ev.name in _FINAL_EVENTS and int(ev.args["id"]) in ids:
                out[int(ev.args["id"])] = ev
        return out


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in args.items():
        if isinstance(v, bytes | bytearray):
            out[k] = "0x" + bytes(v).hex()
        elif isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53:
            out[k] = str(v)  # JSON numbers lose precision past 2^53
        else:
            out[k] = v
    return out
