"""Slow, obviously-correct reference implementations and small builders for the clearing tests."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ledger.refdata import CURRENCIES, Market, Security
from ledger.trade_capture import COLUMNS, TradeBook

HEADER = ",".join(COLUMNS)


def reference_cns(
    book: TradeBook,
) -> tuple[dict[tuple[str, int, int], tuple[int, int, int]], dict[tuple[str, int, int], int]]:
    """Novate and net trade by trade with dicts.

    Returns ({(date, participant, security): (net_qty, cash_cents, currency)},
             {(date, participant, currency): net_cents}) with all-zero entries removed.
    """
    pos: dict[tuple[str, int, int], list[int]] = defaultdict(lambda: [0, 0, -1])
    for i in range(len(book)):
        date = str(book.settle_date[i])
        s = int(book.security[i])
        q = int(book.quantity[i])
        v = int(book.value_cents[i])
        c = int(book.currency[i])
        # CCP sells to the buyer: buyer receives q and pays v.
        b = pos[(date, int(book.buyer[i]), s)]
        b[0] += q
        b[1] -= v
        b[2] = c
        # CCP buys from the seller: seller delivers q and receives v.
        sl = pos[(date, int(book.seller[i]), s)]
        sl[0] -= q
        sl[1] += v
        sl[2] = c
    obligations = {k: (v[0], v[1], v[2]) for k, v in pos.items() if v[0] != 0 or v[1] != 0}
    money: dict[tuple[str, int, int], int] = defaultdict(int)
    for (date, p, _s), (_q, cash, cur) in obligations.items():
        money[(date, p, cur)] += cash
    return obligations, {k: v for k, v in money.items() if v != 0}


def brokers(market: Market) -> list[str]:
    return [p.id for p in market.participants if p.kind == "broker"]


def hkd_security(market: Market) -> Security:
    return next(s for s in market.securities if s.currency == "HKD")


def row(
    trade_id: str = "T1",
    trade_date: str = "2026-11-20",
    settlement_date: str = "2026-11-24",
    stock_code: str = "",
    buyer: str = "",
    seller: str = "",
    quantity: str = "",
    price: str = "1.230",
    currency: str = "HKD",
) -> str:
    return ",".join([trade_id, trade_date, settlement_date, stock_code, buyer, seller, quantity,
                     price, currency])


def good_row(market: Market, trade_id: str = "T1", lots: int = 1) -> dict[str, str]:
    s = hkd_security(market)
    b = brokers(market)
    return dict(trade_id=trade_id, stock_code=s.stock_code, buyer=b[0], seller=b[1],
                quantity=str(s.board_lot * lots))


def csv_bytes(lines: list[str]) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def assert_books_equal(a: TradeBook, b: TradeBook) -> None:
    for name in ("trade_id", "trade_date", "settle_date", "security", "buyer", "seller",
                 "quantity", "price_milli", "currency", "value_cents"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


__all__ = ["CURRENCIES", "HEADER", "reference_cns", "row", "good_row", "csv_bytes",
           "assert_books_equal", "brokers", "hkd_security"]
