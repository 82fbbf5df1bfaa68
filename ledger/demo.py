"""The main job: one settlement day end to end on a fresh chain.

Deploy, register the market's participants, list its securities, deposit opening holdings and cash,
generate a day of exchange trades, novate and net them (CNS), settle in batch runs, top up some of the
short participants, recycle, run the final settlement, and report — figures computed from the store
and conservation checked against chain state.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from eth_account import Account
from eth_utils.crypto import keccak

from ledger.chain import Chain, ChainConfig
from ledger.deployment import Deployment, deploy
from ledger.netting import CnsObligations, net_cns
from ledger.onchain import Kind, OnChainLedger
from ledger.refdata import CURRENCIES, Market, generate_market
from ledger.settlement import RunFigures, SettlementRunner
from ledger.store import InstructionRow, NewInstruction, ParticipantRow, SecurityRow, Store
from ledger.trade_generator import generate_trades

_KINDS = {"broker": Kind.BROKER, "custodian": Kind.CUSTODIAN, "ccp": Kind.CCP,
          "settlement_bank": Kind.SETTLEMENT_BANK, "csd_operator": Kind.CSD_OPERATOR}


@dataclass(frozen=True)
class DemoConfig:
    """Sizes and knobs of the demo day (all seeded, so a run is reproducible)."""

    trades: int = 20_000
    participants: int = 40
    securities: int = 300
    seed: int = 7
    trade_date: str = "2026-11-20"
    batch_size: int = 1000
    short_securities: float = 0.04  # share of deliveries deposited short (LACK, some partial)
    short_cash: float = 0.08  # share of paying participants funded short (MONY)
    topup_share: float = 0.5  # share of short participants topped up before the recycle run
    frozen: int = 1  # participants frozen all day (BLOC)
    rpc_url: str | None = None
    db_url: str = "sqlite://"


class Reporter(Protocol):
    def stage(self, name: str) -> None: ...
    def progress(self, done: int, total: int) -> None: ...


class _Silent:
    def stage(self, name: str) -> None:
        pass

    def progress(self, done: int, total: int) -> None:
        pass


@dataclass
class DemoResult:
    summary: dict[str, Any]
    deployment: dict[str, Any]
    runs: list[RunFigures] = field(default_factory=list)


def participant_address(seed: int, pid: str) -> str:
    """A participant's chain address, from a key derived from the seed (the demo holds no real keys)."""
    return str(Account.from_key(keccak(f"ledgerclear-demo/{seed}/{pid}".encode())).address)


def run_demo(cfg: DemoConfig, reporter: Reporter | None = None) -> DemoResult:
    rep = reporter or _Silent()
    t_start = time.perf_counter()
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
    book = generate_trades(market, cfg.trades, trade_date=cfg.trade_date, seed=cfg.seed)
    cns = net_cns(book, ccp=market.ccp_index).obligations
    instructions = _instructions(market, cns, store.next_instruction_id())
    store.add_instructions(instructions)

    rep.stage("opening holdings and cash")
    frozen = _open_positions(market, instructions, onchain, addresses, cfg, rng)
    for pid in frozen:
        onchain.set_frozen(addresses[pid], True)

    runner = SettlementRunner(onchain, store, addresses, token_ids, batch_size=cfg.batch_size)
    runs: list[RunFigures] = []
    rep.stage("settlement run 1")
    runs.append(runner.run("run 1", progress=rep.progress))

    rep.stage("top-up of short participants")
    topped = _top_up(store, onchain, addresses, cfg, rng, frozen)

    rep.stage("settlement run 2 (recycling)")
    runs.append(runner.run("run 2", progress=rep.progress))
    rep.stage("final settlement run")
    runs.append(runner.run("final run", final=True, progress=rep.progress))

    rep.stage("conservation check")
    conservation = onchain.conservation(list(addresses.values()), token_ids.values())
    summary = _summary(cfg, len(book), instructions, store, runs, conservation, topped, frozen,
                       time.perf_counter() - t_start, dep)
    return DemoResult(summary=summary, deployment=dep.describe(), runs=runs)


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
                    addresses: dict[str, str], cfg: DemoConfig, rng: np.random.Generator) -> list[str]:
    """Deposit what each participant must deliver (a few short) and fund its payments (a few short)."""
    ccp = market.participants[market.ccp_index].id
    lots = {s.stock_code: s.board_lot for s in market.securities}
    deposits: list[tuple[str, int, int]] = []
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
    return sorted(rng.choice(traders, size=min(cfg.frozen, len(traders)), replace=False).tolist())


def _top_up(store: Store, onchain: OnChainLedger, addresses: dict[str, str], cfg: DemoConfig,
            rng: np.random.Generator, frozen: list[str]) -> list[str]:
    """Cover the shortfalls of some short participants (stock borrowed, cash wired in) before recycling."""
    pending = [r for r in store.instructions(["pending"]) if r.reason in ("LACK", "MONY")]
    ccp = {r.deliverer for r in pending if r.deliverer.startswith("H")} | {r.receiver for r in pending if r.receiver.startswith("H")}
    short: dict[str, list[InstructionRow]] = defaultdict(list)
    for r in pending:
        who = r.deliverer if r.reason == "LACK" else (r.receiver if r.amount_cents > 0 else r.deliverer)
        if who not in ccp and who not in frozen:
            short[who].append(r)
    chosen = sorted(short)
    chosen = [p for p in chosen if rng.random() < cfg.topup_share]
    deposits: list[tuple[str, int, int]] = []
    cash: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for pid in chosen:
        for r in short[pid]:
            if r.reason == "LACK":
                deposits.append((addresses[pid], int(r.security_code), r.quantity))
            else:
                cash[r.currency].append((addresses[pid], abs(r.amount_cents)))
    if deposits:
        onchain.deposit_many(deposits)
    for code, entries in cash.items():
        onchain.issue_cash_many(code, entries, reference="top-up")
    return chosen


def _summary(cfg: DemoConfig, trades: int, instructions: list[NewInstruction], store: Store, runs: list[RunFigures],
             conservation: dict[str, bool], topped: list[str], frozen: list[str], seconds: float,
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
        "seconds": round(seconds, 2),
    }


ProgressFn = Callable[[int, int], None]
