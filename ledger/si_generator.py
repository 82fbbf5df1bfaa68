"""A seeded day of settlement instructions (SI) between participants, both sides instructing.

Most pairs agree and match; a few are deliberately off so matching has something to report: the
receiving side never instructs (CMIS), instructs another quantity (DQUA), another amount (DMON) or
another settlement date (DDAT). About one pair in ten is free of payment.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ledger.refdata import Market
from ledger.si_matching import Direction, Payment, SettlementInstruction

# Share of pairs spoiled, by the unmatched reason they should produce.
MISMATCH_RATES: dict[str, float] = {"CMIS": 0.03, "DQUA": 0.02, "DMON": 0.02, "DDAT": 0.01}


def generate_sis(market: Market, pairs: int, trade_date: dt.date, settle_date: dt.date,
                 seed: int = 0) -> list[SettlementInstruction]:
    """`pairs` SI pairs (deliver side first, then the receive side unless it is left missing)."""
    rng = np.random.default_rng(seed + 1_000_003)
    traders = [p.id for p in market.participants if p.kind in ("broker", "custodian")]
    if len(traders) < 2:
        raise ValueError("SIs need at least two trading participants")
    out: list[SettlementInstruction] = []
    spoil = rng.random(pairs)
    edges = np.cumsum(list(MISMATCH_RATES.values()))
    for k in range(pairs):
        d, r = rng.choice(len(traders), size=2, replace=False)
        sec = market.securities[int(rng.integers(len(market.securities)))]
        qty = sec.board_lot * int(rng.integers(1, 20))
        free = rng.random() < 0.1
        amount = 0 if free else max(1, (qty * sec.ref_price_milli + 5) // 10)
        payment = Payment.FREE if free else Payment.AGAINST
        ref = f"SI{seed % 1000:03d}{k:08d}"
        deliver = SettlementInstruction(traders[d], ref + "D", traders[r], Direction.DELIVER, payment,
                                        sec.stock_code, qty, amount, sec.currency, trade_date, settle_date)
        out.append(deliver)
        kind = next((name for name, edge in zip(MISMATCH_RATES, edges, strict=True) if spoil[k] < edge), None)
        if kind == "CMIS":
            continue
        r_qty = qty + sec.board_lot if kind == "DQUA" else qty
        r_amount = amount + 10_000 if kind == "DMON" and not free else amount
        r_date = settle_date + dt.timedelta(days=1) if kind == "DDAT" else settle_date
        out.append(SettlementInstruction(traders[r], ref + "R", traders[d], Direction.RECEIVE, payment,
                                         sec.stock_code, r_qty, r_amount, sec.currency, trade_date, r_date))
    return out
