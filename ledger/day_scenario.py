"""The invented parts of a generated day: who is short of stock or cash, who is frozen, the SI rings, the
top-ups. None of this is settlement logic; it makes a day that exercises every reason a delivery waits.

Each function draws from its own generator (`scenario_rng`), so a day resumed after a crash draws the
same as an uninterrupted one whatever stages it skipped.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ledger.refdata import CURRENCIES, Market
from ledger.reports import InstructionLike
from ledger.store import NewInstruction

RING_AMOUNT_CENTS = 10_000_000_000  # each ring leg's payment: HKD 100 million nobody holds spare


def scenario_rng(seed: int, trade_date: str, stage: str) -> np.random.Generator:
    """The generator of one stage of one day (stable across runs and resumptions)."""
    return np.random.default_rng([seed, zlib.crc32(trade_date.encode()), zlib.crc32(stage.encode())])


@dataclass(frozen=True)
class Knobs:
    short_securities: float  # share of deliveries deposited short (LACK, some partial)
    short_cash: float  # share of paying participants funded short (MONY)
    topup_share: float  # share of short participants topped up before the recycle run
    frozen: int  # participants frozen all day (BLOC)
    gridlock_rings: int  # SI rings A→B→C→A whose payments fund each other


@dataclass
class Opening:
    deposits: list[tuple[str, str, int]]  # (participant, stock code, quantity) of stock deposited
    cash: dict[str, list[tuple[str, int]]]  # currency -> (participant, cents) issued
    frozen: list[str]


def opening_positions(market: Market, instructions: Sequence[InstructionLike], knobs: Knobs,
                      rng: np.random.Generator) -> Opening:
    """What each participant must deliver (a few short) and the cash for its payments (a few short)."""
    ccp = market.participants[market.ccp_index].id
    lots = {s.stock_code: s.board_lot for s in market.securities}
    deposits: list[tuple[str, str, int]] = []
    pays: dict[tuple[str, str], int] = defaultdict(int)
    ccp_float: dict[str, int] = defaultdict(int)
    for ins in instructions:
        payer = ins.receiver if ins.amount_cents > 0 else ins.deliverer
        if ins.amount_cents != 0:
            if payer == ccp:
                ccp_float[ins.currency] += abs(ins.amount_cents)
            else:
                pays[(payer, ins.currency)] += abs(ins.amount_cents)
        if ins.deliverer == ccp or ins.quantity == 0:
            continue
        lot = lots[ins.security_code]
        qty = ins.quantity + lot * int(rng.integers(0, 4))
        if rng.random() < knobs.short_securities:
            qty = int(ins.quantity * rng.uniform(0.0, 0.8)) // lot * lot  # short: may settle partially
        if qty > 0:
            deposits.append((ins.deliverer, ins.security_code, qty))
    payers = sorted({p for p, _ in pays})
    short = set(rng.choice(payers, size=int(round(len(payers) * knobs.short_cash)), replace=False).tolist()) \
        if payers else set()
    cash: dict[str, list[tuple[str, int]]] = {}
    for code in CURRENCIES:
        entries = [(p, int(need * (0.5 if p in short else 1.1)) or 1)
                   for (p, c), need in sorted(pays.items()) if c == code]
        if ccp_float.get(code):
            entries.append((ccp, ccp_float[code]))  # the CCP's committed liquidity facility
        if entries:
            cash[code] = entries
    traders = [p.id for p in market.participants if p.kind in ("broker", "custodian")]
    frozen = sorted(rng.choice(traders, size=min(knobs.frozen, len(traders)), replace=False).tolist())
    return Opening(deposits, cash, frozen)


def gridlock_rings(market: Market, knobs: Knobs, rng: np.random.Generator, first_id: int, frozen: Sequence[str],
                   settle_date: str) -> list[NewInstruction]:
    """Matched SI rings A→B→C→A, each delivery paid with HKD 100 million nobody holds spare.

    Each party holds the stock it delivers but not the cash it pays, so one by one every leg is short
    of money (MONY) — yet each party receives exactly what it pays, so together they settle.
    """
    traders = [p.id for p in market.participants if p.kind in ("broker", "custodian") and p.id not in frozen]
    hkd = [s for s in market.securities if s.currency == "HKD"]
    if len(traders) < 3 or not hkd:
        return []
    out: list[NewInstruction] = []
    for _ in range(knobs.gridlock_rings):
        ring = rng.choice(len(traders), size=3, replace=False)
        for j in range(3):
            sec = hkd[int(rng.integers(len(hkd)))]
            out.append(NewInstruction(
                id=first_id + len(out), source="SI", settle_date=settle_date, deliverer=traders[int(ring[j])],
                receiver=traders[int(ring[(j + 1) % 3])], security_code=sec.stock_code, quantity=sec.board_lot,
                currency="HKD", amount_cents=RING_AMOUNT_CENTS, priority=0))
    return out


@dataclass
class TopUp:
    participants: list[str]
    deposits: list[tuple[str, str, int]]  # (participant, stock code, quantity)
    cash: dict[str, list[tuple[str, int]]]  # currency -> (participant, cents)


def top_up(pending: Sequence[InstructionLike], knobs: Knobs, rng: np.random.Generator, frozen: Sequence[str],
           ccp: str) -> TopUp:
    """Cover the shortfalls of some short participants (stock borrowed, cash wired in) before recycling."""
    # CNS shortfalls only: SI parties settle between themselves (their gridlocks are for liquidity saving)
    short: dict[str, list[InstructionLike]] = defaultdict(list)
    for r in pending:
        if r.reason not in ("LACK", "MONY") or r.source == "SI":
            continue
        who = r.deliverer if r.reason == "LACK" else (r.receiver if r.amount_cents > 0 else r.deliverer)
        if who != ccp and who not in frozen:
            short[who].append(r)
    chosen = [p for p in sorted(short) if rng.random() < knobs.topup_share]
    deposits: list[tuple[str, str, int]] = []
    cash: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for pid in chosen:
        for r in short[pid]:
            if r.reason == "LACK":
                deposits.append((pid, r.security_code, r.quantity))
            else:
                cash[r.currency].append((pid, abs(r.amount_cents)))
    return TopUp(chosen, deposits, dict(cash))
