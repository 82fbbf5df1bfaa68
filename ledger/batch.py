"""Encoding of settlement batches for SettlementEngine.settleBatch, and decoding of their outcome.

The engine takes obligations as packed words plus two small tables of the positions they touch, so it
can load every balance once, settle in memory, and write each touched position back once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from ledger.chain import DecodedEvent

_U32 = (1 << 32) - 1
_U64 = (1 << 64) - 1
_U128 = (1 << 128) - 1
_MIN_PARTIAL_MAX = (1 << 63) - 1


class Reason(IntEnum):
    """Why an obligation did not settle (mirrors SettlementEngine.Reason)."""

    NONE = 0
    LACK = 1  # deliverer short of securities
    MONY = 2  # payer short of cash
    BLOC = 3  # an account is frozen, suspended or defaulted
    FINAL = 4  # the id has already settled or been cancelled
    RISK = 5  # the risk gate holds the securities receiver ineligible


@dataclass(frozen=True)
class Obligation:
    """One DvP obligation: `deliverer` gives `quantity` of `security_id` to `receiver`.

    quantity 0 with a non-zero amount is a money-only obligation (a net position flat in stock but not in
    money, e.g. bought and sold the same quantity at different prices).

    amount: cents; positive = the receiver pays the deliverer (normal DvP), negative = the deliverer pays
      the receiver (a net position whose cash runs with the securities), zero = free of payment.
    min_partial: 0 = settle in full or not at all; else the delivery may settle partially, in whole multiples
      of `min_partial` (e.g. the board lot), and the remainder is reported for recycling.
    """

    id: int
    deliverer: str
    receiver: str
    security_id: int
    quantity: int
    currency: int
    amount: int
    min_partial: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.id <= _U64:
            raise ValueError(f"obligation id {self.id} must fit in 64 bits")
        if self.quantity < 0 or self.quantity > _U128 or (self.quantity == 0 and self.amount == 0):
            raise ValueError(f"obligation {self.id}: quantity must be positive (or zero with an amount), "
                             f"got {self.quantity}")
        if abs(self.amount) > _U128:
            raise ValueError(f"obligation {self.id}: amount {self.amount} out of range")
        if not 0 < self.security_id <= _U128:
            raise ValueError(f"obligation {self.id}: security id must be in 1..2^128-1, got {self.security_id}")
        if not 0 <= self.min_partial <= _MIN_PARTIAL_MAX:
            raise ValueError(f"obligation {self.id}: min_partial {self.min_partial} out of range")
        if self.deliverer == self.receiver:
            raise ValueError(f"obligation {self.id}: deliverer and receiver are the same account")


@dataclass(frozen=True)
class EncodedBatch:
    accounts: list[str]
    sec_slots: list[int]
    cash_slots: list[int]
    words: list[int]


def encode_batch(obligations: Sequence[Obligation]) -> EncodedBatch:
    """Pack obligations (in priority order) into settleBatch's arguments.

    Securities slots are grouped by security and cash slots by currency, as the contracts require.
    """
    accounts: dict[str, int] = {}
    for ob in obligations:
        accounts.setdefault(ob.deliverer, len(accounts))
        accounts.setdefault(ob.receiver, len(accounts))
    sec_keys = sorted({(ob.security_id, accounts[a]) for ob in obligations for a in (ob.deliverer, ob.receiver)})
    cash_keys = sorted({(ob.currency, accounts[a]) for ob in obligations for a in (ob.deliverer, ob.receiver)})
    if len(sec_keys) > _U32 or len(cash_keys) > _U32:
        raise ValueError("batch too large: more than 2^32 positions")
    sec = {k: i for i, k in enumerate(sec_keys)}
    cash = {k: i for i, k in enumerate(cash_keys)}

    words: list[int] = []
    for ob in obligations:
        d, r = accounts[ob.deliverer], accounts[ob.receiver]
        ds, rs = sec[(ob.security_id, d)], sec[(ob.security_id, r)]
        payer, payee = (r, d) if ob.amount >= 0 else (d, r)
        ps, es = cash[(ob.currency, payer)], cash[(ob.currency, payee)]
        words.append(ob.id | (ds << 64) | (rs << 96) | (ob.quantity << 128))
        partial = (1 << 255) | (ob.min_partial << 192) if ob.min_partial else 0
        words.append(abs(ob.amount) | (ps << 128) | (es << 160) | partial)
    return EncodedBatch(
        accounts=list(accounts),
        sec_slots=[(a << 128) | s for (s, a) in sec_keys],
        cash_slots=[(a << 128) | c for (c, a) in cash_keys],
        words=words,
    )


@dataclass
class BatchOutcome:
    """What one settleBatch transaction did, from its events."""

    batch_id: int
    tx_hash: str
    block_number: int
    gas_used: int
    settled: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (quantity, |amount|)
    partial: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # id -> (qty, |amount|, remaining)
    pending: dict[int, Reason] = field(default_factory=dict)
    events: list[DecodedEvent] = field(default_factory=list)


def outcome_from_events(events: Sequence[DecodedEvent], tx_hash: str, block: int, gas_used: int) -> BatchOutcome:
    out = BatchOutcome(batch_id=0, tx_hash=tx_hash, block_number=block, gas_used=gas_used, events=list(events))
    for ev in events:
        if ev.contract != "SettlementEngine":
            continue
        a = ev.args
        if ev.name == "BatchStarted":
            out.batch_id = int(a["batchId"])
        elif ev.name == "ObligationSettled":
            out.settled[int(a["id"])] = (int(a["quantity"]), int(a["amount"]))
        elif ev.name == "ObligationPartiallySettled":
            out.partial[int(a["id"])] = (int(a["quantity"]), int(a["amount"]), int(a["remaining"]))
        elif ev.name == "ObligationPending":
            out.pending[int(a["id"])] = Reason(int(a["reason"]))
    return out
