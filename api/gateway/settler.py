"""The ledger side of the gateway: store and chain operations, one call at a time.

Runs inside the ledger worker (worker.py: a child process by default): the chain is slow (a
real-time DvP on the embedded chain takes ~100 ms) and must never stall the event loop that
answers participants, and an in-memory SQLite store must be used from where it was opened.

A matched SI pair becomes one store instruction (source "SI", the obligation of
MatchedObligation.to_new_instruction) and is then settled either at once by real-time DvP
(`settle_now`) or by a batch run (`run_batch`, ledger.settlement.SettlementRunner over every
pending instruction).  Outcomes come back as `Outcome` values the engine turns into 548/544-547.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from api.gateway.refdata import RefData
from ledger.errors import ChainError
from ledger.onchain import DvPInstruction, OnChainLedger
from ledger.settlement import SettlementRunner
from ledger.store import InstructionRow, MetaRow, NewInstruction, Store

log = logging.getLogger("ledgerclear.gateway")

# Contract errors of a real-time DvP -> the pending reason we report (ledger.batch.Reason names).
_DVP_REASONS = {
    "InsufficientSecurities": "LACK",
    "InsufficientCash": "MONY",
    "AccountBlocked": "BLOC",
    "UnknownParticipant": "BLOC",
    "ReceiverIneligible": "RISK",
}


@dataclass(frozen=True)
class Outcome:
    """Where an instruction stands after a settlement attempt.

    state: settled | partial | pending | failed | cancelled | held; reason for pending/failed
    (LACK, MONY, BLOC, RISK, ...); settled quantity/amount (cents) of this attempt; for a partial,
    `remainder_id` is the store id of the rest (the instruction the engine follows from now on)."""

    iid: int
    state: str
    reason: str | None = None
    quantity: int = 0
    amount: int = 0
    remainder_id: int | None = None
    tx_hash: str | None = None


class Settler:
    """Store + chain operations for the gateway (call only from the SettlerThread)."""

    def __init__(self, onchain: OnChainLedger, store: Store, addresses: dict[str, str],
                 token_ids: dict[str, int], batch_size: int = 500) -> None:
        self.onchain = onchain
        self.store = store
        self.addresses = addresses
        self.token_ids = token_ids
        self.runner = SettlementRunner(onchain, store, addresses, token_ids, batch_size=batch_size)

    # ---- instructions ---------------------------------------------------------------------------

    def add(self, item: NewInstruction, key: str) -> tuple[int, bool]:
        """Store a matched obligation as pending, once per `key` (the pair's references): returns its
        id (the on-chain instruction id) and whether it was already there (a replay after a restart).
        The instruction and its key are written in one transaction."""
        meta_key = key[:60]
        with self.store.session() as s:
            known = s.get(MetaRow, meta_key)
            if known is not None:
                return int(known.value), True
            iid = self.store.add_instruction_in(s, item)
            s.add(MetaRow(key=meta_key, value=iid))
            return iid, False

    def settle_now(self, iid: int) -> Outcome:
        """Real-time DvP of one pending instruction."""
        row = self.store.instruction(iid)
        if row is None:
            return Outcome(iid, "failed", "OTHR")
        if row.state != "pending":
            return Outcome(iid, row.state, row.reason)
        if not self.store.transition(iid, ["pending"], "submitted"):
            return Outcome(iid, "pending", row.reason)
        ins = DvPInstruction(id=iid, deliverer=self.addresses[row.deliverer], receiver=self.addresses[row.receiver],
                             security_id=self.token_ids[row.security_code], quantity=row.quantity,
                             currency=row.currency, amount=row.amount_cents)
        try:
            tx = self.onchain.settle_dvp(ins)
        except ChainError as exc:
            if exc.name == "InstructionFinal":
                self.runner.recover()
                return self.outcome(iid)
            reason = _DVP_REASONS.get(exc.name or "", "OTHR")
            self._set(iid, state="pending", reason=reason)
            return Outcome(iid, "pending", reason)
        except Exception:
            log.exception("real-time DvP of instruction %d: outcome unknown, recovering from the chain", iid)
            self.runner.recover()
            return self.outcome(iid)
        self._set(iid, state="settled", reason=None, settled_quantity=row.quantity, settled_amount=row.amount_cents,
                  tx_hash=tx)
        return Outcome(iid, "settled", None, row.quantity, row.amount_cents, tx_hash=tx)

    def run_batch(self, name: str, final: bool, held: Iterable[int], watch: Iterable[int]) -> tuple[dict[str, Any], list[Outcome]]:
        """A batch run over every pending instruction except `held`; outcomes of `watch`."""
        held_ids = list(held)
        for iid in held_ids:
            self.store.transition(iid, ["pending"], "held")
        try:
            figures = self.runner.run(name, final=final)
        finally:
            for iid in held_ids:
                self.store.transition(iid, ["held"], "pending")
        return figures.as_dict(), [self.outcome(i) for i in watch]

    def outcome(self, iid: int) -> Outcome:
        row = self.store.instruction(iid)
        if row is None:
            return Outcome(iid, "failed", "OTHR")
        if row.state == "partial":
            rest = self._remainder(iid)
            return Outcome(iid, "partial", row.reason, row.settled_quantity, abs(row.settled_amount),
                           remainder_id=rest, tx_hash=row.tx_hash)
        if row.state == "settled":
            return Outcome(iid, "settled", None, row.settled_quantity, abs(row.settled_amount), tx_hash=row.tx_hash)
        return Outcome(iid, row.state, row.reason)

    def cancel(self, iid: int) -> bool:
        return self.store.transition(iid, ["pending", "held"], "cancelled")

    def set_min_partial(self, iid: int, min_partial: int) -> None:
        self._set(iid, min_partial=min_partial)

    # ---- reads ----------------------------------------------------------------------------------

    def refdata(self) -> RefData:
        return RefData.from_store(self.store, self.onchain.d.currencies)

    def describe(self) -> dict[str, Any]:
        """deployment.json for this deployment."""
        return self.onchain.d.describe()

    def security_balance(self, participant: str, stock_code: str) -> int:
        return self.onchain.security_balance(self.addresses[participant], self.token_ids[stock_code])

    def cash_balance(self, participant: str, currency: str) -> int:
        return self.onchain.cash_balance(self.addresses[participant], currency)

    def instruction_state(self, iid: int) -> tuple[str, str | None]:
        row = self.store.instruction(iid)
        return ("missing", None) if row is None else (row.state, row.reason)

    def holdings(self, participant: str) -> list[tuple[str, int]]:
        """(stock code, quantity) of every listed security the participant holds (non-zero)."""
        addr = self.addresses[participant]
        codes = sorted(self.token_ids, key=lambda c: self.token_ids[c])
        balances = self.onchain.security_balances([(addr, self.token_ids[c]) for c in codes])
        return [(c, b) for c, b in zip(codes, balances, strict=True) if b]

    def cash(self, participant: str) -> dict[str, int]:
        addr = self.addresses[participant]
        return {c: self.onchain.cash_balance(addr, c) for c in self.onchain.d.currencies}

    # ---- internals ------------------------------------------------------------------------------

    def _set(self, iid: int, **values: Any) -> None:
        with self.store.session() as s:
            s.execute(update(InstructionRow).where(InstructionRow.id == iid).values(**values))

    def _remainder(self, iid: int) -> int | None:
        for r in self.store.instructions(["pending", "held", "failed", "settled", "partial", "submitted"]):
            if r.parent_id == iid:
                return int(r.id)
        return None


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


__all__ = ["Outcome", "Settler", "today"]
