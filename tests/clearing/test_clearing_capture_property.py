"""Property tests for trade capture: random valid books round-trip; arbitrary bytes never crash."""

from __future__ import annotations

import numpy as np
from clearing_testkit import HEADER, assert_books_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.refdata import Market, generate_market
from ledger.trade_capture import TradeBook, TradeFileError, format_trades_csv, parse_trades_csv

MARKET: Market = generate_market(12, 20, seed=5)
TRADERS = MARKET.trading_participants.tolist()
ID_CHARS = st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=",\"")


@st.composite
def valid_books(draw: st.DrawFn) -> TradeBook:
    ids = draw(st.lists(st.text(ID_CHARS, min_size=1, max_size=32), unique=True, max_size=30))
    n = len(ids)
    sec = draw(st.lists(st.integers(0, len(MARKET.securities) - 1), min_size=n, max_size=n))
    buyers = draw(st.lists(st.sampled_from(TRADERS), min_size=n, max_size=n))
    sellers = [draw(st.sampled_from([t for t in TRADERS if t != b])) for b in buyers]
    lots = draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n))
    prices = draw(st.lists(st.integers(1, 99_999_999), min_size=n, max_size=n))
    lag = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    td = np.datetime64("2026-11-20") + np.array(
        draw(st.lists(st.integers(-4000, 4000), min_size=n, max_size=n)), dtype="timedelta64[D]")
    return TradeBook.from_arrays(
        trade_id=np.array([i.encode() for i in ids], dtype="S32"),
        trade_date=td, settle_date=td + np.array(lag, dtype="timedelta64[D]"),
        security=sec, buyer=buyers, seller=sellers,
        quantity=np.array(lots, dtype=np.int64) * MARKET.board_lot[np.array(sec, dtype=int)],
        price_milli=prices, currency=MARKET.currency_idx[np.array(sec, dtype=int)],
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_books())
def test_valid_books_round_trip(book: TradeBook) -> None:
    back = parse_trades_csv(format_trades_csv(book, MARKET), MARKET)
    # Widths of the fixed-size id dtype may differ; compare values.
    assert back.trade_id.tolist() == book.trade_id.tolist()
    assert_books_equal(TradeBook.from_arrays(**{k: getattr(back, k) for k in (
        "trade_date", "settle_date", "security", "buyer", "seller", "quantity", "price_milli",
        "currency")}, trade_id=book.trade_id), book)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=90) | st.text(max_size=90).map(str.encode), max_size=6))
def test_arbitrary_lines_raise_only_trade_file_error(lines: list[bytes]) -> None:
    data = HEADER.encode() + b"\n" + b"\n".join(lines)
    try:
        book = parse_trades_csv(data, MARKET)
    except TradeFileError as exc:
        assert exc.errors and all(e.row >= 2 for e in exc.errors)
    else:
        assert len(book) <= len(lines)
