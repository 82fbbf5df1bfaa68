"""The seeded trade generator: determinism and a market-like shape."""

from __future__ import annotations

import numpy as np

from ledger.refdata import Market, generate_market, tick_size_milli
from ledger.trade_capture import validate_book
from ledger.trade_generator import generate_trades, settlement_date


def test_deterministic_by_seed(market: Market) -> None:
    a = generate_trades(market, 2_000, "2026-11-20", seed=5)
    b = generate_trades(market, 2_000, "2026-11-20", seed=5)
    c = generate_trades(market, 2_000, "2026-11-20", seed=6)
    for name in ("trade_id", "security", "buyer", "seller", "quantity", "price_milli"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.quantity, c.quantity)


def test_t_plus_2_skips_weekends() -> None:
    assert str(settlement_date("2026-11-18")) == "2026-11-20"  # Wed -> Fri
    assert str(settlement_date("2026-11-19")) == "2026-11-23"  # Thu -> Mon
    assert str(settlement_date("2026-11-20")) == "2026-11-24"  # Fri -> Tue
    assert str(settlement_date("2026-12-23", holidays=["2026-12-25"])) == "2026-12-28"


def test_shape(market: Market) -> None:
    m = generate_market(300, 1_000, seed=2)
    book = generate_trades(m, 50_000, "2026-11-20", seed=3)
    assert len(book) == 50_000
    assert len(np.unique(book.trade_id)) == 50_000
    assert book.trade_id[0] == b"T2026112000000001"
    lot = m.board_lot[book.security]
    assert np.all(book.quantity % lot == 0) and np.all(book.quantity > 0)
    lots = book.quantity // lot
    assert 0.85 < np.mean(lots <= 10) < 0.99 and lots.max() > 10  # mostly 1-10 with a tail
    assert np.all(book.buyer != book.seller)
    assert np.all(m.can_trade[book.buyer]) and np.all(m.can_trade[book.seller])
    assert np.all(book.settle_date == np.datetime64("2026-11-24"))
    assert np.all(book.currency == m.currency_idx[book.security])
    assert np.all(book.price_milli > 0)
    assert np.all(book.price_milli % tick_size_milli(m.ref_price_milli[book.security]) == 0)
    # Heavy tails: the busiest 1% of stocks and of participants carry far more than 1%.
    per_sec = np.sort(np.bincount(book.security, minlength=len(m.securities)))[::-1]
    assert per_sec[:10].sum() > 0.15 * len(book)
    per_p = np.sort(np.bincount(np.concatenate([book.buyer, book.seller])))[::-1]
    assert per_p[:3].sum() > 0.05 * 2 * len(book)
    validate_book(book, m)  # passes the same checks as a file would


def test_zero_trades(market: Market) -> None:
    assert len(generate_trades(market, 0)) == 0


def test_holidays_shift_settlement(market: Market) -> None:
    book = generate_trades(market, 10, "2026-12-23", seed=1, holidays=["2026-12-25"])
    assert np.all(book.settle_date == np.datetime64("2026-12-28"))
