"""One settlement day end to end on a fresh chain (the main job: `ledgerclear day` and `ledgerclear demo`).

Deploy, register the market's participants, list its securities; capture the day's exchange trades
(from a CSV file or the seeded generator), novate and net them (CNS); take the day's settlement
instructions (SI) between participants, match them; deposit opening holdings and cash (a few
participants short, one frozen); settle real-time DvP for the first matched SIs, then batch runs; top
up some short participants and recycle; a liquidity-saving step settles what offsets; the final run
fails what is left (carried forward). Figures come from the store, conservation from chain state.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from eth_account import Account
from eth_utils.crypto import keccak

from ledger.chain import Chain, ChainConfig
from ledger.deployment import Deployment, deploy
from ledger.netting import CnsObligations, net_cns
from ledger.onchain import Kind, OnChainLedger
from ledger.refdata import CURRENCIES, Market, generate_market
from ledger.reports import write_day_reports
from ledger.settlement import RunFigures, SettlementRunner
from ledger.si_generator import generate_sis
from ledger.si_matching import Matched, SiBook, Unmatched
from ledger.store import InstructionRow, NewInstruction, ParticipantRow, SecurityRow, Store
from ledger.trade_capture import TradeBook, read_trades_csv, write_trades_csv
from ledger.trade_generator import generate_trades, settlement_date

_KINDS = {"broker": Kind.BROKER, "custodian": Kind.CUSTODIAN, "ccp": Kind.CCP,
          "settlement_bank": Kind.SETTLEMENT_BANK, "csd_operator": Kind.CSD_OPERATOR}


@dataclass(frozen=True)
class DayConfig:
    """Sizes and knobs of a day (all seeded, so a run is reproducible).

    trades: exchange trades to generate (ignored when `trades_file` is given; the file must use the
    seeded market's participant ids and stock codes — write one with `ledgerclear day --write-trades`).
    sis: settlement instructions between participants (pairs; a few deliberately unmatched).
    realtime_sis: matched SIs settled one by one by real-time DvP before the batch runs.
    held_sis: matched SIs held by their deliverer during run 1 and released for run 2.
    """

    trades: int = 20_000
    trades_file: Path | None = None
    sis: int = 200
    realtime_sis: int = 20
    held_sis: int = 3  # matched SIs the delivering side holds through run 1 and then releases
    participants: int = 40
    securities: int = 300
    seed: int = 7
    trade_date: str = "2026-11-20"
    batch_size: int = 1000
    short_securities: float = 0.04  # share of deliveries deposited short (LACK, some partial)
    short_cash: float = 0.08  # share of paying participants funded short (MONY)
    topup_share: float = 0.5  # share of short participants topped up before the recycle run
    frozen: int = 1  # participants frozen all day (BLOC)
    liquidity_saving: bool = True
    gridlock_rings: int = 2  # SI rings A→B→C→A whose payments fund each other (only settle together)
    rpc_url: str | None = None
    db_url: str = "sqlite://"
    reports_dir: Path | None = None
    write_trades: Path | None = None  # also write the captured trades here (CSV)


class Reporter(Protocol):
    def stage(self, name: str) -> None: ...
    def progress(self, done: int, total: int) -> None: ...


class _Silent:
    def stage(self, name: str) -> None:
        pass

    def progress(self, done: int, total: int) -> None:
        pass


@dataclass
class DayResult:
    summary: dict[str, Any]
    deployment: dict[str, Any]
    runs: list[RunFigures] = field(default_factory=list)
    reports: dict[str, Path] = field(default_factory=dict)


def participant_address(seed: int, pid: str) -> str:
    """A participant's chain address, from a key derived from the seed (the day holds no real keys)."""
    return str(Account.from_key(keccak(f"ledgerclear-demo/{seed}/{pid}".encode())).address)


def run_day(cfg: DayConfig, reporter: Reporter | None = None) -> DayResult:
    rep = reporter or _Silent()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    rng = np.random.default_rng(cfg.seed)

    rep.stage("chain and contracts")
    chain = Chain.connect(ChainConfig(rpc_url=cfg.rpc_url))
    dep = deploy(chain)
    onchain = OnChainLedger(dep)
    store = Store.open(cfg.db_url)

    rep.stage("participants and securities")
    market = generate_market(cfg.participants, cfg.securities, seed=cfg.seed)
    addresses = _register(market, dep, onchain, store, cfg.seed)
    names = {a: p for p, a in addresses.items()}
    chain.namer = names.get
    token_ids = _list_securities(market, onchain, store)

    rep.stage("exchange trades, novation and netting")
    t0 = time.perf_counter()
    book = (read_trades_csv(cfg.trades_file, market) if cfg.trades_file is not None
            else generate_trades(market, cfg.trades, trade_date=cfg.trade_date, seed=cfg.seed))
    timings["capture_s"] = time.perf_counter() - t0
    if cfg.write_trades is not None:
        write_trades_csv(book, market, cfg.write_trades)
    t0 = time.perf_counter()
    cns = net_cns(book, ccp=market.ccp_index).obligations
    timings["netting_s"] = time.perf_counter() - t0
    instructions = _instructions(market, cns, store.next_instruction_id())
    store.add_instructions(instructions)

    rep.stage("settlement instructions and matching")
    t0 = time.perf_counter()
    si_figures, si_instructions = _match_sis(market, book, cfg, store.next_instruction_id())
    store.add_instructions(si_instructions)
    timings["matching_s"] = time.perf_counter() - t0

    rep.stage("opening holdings and cash")
    opening, frozen = _open_positions(market, instructions + si_instructions, onchain, addresses, cfg, rng)
    for pid in frozen:
        onchain.set_frozen(addresses[pid], True)
    rings = _gridlock_rings(market, cfg, rng, store.next_instruction_id(), frozen)
    store.add_instructions(rings)
    ring_stock = [(addresses[r.deliverer], int(r.security_code), r.quantity) for r in rings]
    if ring_stock:
        onchain.deposit_many(ring_stock)
        for r in rings:
            opening[(r.deliverer, r.security_code)] = opening.get((r.deliverer, r.security_code), 0) + r.quantity
    si_instructions = si_instructions + rings

    runner = SettlementRunner(onchain, store, addresses, token_ids, batch_size=cfg.batch_size)
    t_settle = time.perf_counter()
    rep.stage("real-time DvP of matched SIs")
    realtime = _realtime(runner, store, si_instructions[:cfg.realtime_sis], rep)
    runs: list[RunFigures] = []
    rep.stage("settlement run 1")
    # The delivering side holds a few matched SIs through run 1 (runs skip held instructions) and
    # releases them before run 2.
    held = [i.id for i in si_instructions[cfg.realtime_sis:cfg.realtime_sis + cfg.held_sis]]
    held = [iid for iid in held if store.transition(iid, ["pending"], "held")]
    runs.append(runner.run("run 1", progress=rep.progress))
    released = sum(store.transition(iid, ["held"], "pending") for iid in held)

    rep.stage("top-up of short participants")
    ccp = market.participants[market.ccp_index].id
    topped = _top_up(store, onchain, addresses, cfg, rng, frozen, opening, ccp)

    rep.stage("settlement run 2 (recycling)")
    runs.append(runner.run("run 2", progress=rep.progress))
    saving: dict[str, Any] = {}
    if cfg.liquidity_saving:
        rep.stage("liquidity saving (gridlock resolution)")
        saving = runner.liquidity_saving()
    rep.stage("final settlement run")
    runs.append(runner.run("final run", final=True, progress=rep.progress))
    timings["settlement_s"] = time.perf_counter() - t_settle

    rep.stage("conservation check and reports")
    conservation = onchain.conservation(list(addresses.values()), token_ids.values())
    reports: dict[str, Path] = {}
    if cfg.reports_dir is not None:
        reports = write_day_reports(cfg.reports_dir, dt.date.fromisoformat(cfg.trade_date), store.instructions(),
                                    opening)
    all_instructions = instructions + si_instructions
    timings["total_s"] = time.perf_counter() - t_start
    summary = _summary(cfg, len(book), all_instructions, store, runs, conservation, topped, frozen, dep)
    summary.update({
        "cns_obligations": len(instructions),
        "sis": si_figures,
        "realtime_dvp": realtime,
        "held_through_run_1": {"held": len(held), "released": released},
        "liquidity_saving": saving,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "seconds": round(timings["total_s"], 2),
    })
    return DayResult(summary=summary, deployment=dep.describe(), runs=runs, reports=reports)


def _match_sis(market: Market, book: TradeBook, cfg: DayConfig, first_id: int) -> tuple[dict[str, Any], list[NewInstruction]]:
    """Both sides' SIs into the matching book; matched pairs become instructions, the rest are reported."""
    trade_date = dt.date.fromisoformat(cfg.trade_date)
    settle_date = (dt.date.fromisoformat(str(book.settle_date[0])) if len(book)
                   else trade_date + dt.timedelta(days=2))
    sis = generate_sis(market, cfg.sis, trade_date, settle_date, seed=cfg.seed)
    si_book = SiBook()
    for si in sis:
        si_book.add(si)
    events = si_book.match()
    unmatched: dict[str, int] = defaultdict(int)
    for ev in events:
        if isinstance(ev, Unmatched):
            unmatched[str(ev.reason)] += 1
    matched = [ev.obligation for ev in events if isinstance(ev, Matched)]
    out = [m.to_new_instruction(first_id + k, priority=0) for k, m in enumerate(matched)]
    figures = {"instructions": len(sis), "matched_pairs": len(matched),
               "unmatched_by_reason": dict(sorted(unmatched.items()))}
    return figures, out


def _gridlock_rings(market: Market, cfg: DayConfig, rng: np.random.Generator, first_id: int,
                    frozen: list[str]) -> list[NewInstruction]:
    """Matched SI rings A→B→C→A, each delivery paid with HKD 100 million nobody holds spare.

    Each party holds the stock it delivers but not the cash it pays, so one by one every leg is short
    of money (MONY) — yet each party receives exactly what it pays, so together they settle.
    """
    traders = [p.id for p in market.participants if p.kind in ("broker", "custodian") and p.id not in frozen]
    hkd = [s for s in market.securities if s.currency == "HKD"]
    if len(traders) < 3 or not hkd:
        return []
    out: list[NewInstruction] = []
    for k in range(cfg.gridlock_rings):
        ring = rng.choice(len(traders), size=3, replace=False)
        for j in range(3):
            sec = hkd[int(rng.integers(len(hkd)))]
            out.append(NewInstruction(
                id=first_id + len(out), source="SI", settle_date=_settle_date(cfg), deliverer=traders[int(ring[j])],
                receiver=traders[int(ring[(j + 1) % 3])], security_code=sec.stock_code, quantity=sec.board_lot,
                currency="HKD", amount_cents=10_000_000_000, priority=0))
    return out


def _settle_date(cfg: DayConfig) -> str:
    return str(settlement_date(cfg.trade_date))


def _realtime(runner: SettlementRunner, store: Store, items: list[NewInstruction], rep: Reporter) -> dict[str, Any]:
    """Settle the first matched SIs one by one, as real-time DvP; the ones that cannot wait for the runs."""
    rows = {r.id: r for r in store.instructions(["pending"])}
    settled = 0
    pending: dict[str, int] = defaultdict(int)
    for k, item in enumerate(items):
        why = runner.settle_realtime(rows[item.id])
        if why is None:
            settled += 1
        else:
            pending[why] += 1
        rep.progress(k + 1, len(items))
    return {"attempted": len(items), "settled": settled, "pending_by_reason": dict(sorted(pending.items()))}


def _register(market: Market, dep: Deployment, onchain: OnChainLedger, store: Store, seed: int) -> dict[str, str]:
    addresses: dict[str, str] = {}
    for p in market.participants:
        # The bank and the CSD operator are participants whose accounts are their operator keys.
        if p.kind == "settlement_bank":
            addresses[p.id] = dep.operators.bank
        elif p.kind == "csd_operator":
            addresses[p.id] = dep.operators.csd
        else:
            addresses[p.id] = participant_address(seed, p.id)
    onchain.register_participants([(p.id, addresses[p.id], _KINDS[p.kind]) for p in market.participants])
    store.add_participants(ParticipantRow(id=p.id, address=addresses[p.id], kind=p.kind, name=p.name, status="active")
                           for p in market.participants)
    return addresses


def _list_securities(market: Market, onchain: OnChainLedger, store: Store) -> dict[str, int]:
    token_ids = {s.stock_code: int(s.stock_code) for s in market.securities}
    onchain.list_securities([(token_ids[s.stock_code], s.isin) for s in market.securities])
    store.add_securities(SecurityRow(code=s.stock_code, token_id=token_ids[s.stock_code], isin=s.isin, name=s.name,
                                     board_lot=s.board_lot, currency=s.currency) for s in market.securities)
    return token_ids


def _instructions(market: Market, cns: CnsObligations, first_id: int) -> list[NewInstruction]:
    """CNS positions as DvP instructions against the CCP.

    Deliveries into the CCP come first (priority 0) so the CCP holds the stock it then delivers out
    (priority 1). Partial delivery is allowed in board lots, as in CNS.
    """
    ccp = market.participants[market.ccp_index].id
    out: list[NewInstruction] = []
    for k in range(len(cns.net_qty)):
        p = market.participants[int(cns.participant[k])].id
        sec = market.securities[int(cns.security[k])]
        q = int(cns.net_qty[k])
        c = int(cns.cash_cents[k])
        if q < 0 or (q == 0 and c < 0):
            deliverer, receiver, amount, priority = p, ccp, c, 0  # the participant delivers (or pays)
        else:
            deliverer, receiver, amount, priority = ccp, p, -c, 1
        if q == 0:
            # money only: the payer is the "deliverer" of nothing; amount > 0 means the receiver pays
            deliverer, receiver, amount = (ccp, p, -c) if c < 0 else (p, ccp, c)
            priority = 0 if c < 0 else 1
        out.append(NewInstruction(
            id=first_id + k, source="CNS", settle_date=str(cns.settle_date[k]), deliverer=deliverer,
            receiver=receiver, security_code=sec.stock_code, quantity=abs(q), currency=CURRENCIES[int(cns.currency[k])],
            amount_cents=amount, min_partial=sec.board_lot if q != 0 else 0, priority=priority,
        ))
    return out


def _open_positions(market: Market, instructions: list[NewInstruction], onchain: OnChainLedger,
                    addresses: dict[str, str], cfg: DayConfig,
                    rng: np.random.Generator) -> tuple[dict[tuple[str, str], int], list[str]]:
    """Deposit what each participant must deliver (a few short) and fund its payments (a few short).

    Returns the opening holdings {(participant, stock code): quantity} and the participants to freeze.
    """
    ccp = market.participants[market.ccp_index].id
    lots = {s.stock_code: s.board_lot for s in market.securities}
    deposits: list[tuple[str, int, int]] = []
    opening: dict[tuple[str, str], int] = defaultdict(int)
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
        if rng.random() < cfg.short_securities:
            qty = int(ins.quantity * rng.uniform(0.0, 0.8)) // lot * lot  # short: may settle partially
        if qty > 0:
            deposits.append((addresses[ins.deliverer], int(ins.security_code), qty))
            opening[(ins.deliverer, ins.security_code)] += qty
    onchain.deposit_many(deposits)
    payers = sorted({p for p, _ in pays})
    short = set(rng.choice(payers, size=int(round(len(payers) * cfg.short_cash)), replace=False).tolist()) if payers else set()
    for code in CURRENCIES:
        entries = [(addresses[p], int(need * (0.5 if p in short else 1.1)) or 1)
                   for (p, c), need in sorted(pays.items()) if c == code]
        if ccp_float.get(code):
            entries.append((addresses[ccp], ccp_float[code]))  # the CCP's committed liquidity facility
        if entries:
            onchain.issue_cash_many(code, entries, reference="opening")
    traders = [p.id for p in market.participants if p.kind in ("broker", "custodian")]
    frozen = sorted(rng.choice(traders, size=min(cfg.frozen, len(traders)), replace=False).tolist())
    return dict(opening), frozen


def _top_up(store: Store, onchain: OnChainLedger, addresses: dict[str, str], cfg: DayConfig,
            rng: np.random.Generator, frozen: list[str], opening: dict[tuple[str, str], int], ccp: str) -> list[str]:
    """Cover the shortfalls of some short participants (stock borrowed, cash wired in) before recycling.

    Securities deposited here count in `opening` (the position statement's opening holdings).
    """
    # CNS shortfalls only: SI parties settle between themselves (their gridlocks are for liquidity saving)
    pending = [r for r in store.instructions(["pending"]) if r.reason in ("LACK", "MONY") and r.source != "SI"]
    short: dict[str, list[InstructionRow]] = defaultdict(list)
    for r in pending:
        who = r.deliverer if r.reason == "LACK" else (r.receiver if r.amount_cents > 0 else r.deliverer)
        if who != ccp and who not in frozen:
            short[who].append(r)
    chosen = sorted(short)
    chosen = [p for p in chosen if rng.random() < cfg.topup_share]
    deposits: list[tuple[str, int, int]] = []
    cash: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for pid in chosen:
        for r in short[pid]:
            if r.reason == "LACK":
                deposits.append((addresses[pid], int(r.security_code), r.quantity))
                opening[(pid, r.security_code)] = opening.get((pid, r.security_code), 0) + r.quantity
            else:
                cash[r.currency].append((addresses[pid], abs(r.amount_cents)))
    if deposits:
        onchain.deposit_many(deposits)
    for code, entries in cash.items():
        onchain.issue_cash_many(code, entries, reference="top-up")
    return chosen


def _summary(cfg: DayConfig, trades: int, instructions: list[NewInstruction], store: Store, runs: list[RunFigures],
             conservation: dict[str, bool], topped: list[str], frozen: list[str],
             dep: Deployment) -> dict[str, Any]:
    rows = {r.id: r for r in store.instructions()}
    children: dict[int, int] = {r.parent_id: r.id for r in rows.values() if r.parent_id is not None}

    def outcome(iid: int) -> tuple[str, str | None]:
        """Follow an obligation through its remainders to where it ended the day, and why."""
        r = rows[iid]
        if r.state == "partial":
            end, reason = outcome(children[iid])
            return ("settled", None) if end == "settled" else ("partial", reason)
        state = {"settled": "settled", "failed": "failed", "cancelled": "failed"}.get(r.state, "pending")
        return state, r.reason

    counts: dict[str, int] = defaultdict(int)
    fails_by_reason: dict[str, int] = defaultdict(int)
    for ins in instructions:
        state, reason = outcome(ins.id)
        counts[state] += 1
        if state in ("failed", "partial"):
            fails_by_reason[reason or "?"] += 1
    settled_value: dict[str, int] = defaultdict(int)
    for r in rows.values():
        if r.state in ("settled", "partial"):
            settled_value[r.currency] += r.settled_amount
    return {
        "trades": trades,
        "obligations": len(instructions),
        "settled": counts["settled"],
        "partial": counts["partial"],
        "pending": counts["pending"],
        "failed": counts["failed"],
        "fails_by_reason": dict(sorted(fails_by_reason.items())),
        "runs": [r.as_dict() for r in runs],
        "legs": sum(r.legs for r in runs),
        "gas_used": sum(r.gas_used for r in runs),
        "settled_value_cents": dict(sorted(settled_value.items())),
        "topped_up_participants": topped,
        "frozen_participants": frozen,
        "conservation_ok": all(conservation.values()),
        "conservation_checked": len(conservation),
        "backend": dep.chain.config.backend,
        "chain_id": dep.chain.chain_id,
        "seed": cfg.seed,
    }

