"""A settlement day end to end on a market (the main job: `ledgerclear day` and `ledgerclear demo`).

The day is a pipeline of stages, each recorded in the market's store when done (ledger.stage_log): a day
killed at any point and run again with the same command redoes only the stage it was in and ends as an
uninterrupted day would. A market made once (contracts, participants, securities) carries any number of
days: a later day carries the earlier days' fails forward and keeps holdings and cash.

Stages: contracts and reference data (once per market); carry-forward of earlier fails; capture of the
day's exchange trades (CSV file or seeded generator), novation and CNS netting; settlement instructions
between participants, matched; opening deposits and cash (the invented scenario of ledger.day_scenario:
a few short, one frozen, SI rings); real-time DvP of the first matched SIs; run 1 (a few SIs held by their
deliverer); top-up of some short participants; run 2 (recycling); liquidity saving; the final run (what
is left fails and is carried forward); conservation from chain state and the day-end reports.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ledger import market as market_dir
from ledger.chain import Chain, ChainConfig
from ledger.day_scenario import Knobs, gridlock_rings, opening_positions, scenario_rng, top_up
from ledger.deployment import Operators, bind, deploy
from ledger.market_setup import NewParticipant, NewSecurity, list_securities, participant_address, register
from ledger.netting import cns_instructions, net_cns
from ledger.onchain import OnChainLedger
from ledger.refdata import Market as RefData
from ledger.refdata import generate_market
from ledger.reports import write_day_reports
from ledger.settlement import RunFigures, SettlementRunner
from ledger.si_generator import generate_sis
from ledger.si_matching import Matched, SiBook, Unmatched
from ledger.stage_log import StageLog, Step
from ledger.store import InstructionRow, NewInstruction, Store
from ledger.trade_capture import read_trades_csv, write_trades_csv
from ledger.trade_generator import generate_trades, settlement_date

LAST_DAY_KEY = "market:last_day"


@dataclass(frozen=True)
class DayConfig:
    """Sizes and knobs of a day (all seeded, so a run is reproducible).

    trades: exchange trades to generate (ignored when `trades_file` is given; the file must use the
    market's participant ids and stock codes — write one with `ledgerclear day --write-trades`).
    sis: settlement instructions between participants (pairs; a few deliberately unmatched).
    realtime_sis: matched SIs settled one by one by real-time DvP before the batch runs.
    held_sis: matched SIs held by their deliverer during run 1 and released for run 2.
    market_dir: the market directory the day runs on (made on first use); None: a market in memory
    (the chain in the process, the store at `db_url`), gone when the day ends.
    """

    trades: int = 20_000
    trades_file: Path | None = None
    sis: int = 200
    realtime_sis: int = 20
    held_sis: int = 3
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
    db_url: str | None = None  # None: the market's store.sqlite (in memory without a market directory)
    market_dir: Path | None = None
    reports_dir: Path | None = None  # also write summary.json and the reports here (the market's own by default)
    write_trades: Path | None = None  # also write the captured trades here (CSV)

    @property
    def knobs(self) -> Knobs:
        return Knobs(self.short_securities, self.short_cash, self.topup_share, self.frozen, self.gridlock_rings)

    @property
    def refdata_spec(self) -> dict[str, Any]:
        return {"generated": {"participants": self.participants, "securities": self.securities, "seed": self.seed}}


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


def run_day(cfg: DayConfig, reporter: Reporter | None = None) -> DayResult:
    """Run (or finish, after a crash) the day `cfg.trade_date` on the market of `cfg`."""
    directory = None
    if cfg.market_dir is not None:
        directory = market_dir.create(cfg.market_dir, cfg.rpc_url, cfg.db_url, cfg.refdata_spec)
    with directory.exclusive("a day") if directory is not None else nullcontext():
        if directory is not None:
            chain, store = market_dir.open_chain_and_store(directory)
        else:
            chain = Chain.connect(ChainConfig(rpc_url=cfg.rpc_url))
            store = Store.open(cfg.db_url or "sqlite://")
        return _Day(cfg, reporter or _Silent(), chain, store, directory).run()


class _Day:
    """One day's stages over an open chain and store."""

    def __init__(self, cfg: DayConfig, rep: Reporter, chain: Chain, store: Store,
                 directory: market_dir.MarketDir | None) -> None:
        self.cfg, self.rep, self.chain, self.store, self.dir = cfg, rep, chain, store, directory
        self.market_log = StageLog(store, chain, "market")
        self.log = StageLog(store, chain, f"day:{cfg.trade_date}")
        self.refdata = generate_market(cfg.participants, cfg.securities, seed=cfg.seed)
        self.ops = Operators.from_chain(chain)

    # ---- the pipeline ---------------------------------------------------------------------------------

    def run(self) -> DayResult:
        cfg = self.cfg
        t_start = time.perf_counter()
        self.rep.stage("chain and contracts")
        description = self.market_log.run("contracts", lambda: Step(deploy(self.chain, operators=self.ops).describe()),
                                          senders=[self.ops.admin])
        if self.dir is not None and self.dir.deployment_description() is None:
            self.dir.write_deployment(description)
        self.dep = bind(self.chain, description)
        self.onchain = OnChainLedger(self.dep)
        self.rep.stage("participants and securities")
        self.market_log.run("reference data", self._reference_data, senders=[self.ops.csd])
        self.addresses = {p.id: p.address for p in self.store.participants()}
        self.token_ids = {s.code: int(s.token_id) for s in self.store.securities()}
        self.chain.namer = {a: p for p, a in self.addresses.items()}.get
        self.runner = SettlementRunner(self.onchain, self.store, self.addresses, self.token_ids,
                                       batch_size=cfg.batch_size)

        start = self.log.run("start", lambda: Step({"first_id": self.store.next_instruction_id()}))
        carried = self.log.run("carry forward", self._carry_forward)
        self.rep.stage("exchange trades, novation and netting")
        capture = self.log.run("capture", self._capture)
        self.rep.stage("settlement instructions and matching")
        sis = self.log.run("sis", self._match_sis)
        self.rep.stage("opening holdings and cash")
        opening = self.log.run("opening", lambda: self._opening(capture, sis), senders=[self.ops.csd, self.ops.bank])
        t_settle = time.perf_counter()
        self.rep.stage("real-time DvP of matched SIs")
        si_ids = _id_range(sis["ids"]) + _id_range(opening["rings"])
        realtime = self.log.run("realtime", lambda: self._realtime(si_ids[:cfg.realtime_sis]))
        held = self.log.run("hold", lambda: self._hold(si_ids[cfg.realtime_sis:cfg.realtime_sis + cfg.held_sis]))
        runs = [self._run("run 1")]
        released = self.log.run("release", lambda: Step(len(held), lambda s: self._move(s, held, "held", "pending")))
        self.rep.stage("top-up of short participants")
        topped = self.log.run("top-up", lambda: self._top_up(opening["frozen"]), senders=[self.ops.csd, self.ops.bank])
        runs.append(self._run("run 2"))
        saving: dict[str, Any] = {}
        if cfg.liquidity_saving:
            self.rep.stage("liquidity saving (gridlock resolution)")
            saving = self.log.run("liquidity saving", lambda: Step(self.runner.liquidity_saving()))
        runs.append(self._run("final run", final=True))
        settlement_s = time.perf_counter() - t_settle

        self.rep.stage("conservation check and reports")
        conservation = self.onchain.conservation(list(self.addresses.values()), self.token_ids.values())
        rows = [r for r in self.store.instructions() if r.id >= start["first_id"]]
        holdings = self._opening_holdings(opening, topped)
        reports: dict[str, Path] = {}
        business_date = dt.date.fromisoformat(cfg.trade_date)
        for where in self._report_dirs():
            reports = write_day_reports(where, business_date, rows, holdings)
        closing = self.log.run("close", lambda: self._close(rows, holdings, opening["frozen"]), senders=[self.ops.csd])
        summary = self._summary(rows, runs, conservation, capture, sis, carried, topped, opening["frozen"])
        timings = {"capture_s": capture["capture_s"], "netting_s": capture["netting_s"],
                   "matching_s": sis["matching_s"], "settlement_s": settlement_s,
                   "total_s": time.perf_counter() - t_start}
        summary.update({
            "realtime_dvp": realtime,
            "held_through_run_1": {"held": len(held), "released": released},
            "liquidity_saving": saving,
            "closing_holdings": len(closing),
            "timings": {k: round(v, 3) for k, v in timings.items()},
            "seconds": round(timings["total_s"], 2),
        })
        for where in self._report_dirs():
            (where / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            (where / "deployment.json").write_text(json.dumps(self.dep.describe(), indent=2) + "\n")
        return DayResult(summary=summary, deployment=self.dep.describe(), runs=runs, reports=reports)

    def _run(self, name: str, final: bool = False) -> RunFigures:
        self.rep.stage(f"settlement {name}" if not name.startswith("final") else "final settlement run")
        figures = self.log.run(name, lambda: Step(self.runner.run(name, final=final, progress=self.rep.progress)
                                                  .as_dict()))
        return RunFigures(**figures)

    def _report_dirs(self) -> list[Path]:
        out: list[Path] = []
        if self.dir is not None:
            out += [self.dir.path, self.dir.day_dir(self.cfg.trade_date)]
        if self.cfg.reports_dir is not None and all(self.cfg.reports_dir.resolve() != p.resolve() for p in out):
            out.append(self.cfg.reports_dir)
        for p in out:
            p.mkdir(parents=True, exist_ok=True)
        return out

    # ---- stages ---------------------------------------------------------------------------------------

    def _reference_data(self) -> Step:
        """Register the market's participants and list its securities, on chain and in the store together."""
        ops, seed = self.ops, self.cfg.seed
        # The bank and the CSD operator are participants whose accounts are their operator keys.
        own = {"settlement_bank": ops.bank, "csd_operator": ops.csd}
        people = [NewParticipant(p.id, p.kind, p.name, own.get(p.kind) or participant_address(f"day/{seed}", p.id))
                  for p in self.refdata.participants]
        securities = [NewSecurity(s.stock_code, s.isin, s.name, s.board_lot, s.currency)
                      for s in self.refdata.securities]
        save_people = register(self.onchain, people)
        save_securities = list_securities(self.onchain, securities)

        def save(s: Any) -> None:
            save_people(s)
            save_securities(s)

        return Step({"participants": len(people), "securities": len(securities)}, save)

    def _carry_forward(self) -> Step:
        """Earlier days' failed instructions join this day as new pending ones (parent: the failed one)."""
        rows = self.store.instructions()
        carried_before = {r.parent_id for r in rows if r.source == "CARRIED"}
        failed = [r for r in rows if r.state == "failed" and r.id not in carried_before]
        first = self.store.next_instruction_id()
        new = [NewInstruction(id=first + k, source="CARRIED", settle_date=r.settle_date, deliverer=r.deliverer,
                              receiver=r.receiver, security_code=r.security_code, quantity=r.quantity,
                              currency=r.currency, amount_cents=r.amount_cents, min_partial=r.min_partial,
                              priority=r.priority, parent_id=r.id) for k, r in enumerate(failed)]
        return Step(len(new), lambda s: self.store.add_instructions_in(s, new))

    def _capture(self) -> Step:
        cfg = self.cfg
        t0 = time.perf_counter()
        book = (read_trades_csv(cfg.trades_file, self.refdata) if cfg.trades_file is not None
                else generate_trades(self.refdata, cfg.trades, trade_date=cfg.trade_date, seed=cfg.seed))
        capture_s = time.perf_counter() - t0
        if cfg.write_trades is not None:
            write_trades_csv(book, self.refdata, cfg.write_trades)
        t0 = time.perf_counter()
        cns = net_cns(book, ccp=self.refdata.ccp_index).obligations
        netting_s = time.perf_counter() - t0
        first = self.store.next_instruction_id()
        instructions = cns_instructions(self.refdata, cns, first)
        settle = str(book.settle_date[0]) if len(book) else str(settlement_date(cfg.trade_date))
        return Step({"trades": len(book), "ids": [first, len(instructions)], "settle_date": settle,
                     "capture_s": capture_s, "netting_s": netting_s},
                    lambda s: self.store.add_instructions_in(s, instructions))

    def _match_sis(self) -> Step:
        """Both sides' SIs into the matching book; matched pairs become instructions, the rest are reported."""
        cfg = self.cfg
        t0 = time.perf_counter()
        trade_date = dt.date.fromisoformat(cfg.trade_date)
        settle_date = settlement_date(cfg.trade_date)
        sis = generate_sis(self.refdata, cfg.sis, trade_date, dt.date.fromisoformat(str(settle_date)), seed=cfg.seed)
        book = SiBook()
        for si in sis:
            book.add(si)
        events = book.match()
        unmatched: dict[str, int] = defaultdict(int)
        for ev in events:
            if isinstance(ev, Unmatched):
                unmatched[str(ev.reason)] += 1
        matched = [ev.obligation for ev in events if isinstance(ev, Matched)]
        first = self.store.next_instruction_id()
        out = [m.to_new_instruction(first + k, priority=0) for k, m in enumerate(matched)]
        figures = {"instructions": len(sis), "matched_pairs": len(matched),
                   "unmatched_by_reason": dict(sorted(unmatched.items()))}
        return Step({"figures": figures, "ids": [first, len(out)], "matching_s": time.perf_counter() - t0},
                    lambda s: self.store.add_instructions_in(s, out))

    def _opening(self, capture: dict[str, Any], sis: dict[str, Any]) -> Step:
        """Deposit what each participant must deliver and fund its payments (a few short); freeze one; the
        SI rings and the stock they deliver."""
        cfg = self.cfg
        ids = set(_id_range(capture["ids"]) + _id_range(sis["ids"]))
        day_rows = [r for r in self.store.instructions(["pending"]) if r.id in ids]
        rng = scenario_rng(cfg.seed, cfg.trade_date, "opening")
        opening = opening_positions(self.refdata, day_rows, cfg.knobs, rng)
        self._deposit(opening.deposits)
        self._issue(opening.cash, "opening")
        for pid in opening.frozen:
            self.onchain.set_frozen(self.addresses[pid], True)
        first = self.store.next_instruction_id()
        rings = gridlock_rings(self.refdata, cfg.knobs, scenario_rng(cfg.seed, cfg.trade_date, "rings"), first,
                               opening.frozen, str(settlement_date(cfg.trade_date)))
        ring_stock = [(r.deliverer, r.security_code, r.quantity) for r in rings]
        self._deposit(ring_stock)
        return Step({"deposits": opening.deposits + ring_stock, "frozen": opening.frozen,
                     "rings": [first, len(rings)]}, lambda s: self.store.add_instructions_in(s, rings))

    def _realtime(self, ids: list[int]) -> Step:
        """Settle the first matched SIs one by one, as real-time DvP; the ones that cannot wait for the runs."""
        self.runner.recover()
        for k, iid in enumerate(ids):
            row = self.store.instruction(iid)
            if row is not None and row.state == "pending" and row.reason is None:  # not tried yet
                self.runner.settle_realtime(row)
            self.rep.progress(k + 1, len(ids))
        rows = [self.store.instruction(iid) for iid in ids]
        pending: dict[str, int] = defaultdict(int)
        for r in rows:
            if r is not None and r.state != "settled":
                pending[r.reason or "not settled"] += 1
        settled = sum(1 for r in rows if r is not None and r.state == "settled")
        return Step({"attempted": len(ids), "settled": settled, "pending_by_reason": dict(sorted(pending.items()))})

    def _hold(self, ids: list[int]) -> Step:
        """The delivering side holds a few matched SIs through run 1 (runs skip held instructions)."""
        pending = [iid for iid in ids if (r := self.store.instruction(iid)) is not None and r.state == "pending"]
        return Step(pending, lambda s: self._move(s, pending, "pending", "held"))

    def _move(self, s: Any, ids: list[int], from_state: str, to_state: str) -> None:
        for iid in ids:
            self.store.transition(iid, [from_state], to_state, session=s)

    def _top_up(self, frozen: list[str]) -> Step:
        cfg = self.cfg
        ccp = self.refdata.participants[self.refdata.ccp_index].id
        plan = top_up(self.store.instructions(["pending"]), cfg.knobs,
                      scenario_rng(cfg.seed, cfg.trade_date, "top-up"), frozen, ccp)
        self._deposit(plan.deposits)
        self._issue(plan.cash, "top-up")
        return Step({"participants": plan.participants, "deposits": plan.deposits})

    def _close(self, rows: list[InstructionRow], holdings: dict[tuple[str, str], int], frozen: list[str]) -> Step:
        """The day's closing holdings (the next day's opening), the accounts frozen for the day thawed, and
        the market's latest day."""
        for pid in frozen:
            self.onchain.set_frozen(self.addresses[pid], False)
        closing = dict(holdings)
        for r in rows:
            if r.state in ("settled", "partial") and r.settled_quantity:
                closing[(r.deliverer, r.security_code)] = closing.get((r.deliverer, r.security_code), 0) - r.settled_quantity
                closing[(r.receiver, r.security_code)] = closing.get((r.receiver, r.security_code), 0) + r.settled_quantity
        kept = [[p, s, q] for (p, s), q in sorted(closing.items()) if q]
        return Step(kept, lambda s: self.store.set_meta_in(s, LAST_DAY_KEY, self.cfg.trade_date))

    # ---- helpers --------------------------------------------------------------------------------------

    def _deposit(self, entries: list[tuple[str, str, int]]) -> None:
        if entries:
            self.onchain.deposit_many([(self.addresses[p], self.token_ids[c], q) for p, c, q in entries])

    def _issue(self, cash: dict[str, list[tuple[str, int]]], reference: str) -> None:
        for code, entries in cash.items():
            self.onchain.issue_cash_many(code, [(self.addresses[p], c) for p, c in entries], reference=reference)

    def _opening_holdings(self, opening: dict[str, Any], topped: dict[str, Any]) -> dict[tuple[str, str], int]:
        """Holdings at the start of the day: the last day's closing plus the day's deposits."""
        out: dict[tuple[str, str], int] = defaultdict(int)
        last = self.store.get_meta(LAST_DAY_KEY)
        if last is not None and last != self.cfg.trade_date:
            for p, s, q in StageLog(self.store, self.chain, f"day:{last}").done("close") or []:
                out[(p, s)] += q
        for p, s, q in opening["deposits"] + topped["deposits"]:
            out[(p, s)] += q
        return dict(out)

    def _summary(self, rows: list[InstructionRow], runs: list[RunFigures], conservation: dict[str, bool],
                 capture: dict[str, Any], sis: dict[str, Any], carried: int, topped: dict[str, Any],
                 frozen: list[str]) -> dict[str, Any]:
        by_id = {r.id: r for r in rows}
        children: dict[int, int] = {r.parent_id: r.id for r in rows if r.parent_id is not None
                                    and r.source == "REMAINDER"}

        def outcome(iid: int) -> tuple[str, str | None]:
            """Follow an obligation through its remainders to where it ended the day, and why."""
            r = by_id[iid]
            if r.state == "partial":
                end, reason = outcome(children[iid])
                return ("settled", None) if end == "settled" else ("partial", reason)
            state = {"settled": "settled", "failed": "failed", "cancelled": "failed"}.get(r.state, "pending")
            return state, r.reason

        counts: dict[str, int] = defaultdict(int)
        fails_by_reason: dict[str, int] = defaultdict(int)
        obligations = [r for r in rows if r.source != "REMAINDER"]
        for r in obligations:
            state, reason = outcome(r.id)
            counts[state] += 1
            if state in ("failed", "partial"):
                fails_by_reason[reason or "?"] += 1
        settled_value: dict[str, int] = defaultdict(int)
        for r in rows:
            if r.state in ("settled", "partial"):
                settled_value[r.currency] += r.settled_amount
        return {
            "trade_date": self.cfg.trade_date,
            "trades": capture["trades"],
            "obligations": len(obligations),
            "cns_obligations": capture["ids"][1],
            "carried_forward_in": carried,
            "settled": counts["settled"],
            "partial": counts["partial"],
            "pending": counts["pending"],
            "failed": counts["failed"],
            "fails_by_reason": dict(sorted(fails_by_reason.items())),
            "runs": [r.as_dict() for r in runs],
            "legs": sum(r.legs for r in runs),
            "gas_used": sum(r.gas_used for r in runs),
            "sis": sis["figures"],
            "settled_value_cents": dict(sorted(settled_value.items())),
            "topped_up_participants": topped["participants"],
            "frozen_participants": frozen,
            "conservation_ok": all(conservation.values()),
            "conservation_checked": len(conservation),
            "backend": self.chain.config.backend,
            "chain_id": self.chain.chain_id,
            "seed": self.cfg.seed,
            "market": str(self.dir.path) if self.dir is not None else None,
        }


def _id_range(first_count: list[int]) -> list[int]:
    first, count = first_count
    return list(range(first, first + count))


__all__ = ["DayConfig", "DayResult", "Reporter", "run_day"]
