"""Novation and CNS netting against a dict reference, plus conservation and ordering."""

from __future__ import annotations

import time

import numpy as np
import pytest
from clearing_testkit import reference_cns
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.netting import (
    CnsObligations,
    CnsResult,
    NettingInvariantError,
    check_conservation,
    net_cns,
    novate,
)
from ledger.refdata import Market, generate_market
from ledger.trade_capture import TradeBook
from ledger.trade_generator import generate_trades

DAY0 = np.datetime64("2026-11-20")


@st.composite
def books(draw: st.DrawFn) -> TradeBook:
    n_part = draw(st.integers(2, 6))
    n_sec = draw(st.integers(1, 4))
    sec_cur = draw(st.lists(st.integers(0, 2), min_size=n_sec, max_size=n_sec))
    n = draw(st.integers(0, 40))
    rows = []
    for _ in range(n):
        b = draw(st.integers(0, n_part - 1))
        s = draw(st.integers(0, n_part - 2))
        s = s + 1 if s >= b else s  # seller != buyer
        sec = draw(st.integers(0, n_sec - 1))
        rows.append((b, s, sec, draw(st.integers(0, 3)), draw(st.integers(1, 5)) * 100,
                     draw(st.integers(1, 200_000))))
    arr = np.array(rows, dtype=np.int64).reshape(-1, 6)
    return TradeBook.from_arrays(
        trade_id=np.array([f"T{i}".encode() for i in range(n)], dtype="S8"),
        trade_date=np.full(n, DAY0),
        settle_date=DAY0 + arr[:, 3].astype("timedelta64[D]"),
        security=arr[:, 2], buyer=arr[:, 0], seller=arr[:, 1], quantity=arr[:, 4],
        price_milli=arr[:, 5], currency=np.array(sec_cur, dtype=np.int64)[arr[:, 2]],
    )


def _as_dicts(r: CnsResult) -> tuple[dict[tuple[str, int, int], tuple[int, int, int]],
                                     dict[tuple[str, int, int], int]]:
    o, m = r.obligations, r.money
    ob = {(str(o.settle_date[i]), int(o.participant[i]), int(o.security[i])):
          (int(o.net_qty[i]), int(o.cash_cents[i]), int(o.currency[i])) for i in range(len(o))}
    mo = {(str(m.settle_date[i]), int(m.participant[i]), int(m.currency[i])): int(m.net_cents[i])
          for i in range(len(m))}
    assert len(ob) == len(o) and len(mo) == len(m)  # no duplicate keys
    return ob, mo


def _assert_sorted(r: CnsResult) -> None:
    o = r.obligations
    key = np.lexsort((o.security, o.participant, o.settle_date))
    assert np.array_equal(key, np.arange(len(o)))
    m = r.money
    key = np.lexsort((m.currency, m.participant, m.settle_date))
    assert np.array_equal(key, np.arange(len(m)))


@settings(max_examples=150, deadline=None)
@given(books(), st.sampled_from(["auto", "dense", "sort"]))
def test_matches_reference(book: TradeBook, method: str) -> None:
    result = net_cns(book, method=method)  # type: ignore[arg-type]
    assert _as_dicts(result) == reference_cns(book)
    _assert_sorted(result)
    check_conservation(result)


def test_dense_and_sort_agree_on_generated(market: Market) -> None:
    book = generate_trades(market, 20_000, seed=8)
    a, b = net_cns(book, method="dense"), net_cns(book, method="sort")
    for name in ("participant", "security", "settle_date", "net_qty", "cash_cents", "currency"):
        assert np.array_equal(getattr(a.obligations, name), getattr(b.obligations, name))
    for name in ("participant", "currency", "settle_date", "net_cents"):
        assert np.array_equal(getattr(a.money, name), getattr(b.money, name))
    check_conservation(a)


def _book(rows: list[tuple[int, int, int, int, int]], currency: int = 0) -> TradeBook:
    """rows: (buyer, seller, security, quantity, price_milli), all settling DAY0 + 2."""
    arr = np.array(rows, dtype=np.int64)
    n = len(rows)
    return TradeBook.from_arrays(
        trade_id=np.array([f"T{i}".encode() for i in range(n)]),
        trade_date=np.full(n, DAY0), settle_date=np.full(n, DAY0 + 4),
        security=arr[:, 2], buyer=arr[:, 0], seller=arr[:, 1], quantity=arr[:, 3],
        price_milli=arr[:, 4], currency=np.full(n, currency),
    )


def test_hand_example_signs() -> None:
    # P1 buys 200 @ 1.000 from P2, then sells 100 @ 5.000 to P3 (security 0).
    r = net_cns(_book([(1, 2, 0, 200, 1000), (3, 1, 0, 100, 5000)]))
    ob, mo = _as_dicts(r)
    day = str(DAY0 + 4)
    assert ob == {
        (day, 1, 0): (100, -20_000 + 50_000, 0),  # receives 100 shares AND receives 300.00
        (day, 2, 0): (-200, 20_000, 0),  # delivers, receives 200.00
        (day, 3, 0): (100, -50_000, 0),  # receives, pays 500.00
    }
    assert mo == {(day, 1, 0): 30_000, (day, 2, 0): 20_000, (day, 3, 0): -50_000}


def test_money_only_row_kept() -> None:
    # P1 buys 100 @ 1 and sells 100 @ 2: no stock to move, 100.00 to receive.
    r = net_cns(_book([(1, 2, 0, 100, 1000), (3, 1, 0, 100, 2000)]))
    o = r.obligations
    i = int(np.flatnonzero(o.participant == 1)[0])
    assert o.net_qty[i] == 0 and o.cash_cents[i] == 10_000 and o.money_only[i]


def test_fully_flat_position_dropped() -> None:
    # P1 buys and sells 100 at the same price: nothing left for P1.
    r = net_cns(_book([(1, 2, 0, 100, 1000), (3, 1, 0, 100, 1000)]))
    assert 1 not in r.obligations.participant.tolist()
    assert 1 not in r.money.participant.tolist()


def test_novation_legs(market: Market) -> None:
    book = generate_trades(market, 500, seed=2)
    legs = novate(book, market.ccp_index)
    assert len(legs) == 1_000 and legs.ccp == market.ccp_index
    assert np.array_equal(legs.participant[0::2], book.buyer)
    assert np.array_equal(legs.participant[1::2], book.seller)
    assert np.all(legs.qty[0::2] > 0) and np.all(legs.qty[1::2] < 0)
    # The CCP is flat on every trade: the two legs cancel in stock and in cash.
    assert np.all(legs.qty[0::2] + legs.qty[1::2] == 0)
    assert np.all(legs.cash_cents[0::2] + legs.cash_cents[1::2] == 0)
    with pytest.raises(ValueError):
        novate(book, int(book.buyer[0]))
    with pytest.raises(ValueError):
        net_cns(book, ccp=int(book.seller[0]))


def test_conservation_and_for_date(market: Market) -> None:
    a = generate_trades(market, 3_000, "2026-11-19", seed=1)
    b = generate_trades(market, 3_000, "2026-11-20", seed=2)
    b = TradeBook.from_arrays(**{k: getattr(b, k) for k in (
        "trade_date", "settle_date", "security", "buyer", "seller", "quantity", "price_milli",
        "currency")}, trade_id=np.char.add(b"X", b.trade_id))
    r = net_cns(TradeBook.concat([a, b]))
    check_conservation(r)
    days = np.unique(r.obligations.settle_date)
    assert [str(d) for d in days] == ["2026-11-23", "2026-11-24"]
    part = r.obligations.for_date("2026-11-23")
    assert len(part) + len(r.obligations.for_date("2026-11-24")) == len(r.obligations)
    assert np.all(part.settle_date == np.datetime64("2026-11-23"))
    assert np.sum(part.net_qty) == 0


def test_conservation_check_catches_tampering(market: Market) -> None:
    r = net_cns(generate_trades(market, 1_000, seed=3), ccp=market.ccp_index)
    o = r.obligations
    qty = o.net_qty.copy()
    qty[0] += 1
    bad = CnsResult(CnsObligations(o.participant, o.security, o.settle_date, qty,
                                   o.cash_cents, o.currency), r.money)
    with pytest.raises(NettingInvariantError):
        check_conservation(bad)


def test_empty_book(market: Market) -> None:
    r = net_cns(generate_trades(market, 0))
    assert len(r.obligations) == 0 and len(r.money) == 0
    check_conservation(r)


@pytest.mark.slow
def test_full_day_scale() -> None:
    m = generate_market(600, 2_600, seed=1)
    book = generate_trades(m, 2_400_000, seed=7)
    t = time.perf_counter()
    r = net_cns(book)
    elapsed = time.perf_counter() - t
    check_conservation(r)
    assert elapsed < 5.0, elapsed
