"""Seeded synthetic exchange trades with a market-like shape, fully vectorised.

Shape (each choice mirrors what HK cash-market trade files look like):

* stock popularity is Zipf-like (exponent ~1.1 over a random ranking): a few names (think 700,
  9988, 5) take a large share of the trades, thousands of names trade a handful of times;
* participant activity is heavy-tailed too (Pareto weights): a few large brokers, a long tail;
* quantity is a whole number of board lots, mostly 1-10 lots (lognormal, ~94% <= 10) with a tail
  up to 2,000 lots;
* price is the reference price moved by a few ticks of the HKEX spread table (normal, sd 3 ticks),
  never below one tick;
* settlement is T+2 business days (weekends skipped; pass ``holidays`` for exchange holidays);
* buyer and seller are distinct trading participants (brokers/custodians);
* trade ids are ``T`` + trade date ``YYYYMMDD`` + an 8-digit sequence (17 ASCII characters).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ledger.refdata import DateLike, Market, as_day, tick_size_milli
from ledger.trade_capture import TradeBook

SETTLEMENT_LAG_DAYS = 2  # T+2, HK cash market


def settlement_date(
    trade_date: DateLike, lag: int = SETTLEMENT_LAG_DAYS,
    holidays: Sequence[DateLike] = (),
) -> np.datetime64:
    """T+lag business days (weekends and the given holidays skipped)."""
    d = as_day(trade_date)
    hol = np.array(holidays, dtype="datetime64[D]")
    return np.busday_offset(d, lag, roll="forward", holidays=hol)


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return np.asarray(w[rng.permutation(n)] / w.sum(), dtype=np.float64)  # random ranking


def _digits(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """(n, width) ASCII digit matrix of zero-padded non-negative integers."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.copy()
    for j in range(width - 1, -1, -1):  # column at a time: O(n) temporaries, not O(n * width)
        v, r = np.divmod(v, 10)
        out[:, j] = r + 48
    return out


def generate_trades(
    market: Market,
    n_trades: int,
    trade_date: DateLike = "2026-11-20",
    seed: int = 0,
    *,
    holidays: Sequence[DateLike] = (),
    stock_zipf: float = 1.1,
    participant_pareto: float = 1.2,
) -> TradeBook:
    """``n_trades`` exchange trades on ``trade_date`` (all settling T+2), deterministic in ``seed``."""
    if not 0 <= n_trades < 10**8:
        raise ValueError("n_trades must be in 0..99,999,999 (8-digit trade id sequence)")
    rng = np.random.default_rng(seed)
    traders = market.trading_participants
    if len(traders) < 2:
        raise ValueError("market needs at least two trading participants")
    td = as_day(trade_date)
    sd = settlement_date(td, holidays=holidays)

    n_sec = len(market.securities)
    sec = rng.choice(n_sec, size=n_trades, p=_zipf_weights(n_sec, stock_zipf, rng)).astype(np.int32)

    act = rng.pareto(participant_pareto, size=len(traders)) + 1.0
    act /= act.sum()
    buyer = rng.choice(len(traders), size=n_trades, p=act)
    seller = rng.choice(len(traders), size=n_trades, p=act)
    # Redraw clashes (buyer == seller) from the same distribution until none remain; each round
    # shrinks the clash set geometrically, so this terminates in a few passes.
    clash = np.flatnonzero(buyer == seller)
    while len(clash):
        seller[clash] = rng.choice(len(traders), size=len(clash), p=act)
        clash = clash[buyer[clash] == seller[clash]]

    lots = np.clip(np.ceil(rng.lognormal(0.7, 1.0, n_trades)), 1, 2_000).astype(np.int64)
    qty = lots * market.board_lot[sec]

    ref = market.ref_price_milli[sec]
    tick = tick_size_milli(ref)
    moves = np.rint(rng.normal(0.0, 3.0, n_trades)).astype(np.int64)
    price = np.maximum(ref + moves * tick, tick)

    seq = np.arange(1, n_trades + 1, dtype=np.int64)
    ymd = int(str(td).replace("-", ""))
    ids = np.empty((n_trades, 17), dtype=np.uint8)
    ids[:, 0] = ord("T")
    ids[:, 1:9] = _digits(np.array([ymd], dtype=np.int64), 8)[0]
    ids[:, 9:] = _digits(seq, 8)
    trade_id = ids.view("S17").ravel()

    return TradeBook.from_arrays(
        trade_id=trade_id,
        trade_date=np.full(n_trades, td),
        settle_date=np.full(n_trades, sd),
        security=sec,
        buyer=traders[buyer],
        seller=traders[seller],
        quantity=qty,
        price_milli=price,
        currency=market.currency_idx[sec],
    )
