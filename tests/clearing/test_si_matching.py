"""SI matching: every rule with a case, cancel/hold/release, idempotent resend, scale."""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any
from collections.abc import Sequence
from dataclasses import replace

import pytest

from ledger.si_matching import (
    HOLD_REASON, T2S_LIKE_TOLERANCE_CENTS, CancelRequested, Cancelled, Direction, Held, Matched,
    ObligationCancelled, Payment, Released, SettlementInstruction, Settled, SiBook, SiError, SiState, Unmatched,
    UnmatchedReason,
)

TD = dt.date(2026, 11, 20)
SD = dt.date(2026, 11, 24)
SELLER, BUYER = "B00001", "C00002"


def deliver(ref: str = "D1", **kw: Any) -> SettlementInstruction:
    base: dict[str, object] = dict(sender=SELLER, reference=ref, counterparty=BUYER, direction=Direction.DELIVER,
                                   payment=Payment.AGAINST, security_code="700", quantity=1_000,
                                   amount_cents=41_260_000, currency="HKD", trade_date=TD, settle_date=SD)
    base.update(kw)
    return SettlementInstruction(**base)  # type: ignore[arg-type]


def receive(ref: str = "R1", **kw: Any) -> SettlementInstruction:
    base: dict[str, object] = dict(sender=BUYER, reference=ref, counterparty=SELLER, direction=Direction.RECEIVE,
                                   payment=Payment.AGAINST, security_code="700", quantity=1_000,
                                   amount_cents=41_260_000, currency="HKD", trade_date=TD, settle_date=SD)
    base.update(kw)
    return SettlementInstruction(**base)  # type: ignore[arg-type]


def reasons(events: Sequence[object]) -> dict[tuple[str, str], UnmatchedReason]:
    return {e.key: e.reason for e in events if isinstance(e, Unmatched)}


# ---- matching rules --------------------------------------------------------------------------------------

def test_exact_match_makes_one_obligation() -> None:
    book = SiBook()
    book.add(deliver())
    book.add(receive())
    events = book.match()
    assert len(events) == 1 and isinstance(events[0], Matched)
    m = events[0].obligation
    assert (m.deliverer, m.receiver, m.quantity, m.amount_cents, m.currency) == (SELLER, BUYER, 1_000, 41_260_000,
                                                                                  "HKD")
    assert m.deliver_key == (SELLER, "D1") and m.receive_key == (BUYER, "R1")
    assert book.get(SELLER, "D1").state == SiState.MATCHED  # type: ignore[union-attr]
    row = m.to_new_instruction(77, priority=2)
    assert (row.id, row.source, row.settle_date, row.amount_cents, row.priority) == (77, "SI", "2026-11-24",
                                                                                    41_260_000, 2)


def test_free_of_payment_matches_with_zero_amount() -> None:
    book = SiBook()
    book.add(deliver(payment=Payment.FREE, amount_cents=0))
    book.add(receive(payment=Payment.FREE, amount_cents=0))
    (ev,) = book.match()
    assert isinstance(ev, Matched) and ev.obligation.amount_cents == 0 and ev.obligation.payment == Payment.FREE


def test_cmis_when_no_counterpart() -> None:
    book = SiBook()
    book.add(deliver())
    assert reasons(book.match()) == {(SELLER, "D1"): UnmatchedReason.CMIS}
    # a receive from someone else, or in another security, is no counterpart either
    book.add(receive("R9", sender="C00003"))
    book.add(receive("R8", security_code="5"))
    evs = reasons(book.match())
    assert evs[("C00003", "R9")] == UnmatchedReason.CMIS and evs[(BUYER, "R8")] == UnmatchedReason.CMIS


def test_dqua_quantity_differs() -> None:
    book = SiBook()
    book.add(deliver())
    book.add(receive(quantity=900))
    assert reasons(book.match()) == {(SELLER, "D1"): UnmatchedReason.DQUA, (BUYER, "R1"): UnmatchedReason.DQUA}


def test_ddat_settlement_date_differs() -> None:
    book = SiBook()
    book.add(deliver())
    book.add(receive(settle_date=dt.date(2026, 11, 25)))
    assert set(reasons(book.match()).values()) == {UnmatchedReason.DDAT}


def test_dmon_amount_beyond_tolerance_currency_or_payment_type() -> None:
    book = SiBook()  # default: exact
    book.add(deliver())
    book.add(receive(amount_cents=41_260_001))
    assert set(reasons(book.match()).values()) == {UnmatchedReason.DMON}
    variants: list[dict[str, Any]] = [dict(currency="USD"), dict(payment=Payment.FREE, amount_cents=0)]
    for i, kw in enumerate(variants):
        b = SiBook()
        b.add(deliver())
        b.add(receive(f"X{i}", **kw))
        assert set(reasons(b.match()).values()) == {UnmatchedReason.DMON}


def test_tolerance_matches_and_deliverers_amount_wins() -> None:
    book = SiBook(tolerance_cents=T2S_LIKE_TOLERANCE_CENTS)
    book.add(receive(amount_cents=41_260_000 + 2_500))  # HKD 25.00 off: within tolerance
    book.add(deliver())
    (ev,) = book.match()
    assert isinstance(ev, Matched) and ev.obligation.amount_cents == 41_260_000
    book.add(deliver("D2"))
    book.add(receive("R2", amount_cents=41_260_000 + 2_501))  # one cent beyond
    assert set(reasons(book.match()).values()) == {UnmatchedReason.DMON}


def test_closest_amount_then_earliest_wins() -> None:
    book = SiBook(tolerance_cents={"HKD": 1_000, "CNY": 0, "USD": 0})
    book.add(receive("R1", amount_cents=41_260_900))
    book.add(receive("R2", amount_cents=41_260_100))
    book.add(receive("R3", amount_cents=41_260_100))
    book.add(deliver())
    evs = book.match()
    m = next(e.obligation for e in evs if isinstance(e, Matched))
    assert m.receive_key == (BUYER, "R2")


def test_dept_and_ddea() -> None:
    book = SiBook()
    book.add(deliver(place_of_settlement="XXXXHKH1"))
    book.add(receive())
    assert set(reasons(book.match()).values()) == {UnmatchedReason.DEPT}
    book = SiBook()
    book.add(deliver(deal_price_milli=412_600))
    book.add(receive(deal_price_milli=412_800))
    assert set(reasons(book.match()).values()) == {UnmatchedReason.DDEA}
    book = SiBook()  # deal price is optional: one side without it still matches
    book.add(deliver(deal_price_milli=412_600))
    book.add(receive())
    assert isinstance(book.match()[0], Matched)


def test_reason_precedence_and_closest_candidate() -> None:
    book = SiBook()
    book.add(deliver())
    book.add(receive("R1", quantity=500, settle_date=dt.date(2026, 11, 25)))  # two differences: DDAT first
    assert reasons(book.match())[(SELLER, "D1")] == UnmatchedReason.DDAT
    book.add(receive("R2", quantity=500))  # one difference: now the closest
    assert reasons(book.match())[(SELLER, "D1")] == UnmatchedReason.DQUA


def test_reason_re_evaluated_only_when_it_changes() -> None:
    book = SiBook()
    book.add(deliver())
    assert reasons(book.match()) == {(SELLER, "D1"): UnmatchedReason.CMIS}
    book.add(deliver("D2", security_code="5"))
    assert reasons(book.match()) == {(SELLER, "D2"): UnmatchedReason.CMIS}  # D1 unchanged, not repeated
    book.add(receive(quantity=2_000))
    assert reasons(book.match()) == {(SELLER, "D1"): UnmatchedReason.DQUA, (BUYER, "R1"): UnmatchedReason.DQUA}
    book.add(receive("R2"))
    evs = book.match()
    assert any(isinstance(e, Matched) for e in evs)
    assert book.get(BUYER, "R1").reason == UnmatchedReason.CMIS  # type: ignore[union-attr]


# ---- validation ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    dict(reference="/X"), dict(reference="A//B"), dict(reference="X" * 17), dict(quantity=0),
    dict(amount_cents=-1), dict(amount_cents=0), dict(payment=Payment.FREE), dict(currency="EUR"),
    dict(settle_date=dt.date(2026, 11, 19)), dict(counterparty=SELLER), dict(sender="B1"),
])
def test_bad_instructions_rejected(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        deliver(**kw)


def test_plain_codes_and_iso_dates_accepted() -> None:
    si = deliver(direction="DELI", payment="APMT", settle_date="2026-11-24")
    assert si.direction is Direction.DELIVER and si.payment is Payment.AGAINST and si.settle_date == SD
    assert si.deliverer == SELLER and si.receiver == BUYER
    with pytest.raises(ValueError):
        deliver(direction="SEND")


# ---- idempotency -----------------------------------------------------------------------------------------

def test_resend_returns_the_existing_instruction() -> None:
    book = SiBook()
    first = book.add(deliver())
    again = book.add(deliver())
    assert first.created and not again.created and not again.conflict
    assert again.record is first.record and len(book) == 1
    changed = book.add(deliver(quantity=2_000))
    assert not changed.created and changed.conflict and changed.record.si.quantity == 1_000
    book.add(receive())
    assert len(book.match()) == 1
    assert book.match() == []  # nothing new
    book.add(receive())  # resend after matching: still no second instruction, no new match
    assert book.match() == [] and len(book) == 2


def test_same_reference_from_two_senders_is_two_instructions() -> None:
    book = SiBook()
    assert book.add(deliver("X1")).created and book.add(receive("X1")).created
    assert isinstance(book.match()[0], Matched)


# ---- cancel ----------------------------------------------------------------------------------------------

def test_cancel_unmatched_then_counterpart_stays_unmatched() -> None:
    book = SiBook()
    book.add(deliver())
    book.add(receive(quantity=2_000))
    book.match()
    evs = book.cancel(SELLER, "D1")
    assert Cancelled((SELLER, "D1")) in evs
    assert reasons(evs) == {(BUYER, "R1"): UnmatchedReason.CMIS}
    assert book.cancel(SELLER, "D1") == []  # idempotent
    book.add(receive("R2"))
    assert not any(isinstance(e, Matched) for e in book.match())  # a cancelled instruction never matches
    assert book.add(deliver()).record.state == SiState.CANCELLED  # the reference stays taken


def test_cancel_before_match_removes_it_from_matching() -> None:
    book = SiBook()
    book.add(deliver())
    book.cancel(SELLER, "D1")
    book.add(receive())
    assert reasons(book.match()) == {(BUYER, "R1"): UnmatchedReason.CMIS}


def test_matched_cancel_needs_both_sides() -> None:
    book = SiBook()
    book.add(deliver())
    book.add(receive())
    mid = book.match()[0].obligation.match_id  # type: ignore[union-attr]
    assert book.cancel(SELLER, "D1") == [CancelRequested((SELLER, "D1"), mid)]
    assert [m.match_id for m in book.settleable()] == [mid]  # still settleable
    evs = book.cancel(BUYER, "R1")
    assert ObligationCancelled(mid, ((SELLER, "D1"), (BUYER, "R1"))) in evs
    assert book.settleable() == [] and book.get(BUYER, "R1").state == SiState.CANCELLED  # type: ignore[union-attr]
    with pytest.raises(SiError):
        book.mark_settled(mid)


def test_no_cancel_after_settlement_and_unknown_reference() -> None:
    book = SiBook()
    book.add(deliver())
    book.add(receive())
    mid = book.match()[0].obligation.match_id  # type: ignore[union-attr]
    assert book.mark_settled(mid) == [Settled(mid)]
    assert book.mark_settled(mid) == []
    with pytest.raises(SiError):
        book.cancel(SELLER, "D1")
    with pytest.raises(SiError):
        book.cancel(SELLER, "NOPE")


# ---- hold / release --------------------------------------------------------------------------------------

def test_hold_and_release_by_the_delivering_side() -> None:
    book = SiBook()
    book.add(deliver())
    book.add(receive())
    assert book.hold(SELLER, "D1") == [Held((SELLER, "D1"), None)]  # held while unmatched
    m = book.match()[0].obligation  # type: ignore[union-attr]
    assert book.settleable() == [] and book.held() == [m] and HOLD_REASON == "HOLD"
    with pytest.raises(SiError):
        book.mark_settled(m.match_id)
    assert book.hold(SELLER, "D1") == []
    assert book.release(SELLER, "D1") == [Released((SELLER, "D1"), m.match_id)]
    assert book.settleable() == [m] and book.held() == []
    assert book.release(SELLER, "D1") == []
    assert book.hold(SELLER, "D1") == [Held((SELLER, "D1"), m.match_id)]  # held after matching too


def test_receiver_cannot_hold_and_settled_cannot_be_held() -> None:
    book = SiBook()
    book.add(deliver())
    book.add(receive())
    mid = book.match()[0].obligation.match_id  # type: ignore[union-attr]
    with pytest.raises(SiError):
        book.hold(BUYER, "R1")
    book.mark_settled(mid)
    with pytest.raises(SiError):
        book.hold(SELLER, "D1")


# ---- scale -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pairs", [
    5_000, pytest.param(50_000, marks=pytest.mark.slow, id="100k-instructions")])
def test_many_instructions_match_in_linear_time(pairs: int) -> None:
    rng = random.Random(1)
    parts = [f"B{i:05d}" for i in range(1, 301)]
    book = SiBook()
    sis = []
    for k in range(pairs):
        s, c = rng.sample(parts, 2)
        d = deliver(f"D{k}", sender=s, counterparty=c, security_code=str(rng.randint(1, 2_600)),
                    quantity=rng.randint(1, 20) * 100, amount_cents=rng.randint(1, 10**8))
        r = receive(f"R{k}", sender=c, counterparty=s, security_code=d.security_code, quantity=d.quantity,
                    amount_cents=d.amount_cents)
        if k % 10 == 0:
            r = replace(r, quantity=r.quantity + 100)
        sis += [d, r]
    rng.shuffle(sis)
    t0 = time.perf_counter()
    for si in sis:
        book.add(si)
    events = book.match()
    elapsed = time.perf_counter() - t0
    matched = sum(isinstance(e, Matched) for e in events)
    assert matched >= pairs * 9 // 10 - pairs // 1000  # the 10% with a quantity mismatch stay unmatched
    unmatched = [r for r in book.unmatched() if r.reason != UnmatchedReason.DQUA]
    assert len(unmatched) <= pairs // 1000  # ... with reason DQUA (bar chance cross-matches)
    assert elapsed < pairs * 4e-4, elapsed  # ~100k SIs in well under 40 s even on a loaded 2-core box
