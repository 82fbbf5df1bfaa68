"""Settlement instructions (SI) between two participants, and their matching. Pure logic, no database.

Both sides of a bilateral transfer instruct: the deliverer sends "deliver" (MT542 free / MT543 against
payment), the receiver sends "receive" (MT540 / MT541). :class:`SiBook` holds the instructions of a
day, matches deliver against receive sides and emits events; the caller persists instructions and
events, turns each :class:`MatchedObligation` into a store instruction
(:meth:`MatchedObligation.to_new_instruction`) and answers the participants (MT548).

Matching rules
--------------
A deliver instruction D and a receive instruction R match when all of these agree:

* parties: D's sender is R's counterparty and R's sender is D's counterparty;
* security code, quantity, settlement date, currency;
* payment type: both against payment (``APMT``: DVP on the deliver side, RVP on the receive side) or
  both free of payment (``FREE``);
* place of settlement (``XHKCHKH1`` by default, so normally always equal);
* deal price, only when *both* sides give one (it is an optional field);
* settlement amount: ``|D.amount - R.amount| <= tolerance(currency)``. The default tolerance is
  **zero** in every currency (:data:`DEFAULT_TOLERANCE_CENTS`): CCASS matches SI money amounts
  exactly, and an exact match is the safe default for a system whose amounts come from the same
  trade confirmation on both sides. Pass ``tolerance_cents`` to :class:`SiBook` for a tolerance,
  e.g. :data:`T2S_LIKE_TOLERANCE_CENTS`, the European cross-CSD convention of 25 units of currency
  (HKD 25.00 / CNY 25.00 / USD 25.00 here, i.e. 2,500 cents; T2S uses EUR 25, or EUR 2 for
  amounts up to EUR 100,000 — not modelled).

When several counterpart instructions qualify, the one with the closest amount wins, then the one
received first (lowest sequence number). Matching is done on a hash of the exact match key
(parties, security, quantity, settlement date, currency, payment type), so a day of ~100,000 SIs
matches in linear time; the amount, place and deal price are compared only inside a key's bucket.

**Amount rule:** a matched pair becomes one obligation whose settlement amount is the
**deliverer's** (the seller's amount prevails, as in T2S tolerance matching). Free-of-payment
instructions carry amount 0. The obligation follows ledger.batch's sign convention: amount >= 0,
the receiver pays the deliverer.

Unmatched reasons (ISO 15022 ``:25D::MTCH//NMAT`` with ``:24B::NMAT//<code>``, spec/iso15022.md)
------------------------------------------------------------------------------------------------
The reason of an unmatched instruction comes from its *closest* unmatched counterpart candidate
(same two parties and security, opposite direction, fewest disagreeing fields; ties: earliest), and
is the first disagreeing field in this order:

* ``DDAT`` settlement date differs;
* ``DQUA`` quantity differs;
* ``DMON`` settlement amount differs beyond the tolerance, or the currency differs, or one side is
  against payment and the other free of payment (the amount field ``19A::SETT`` disagrees);
* ``DEPT`` place of settlement differs;
* ``DDEA`` deal price differs (both sides gave one);
* ``CMIS`` no counterpart instruction at all (nothing with the same parties and security).

Reasons are re-evaluated at every :meth:`SiBook.match`; an :class:`Unmatched` event is emitted for
a new instruction, and again whenever an instruction's reason changes.

Lifecycle
---------
``unmatched`` -> ``matched`` -> ``settled`` (by the caller, :meth:`SiBook.mark_settled`), or
``cancelled``. Cancellation is by the sender, by reference, before settlement:

* an unmatched instruction is cancelled at once;
* a matched instruction needs **both** senders to cancel (bilateral cancellation, as CSDs require
  once a counterparty relies on the match): the first request is recorded
  (:class:`CancelRequested`), the second cancels both instructions and the obligation
  (:class:`ObligationCancelled`; the caller cancels the store instruction / on-chain id).

Hold and release: only the **delivering** side's sender may hold or release its instruction, in
any state before settlement (unmatched or matched). A matched obligation whose deliver instruction
is held is not settleable: :meth:`SiBook.settleable` leaves it out and :meth:`SiBook.held` lists it;
settlement runs report it pending with reason :data:`HOLD_REASON` (``"HOLD"``, fits the store's
4-character reason column). HOLD is our internal code, not an ISO 15022 one: the gateway maps it to
a ``:25D::SETT//PEND`` advice with the MT548 party-hold reason codes (not pinned down here — check
the SWIFT handbook's 24B PEND list before choosing).

Idempotency: instructions are keyed by (sender, reference). A resend of a known key returns the
existing instruction (``AddResult.created`` False) and never creates a second one; if the resend's
content differs, ``AddResult.conflict`` is True (the gateway rejects it) and nothing changes.
A reference stays taken after cancellation.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from ledger.refdata import CURRENCIES
from ledger.store import NewInstruction

HOLD_REASON: Final = "HOLD"
CCASS_PSET: Final = "XHKCHKH1"

#: Default matching tolerance per currency, in cents: exact (see module docstring).
DEFAULT_TOLERANCE_CENTS: Final[Mapping[str, int]] = {c: 0 for c in CURRENCIES}
#: The European cross-CSD tolerance of 25 currency units, as an opt-in alternative.
T2S_LIKE_TOLERANCE_CENTS: Final[Mapping[str, int]] = {c: 2_500 for c in CURRENCIES}

_PARTICIPANT_ID: Final = re.compile(r"^[A-Z][0-9]{5}$")
_REFERENCE: Final = re.compile(r"^[A-Za-z0-9/\-?:().,'+ ]{1,16}$")  # SEME: 16x, SWIFT set X


class Direction(StrEnum):
    DELIVER = "DELI"
    RECEIVE = "RECE"


class Payment(StrEnum):
    AGAINST = "APMT"  # DVP (deliver side) / RVP (receive side)
    FREE = "FREE"  # free of payment (FOP)


class SiState(StrEnum):
    UNMATCHED = "unmatched"
    MATCHED = "matched"
    SETTLED = "settled"
    CANCELLED = "cancelled"


class UnmatchedReason(StrEnum):
    CMIS = "CMIS"
    DDAT = "DDAT"
    DQUA = "DQUA"
    DMON = "DMON"
    DEPT = "DEPT"
    DDEA = "DDEA"


class SiError(ValueError):
    """An SI operation that is not allowed (unknown reference, wrong party, wrong state)."""


@dataclass(frozen=True)
class SettlementInstruction:
    """One side's instruction, as sent (MT540-543 NEWM).

    amount_cents: the settlement amount in cents, >= 0; must be > 0 against payment and 0 free of
      payment. deal_price_milli: optional deal price in milli-units (ledger.refdata units).
    """

    sender: str
    reference: str
    counterparty: str
    direction: Direction
    payment: Payment
    security_code: str
    quantity: int
    amount_cents: int
    currency: str
    trade_date: dt.date
    settle_date: dt.date
    place_of_settlement: str = CCASS_PSET
    deal_price_milli: int | None = None

    def __post_init__(self) -> None:
        # accept the plain codes ("DELI", "APMT", ...) too, and dates as ISO strings
        object.__setattr__(self, "direction", Direction(self.direction))
        object.__setattr__(self, "payment", Payment(self.payment))
        for name in ("trade_date", "settle_date"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, dt.date.fromisoformat(value))
            elif isinstance(value, dt.datetime) or not isinstance(value, dt.date):
                raise ValueError(f"{name} must be a date, got {value!r}")
        for what, pid in (("sender", self.sender), ("counterparty", self.counterparty)):
            if not _PARTICIPANT_ID.match(pid):
                raise ValueError(f"{what} {pid!r} must be a participant id (letter + 5 digits)")
        if self.sender == self.counterparty:
            raise ValueError("sender and counterparty must differ")
        r = self.reference
        if not _REFERENCE.match(r) or r.startswith("/") or r.endswith("/") or "//" in r:
            raise ValueError(f"reference {r!r}: 1-16 SWIFT characters, not starting or ending with '/' "
                             "nor containing '//'")
        if not self.security_code:
            raise ValueError("security code is required")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity <= 0:
            raise ValueError(f"quantity must be a positive whole number, got {self.quantity!r}")
        if isinstance(self.amount_cents, bool) or not isinstance(self.amount_cents, int) or self.amount_cents < 0:
            raise ValueError(f"amount must be a whole number of cents >= 0, got {self.amount_cents!r}")
        if self.payment == Payment.AGAINST and self.amount_cents == 0:
            raise ValueError("an against-payment instruction needs a positive settlement amount")
        if self.payment == Payment.FREE and self.amount_cents != 0:
            raise ValueError("a free-of-payment instruction carries no settlement amount")
        if self.currency not in CURRENCIES:
            raise ValueError(f"currency {self.currency!r} is not one of {', '.join(CURRENCIES)}")
        if self.settle_date < self.trade_date:
            raise ValueError("settlement date is before trade date")
        if self.deal_price_milli is not None and self.deal_price_milli <= 0:
            raise ValueError("deal price must be positive")

    @property
    def key(self) -> tuple[str, str]:
        return (self.sender, self.reference)

    @property
    def deliverer(self) -> str:
        return self.sender if self.direction is Direction.DELIVER else self.counterparty

    @property
    def receiver(self) -> str:
        return self.counterparty if self.direction is Direction.DELIVER else self.sender


@dataclass
class SiRecord:
    """The book's view of one instruction. Mutable state; the instruction itself is frozen."""

    seq: int  # arrival order in the book (1, 2, ...)
    si: SettlementInstruction
    state: SiState = SiState.UNMATCHED
    reason: UnmatchedReason | None = None  # while unmatched, after the first match()
    held: bool = False
    cancel_requested: bool = False
    match_id: int | None = None
    mkey: tuple[object, ...] = ()  # the exact match key (computed once, on add)
    lkey: tuple[str, str, str] = ("", "", "")  # parties and security (for reasons)


@dataclass(frozen=True)
class MatchedObligation:
    """A matched pair: one obligation to settle. amount_cents is the deliverer's amount (0 if free)."""

    match_id: int
    deliver_key: tuple[str, str]  # (sender, reference) of the deliver instruction
    receive_key: tuple[str, str]
    deliverer: str
    receiver: str
    security_code: str
    quantity: int
    currency: str
    amount_cents: int
    payment: Payment
    trade_date: dt.date
    settle_date: dt.date

    def to_new_instruction(self, instruction_id: int, priority: int = 0, min_partial: int = 0) -> NewInstruction:
        """The store row for this obligation (source "SI"; the caller chooses the id)."""
        return NewInstruction(
            id=instruction_id, source="SI", settle_date=self.settle_date.isoformat(), deliverer=self.deliverer,
            receiver=self.receiver, security_code=self.security_code, quantity=self.quantity,
            currency=self.currency, amount_cents=self.amount_cents, min_partial=min_partial, priority=priority,
        )


# ---- events ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Matched:
    obligation: MatchedObligation


@dataclass(frozen=True)
class Unmatched:
    key: tuple[str, str]
    reason: UnmatchedReason
    counterpart: tuple[str, str] | None = None  # the closest candidate the reason was taken from


@dataclass(frozen=True)
class Cancelled:
    key: tuple[str, str]


@dataclass(frozen=True)
class CancelRequested:
    key: tuple[str, str]  # the matched instruction whose sender asked; the counterparty must also cancel
    match_id: int


@dataclass(frozen=True)
class ObligationCancelled:
    match_id: int
    keys: tuple[tuple[str, str], tuple[str, str]]


@dataclass(frozen=True)
class Held:
    key: tuple[str, str]
    match_id: int | None


@dataclass(frozen=True)
class Released:
    key: tuple[str, str]
    match_id: int | None


@dataclass(frozen=True)
class Settled:
    match_id: int


SiEvent = Matched | Unmatched | Cancelled | CancelRequested | ObligationCancelled | Held | Released | Settled


@dataclass(frozen=True)
class AddResult:
    record: SiRecord
    created: bool  # False: (sender, reference) was already known; nothing changed
    conflict: bool = False  # a resend whose content differs from the known instruction


_MatchKey = tuple[object, ...]  # deliverer, receiver, security, qty, date, ccy, pay
_LooseKey = tuple[str, str, str]  # deliverer, receiver, security


def _match_key(si: SettlementInstruction) -> _MatchKey:
    return (si.deliverer, si.receiver, si.security_code, si.quantity, si.settle_date, si.currency, si.payment)


def _loose_key(si: SettlementInstruction) -> _LooseKey:
    return (si.deliverer, si.receiver, si.security_code)


@dataclass
class _Bucket:
    """Unmatched instructions of one key, by direction, in arrival order (dicts keep insertion order)."""

    deliver: dict[int, SiRecord] = field(default_factory=dict)
    receive: dict[int, SiRecord] = field(default_factory=dict)

    def side(self, d: Direction) -> dict[int, SiRecord]:
        return self.deliver if d is Direction.DELIVER else self.receive

    def __bool__(self) -> bool:
        return bool(self.deliver or self.receive)


class SiBook:
    """The SIs of a settlement day: add, match, cancel, hold, release. Every operation returns events.

    tolerance_cents: per-currency amount tolerance (default exact, :data:`DEFAULT_TOLERANCE_CENTS`).
    """

    def __init__(self, tolerance_cents: Mapping[str, int] | None = None) -> None:
        tol = dict(DEFAULT_TOLERANCE_CENTS if tolerance_cents is None else tolerance_cents)
        for c, t in tol.items():
            if t < 0:
                raise ValueError(f"tolerance for {c} must be >= 0")
        self.tolerance_cents = tol
        self._records: dict[tuple[str, str], SiRecord] = {}
        self._by_key: dict[_MatchKey, _Bucket] = {}
        self._by_loose: dict[_LooseKey, _Bucket] = {}
        self._new: dict[int, SiRecord] = {}  # added since the last match(), by seq
        self._matches: dict[int, MatchedObligation] = {}
        self._match_state: dict[int, SiState] = {}
        self._seq = 0
        self._next_match = 1

    # ---- reads -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[SiRecord]:
        return iter(self._records.values())

    def get(self, sender: str, reference: str) -> SiRecord | None:
        return self._records.get((sender, reference))

    def obligation(self, match_id: int) -> MatchedObligation:
        return self._matches[match_id]

    def settleable(self) -> list[MatchedObligation]:
        """Matched, not settled, not cancelled, not held: what a run may settle (by match id)."""
        return [m for i, m in self._matches.items()
                if self._match_state[i] == SiState.MATCHED and not self._records[m.deliver_key].held]

    def held(self) -> list[MatchedObligation]:
        """Matched obligations skipped by runs because the deliverer holds them (reason HOLD)."""
        return [m for i, m in self._matches.items()
                if self._match_state[i] == SiState.MATCHED and self._records[m.deliver_key].held]

    def unmatched(self) -> list[SiRecord]:
        return [r for r in self._records.values() if r.state == SiState.UNMATCHED]

    # ---- input -------------------------------------------------------------------------------------

    def add(self, si: SettlementInstruction) -> AddResult:
        """Accept an instruction (not matched until :meth:`match`). Idempotent by (sender, reference)."""
        known = self._records.get(si.key)
        if known is not None:
            return AddResult(known, created=False, conflict=known.si != si)
        self._seq += 1
        rec = SiRecord(seq=self._seq, si=si, mkey=_match_key(si), lkey=_loose_key(si))
        self._records[si.key] = rec
        self._index(rec)
        self._new[rec.seq] = rec
        return AddResult(rec, created=True)

    def match(self) -> list[SiEvent]:
        """Match the instructions added since the last call; report new and changed unmatched reasons.

        Deterministic and independent of how often it is called: new instructions are taken in arrival
        order, each against the instructions that arrived before it (as if matched on arrival), choosing
        the qualifying counterpart with the closest amount, then the earliest.
        """
        events: list[SiEvent] = []
        touched: set[_LooseKey] = set()
        new = sorted(self._new.values(), key=lambda r: r.seq)
        self._new.clear()
        for rec in new:
            if rec.state != SiState.UNMATCHED:
                continue  # matched earlier in this pass as someone's counterpart
            touched.add(rec.lkey)
            other = self._best_counterpart(rec)
            if other is not None:
                events.append(Matched(self._pair(rec, other)))
        # Reasons: every still-unmatched instruction sharing parties and security with something new.
        for lk in sorted(touched):
            bucket = self._by_loose.get(lk)
            if bucket is None:
                continue
            for rec in sorted([*bucket.deliver.values(), *bucket.receive.values()], key=lambda r: r.seq):
                reason, cp = self._reason(rec)
                if reason != rec.reason:
                    rec.reason = reason
                    events.append(Unmatched(rec.si.key, reason, cp))
        return events

    def cancel(self, sender: str, reference: str) -> list[SiEvent]:
        """Cancel by the sender before settlement (matched: both sides must cancel; see module doc)."""
        rec = self._require(sender, reference)
        if rec.state == SiState.SETTLED:
            raise SiError(f"{sender}/{reference} has settled and cannot be cancelled")
        if rec.state == SiState.CANCELLED:
            return []
        if rec.state == SiState.UNMATCHED:
            self._unindex(rec)
            self._new.pop(rec.seq, None)
            rec.state = SiState.CANCELLED
            events: list[SiEvent] = [Cancelled(rec.si.key)]
            return events + self._refresh_reasons(rec.lkey)
        assert rec.match_id is not None
        m = self._matches[rec.match_id]
        rec.cancel_requested = True
        d, r = self._records[m.deliver_key], self._records[m.receive_key]
        if not (d.cancel_requested and r.cancel_requested):
            return [CancelRequested(rec.si.key, m.match_id)]
        d.state = r.state = SiState.CANCELLED
        self._match_state[m.match_id] = SiState.CANCELLED
        return [Cancelled(d.si.key), Cancelled(r.si.key), ObligationCancelled(m.match_id, (d.si.key, r.si.key))]

    def hold(self, sender: str, reference: str) -> list[SiEvent]:
        rec = self._deliver_side(sender, reference, "hold")
        if rec.held:
            return []
        rec.held = True
        return [Held(rec.si.key, rec.match_id)]

    def release(self, sender: str, reference: str) -> list[SiEvent]:
        rec = self._deliver_side(sender, reference, "release")
        if not rec.held:
            return []
        rec.held = False
        return [Released(rec.si.key, rec.match_id)]

    def mark_settled(self, match_id: int) -> list[SiEvent]:
        """Record that the caller settled this obligation (after which it cannot be cancelled)."""
        state = self._match_state.get(match_id)
        if state is None:
            raise SiError(f"no matched obligation {match_id}")
        if state == SiState.SETTLED:
            return []
        if state != SiState.MATCHED:
            raise SiError(f"obligation {match_id} is {state.value}, not settleable")
        m = self._matches[match_id]
        if self._records[m.deliver_key].held:
            raise SiError(f"obligation {match_id} is on hold")
        self._match_state[match_id] = SiState.SETTLED
        self._records[m.deliver_key].state = self._records[m.receive_key].state = SiState.SETTLED
        return [Settled(match_id)]

    # ---- internals ---------------------------------------------------------------------------------

    def _require(self, sender: str, reference: str) -> SiRecord:
        rec = self._records.get((sender, reference))
        if rec is None:
            raise SiError(f"no instruction {reference!r} from {sender}")
        return rec

    def _deliver_side(self, sender: str, reference: str, what: str) -> SiRecord:
        rec = self._require(sender, reference)
        if rec.si.direction != Direction.DELIVER:
            raise SiError(f"only the delivering side may {what}; {sender}/{reference} is a receive instruction")
        if rec.state not in (SiState.UNMATCHED, SiState.MATCHED):
            raise SiError(f"{sender}/{reference} is {rec.state.value}; cannot {what}")
        return rec

    def _index(self, rec: SiRecord) -> None:
        d = rec.si.direction
        b = self._by_key.get(rec.mkey)
        if b is None:
            b = self._by_key[rec.mkey] = _Bucket()
        b.side(d)[rec.seq] = rec
        b = self._by_loose.get(rec.lkey)
        if b is None:
            b = self._by_loose[rec.lkey] = _Bucket()
        b.side(d)[rec.seq] = rec

    def _unindex(self, rec: SiRecord) -> None:
        mk, lk = rec.mkey, rec.lkey
        self._by_key[mk].side(rec.si.direction).pop(rec.seq, None)
        if not self._by_key[mk]:
            del self._by_key[mk]
        self._by_loose[lk].side(rec.si.direction).pop(rec.seq, None)
        if not self._by_loose[lk]:
            del self._by_loose[lk]

    def _compatible(self, a: SettlementInstruction, b: SettlementInstruction) -> bool:
        """Fields compared inside a match-key bucket: amount (tolerance), place, deal price."""
        if abs(a.amount_cents - b.amount_cents) > self.tolerance_cents.get(a.currency, 0):
            return False
        if a.place_of_settlement != b.place_of_settlement:
            return False
        return a.deal_price_milli is None or b.deal_price_milli is None or a.deal_price_milli == b.deal_price_milli

    def _best_counterpart(self, rec: SiRecord) -> SiRecord | None:
        bucket = self._by_key.get(rec.mkey)
        if bucket is None:
            return None
        opposite = Direction.RECEIVE if rec.si.direction is Direction.DELIVER else Direction.DELIVER
        best: SiRecord | None = None
        for other in bucket.side(opposite).values():  # arrival order: the first of equal distance wins
            if other.seq > rec.seq:
                break  # only what arrived before: the result is that of matching on arrival
            if other.si.sender != rec.si.counterparty or not self._compatible(rec.si, other.si):
                continue
            if best is None or abs(other.si.amount_cents - rec.si.amount_cents) < abs(
                    best.si.amount_cents - rec.si.amount_cents):
                best = other
        return best

    def _pair(self, a: SiRecord, b: SiRecord) -> MatchedObligation:
        d, r = (a, b) if a.si.direction is Direction.DELIVER else (b, a)
        for rec in (d, r):
            self._unindex(rec)
            self._new.pop(rec.seq, None)
        mid = self._next_match
        self._next_match += 1
        si = d.si
        m = MatchedObligation(
            match_id=mid, deliver_key=d.si.key, receive_key=r.si.key, deliverer=si.deliverer, receiver=si.receiver,
            security_code=si.security_code, quantity=si.quantity, currency=si.currency,
            amount_cents=si.amount_cents, payment=si.payment, trade_date=si.trade_date, settle_date=si.settle_date,
        )
        for rec in (d, r):
            rec.state = SiState.MATCHED
            rec.reason = None
            rec.match_id = mid
        self._matches[mid] = m
        self._match_state[mid] = SiState.MATCHED
        return m

    def _reason(self, rec: SiRecord) -> tuple[UnmatchedReason, tuple[str, str] | None]:
        bucket = self._by_loose.get(rec.lkey)
        if bucket is None:
            return UnmatchedReason.CMIS, None
        opposite = Direction.RECEIVE if rec.si.direction is Direction.DELIVER else Direction.DELIVER
        best: tuple[int, int, UnmatchedReason, tuple[str, str]] | None = None
        for other in bucket.side(opposite).values():
            if other.si.sender != rec.si.counterparty:
                continue
            diffs = self._differences(rec.si, other.si)
            if not diffs:
                continue  # would match: it will at the next match() (cannot happen after one)
            cand = (len(diffs), other.seq, diffs[0], other.si.key)
            if best is None or cand[:2] < best[:2]:
                best = cand
        if best is None:
            return UnmatchedReason.CMIS, None
        return best[2], best[3]

    def _differences(self, a: SettlementInstruction, b: SettlementInstruction) -> list[UnmatchedReason]:
        out: list[UnmatchedReason] = []
        if a.settle_date != b.settle_date:
            out.append(UnmatchedReason.DDAT)
        if a.quantity != b.quantity:
            out.append(UnmatchedReason.DQUA)
        if (a.currency != b.currency or a.payment != b.payment
                or abs(a.amount_cents - b.amount_cents) > self.tolerance_cents.get(a.currency, 0)):
            out.append(UnmatchedReason.DMON)
        if a.place_of_settlement != b.place_of_settlement:
            out.append(UnmatchedReason.DEPT)
        if a.deal_price_milli is not None and b.deal_price_milli is not None and a.deal_price_milli != b.deal_price_milli:
            out.append(UnmatchedReason.DDEA)
        return out

    def _refresh_reasons(self, lk: _LooseKey) -> list[SiEvent]:
        """After a cancellation, instructions that pointed at it may get a new reason (e.g. CMIS)."""
        bucket = self._by_loose.get(lk)
        if bucket is None:
            return []
        events: list[SiEvent] = []
        for rec in sorted([*bucket.deliver.values(), *bucket.receive.values()], key=lambda r: r.seq):
            if rec.reason is None:
                continue  # not yet through match(): it gets its reason there
            reason, cp = self._reason(rec)
            if reason != rec.reason:
                rec.reason = reason
                events.append(Unmatched(rec.si.key, reason, cp))
        return events


__all__ = [
    "AddResult", "CCASS_PSET", "CancelRequested", "Cancelled", "DEFAULT_TOLERANCE_CENTS", "Direction", "HOLD_REASON",
    "Held", "Matched", "MatchedObligation", "ObligationCancelled", "Payment", "Released", "SettlementInstruction",
    "Settled", "SiBook", "SiError", "SiEvent", "SiRecord", "SiState", "T2S_LIKE_TOLERANCE_CENTS", "Unmatched",
    "UnmatchedReason",
]
