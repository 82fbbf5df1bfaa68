"""`ledgerclear day` and `ledgerclear demo`: a settlement day end to end on the embedded chain (or --rpc)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich import box
from rich.table import Table

from ledger.day import DayConfig, DayResult, run_day
from ledger.errors import LedgerError
from ledger.market import DEFAULT_DIR, MarketError, read_refdata
from ledger.trade_capture import TradeFileError


class _RichReporter:
    def __init__(self, progress: Progress) -> None:
        self._p = progress
        self._task: TaskID | None = None

    def stage(self, name: str) -> None:
        if self._task is not None:
            self._p.update(self._task, completed=self._p.tasks[self._task].total or 1)
        self._task = self._p.add_task(name, total=None)

    def progress(self, done: int, total: int) -> None:
        if self._task is not None:
            self._p.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._task is not None:
            self._p.update(self._task, completed=self._p.tasks[self._task].total or 1, total=self._p.tasks[self._task].total or 1)


def _print_summary(console: Console, result: DayResult) -> None:
    s = result.summary
    table = Table(title="Settlement runs", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("run", no_wrap=True)
    for col in ("submitted", "settled", "partial", "pending", "failed", "s"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("pending by reason", overflow="fold")
    for r in s["runs"]:
        reasons = " ".join(f"{k} {v}" for k, v in r["pending_by_reason"].items()) or "-"
        table.add_row(r["name"], str(r["submitted"]), str(r["settled"]), str(r["partial"]), str(r["pending"]),
                      str(r["failed"]), f"{r['seconds']:.1f}", reasons)
    console.print(table)
    day = Table(title="The day", title_justify="left", show_header=False, box=box.SIMPLE)
    day.add_column("what")
    day.add_column("figure", justify="right")
    day.add_row("exchange trades", f"{s['trades']:,}")
    day.add_row("obligations (CNS + matched SI)", f"{s['obligations']:,} ({s['cns_obligations']:,} CNS)")
    si = s["sis"]
    unmatched = " ".join(f"{k} {v}" for k, v in si["unmatched_by_reason"].items()) or "none"
    day.add_row("settlement instructions", f"{si['instructions']:,} in, {si['matched_pairs']:,} pairs matched")
    day.add_row("unmatched SIs by reason", unmatched)
    hd = s["held_through_run_1"]
    day.add_row("held by the deliverer through run 1", f"{hd['held']} held, {hd['released']} released for run 2")
    rt = s["realtime_dvp"]
    day.add_row("real-time DvP (SIs)", f"{rt['settled']} of {rt['attempted']} settled at once")
    ls = s["liquidity_saving"]
    if ls:
        day.add_row("liquidity saving", f"{ls['settled']} settled together; FIFO would settle "
                                        f"{ls.get('fifo_count', 0)} of {ls['candidates']}")
    day.add_row("settled in full", f"{s['settled']:,}")
    day.add_row("settled in part (rest failed)", f"{s['partial']:,}")
    fails = " ".join(f"{k} {v}" for k, v in s["fails_by_reason"].items())
    day.add_row("failed, carried forward", f"{s['failed']:,}")
    day.add_row("why (failed and part-failed)", fails or "-")
    for cur, cents in s["settled_value_cents"].items():
        day.add_row(f"value settled {cur}", f"{cents / 100:,.2f}")
    day.add_row("frozen all day (BLOC)", ", ".join(s["frozen_participants"]) or "-")
    day.add_row("topped up before recycling", f"{len(s['topped_up_participants'])} participants")
    ok = "[green]yes[/green]" if s["conservation_ok"] else "[red]NO[/red]"
    day.add_row("conservation of every security and currency", f"{ok} ({s['conservation_checked']} checked)")
    day.add_row("on-chain legs, gas", f"{s['legs']:,} legs, {s['gas_used']:,} gas")
    day.add_row("chain", f"{s['backend']} (chain id {s['chain_id']})")
    day.add_row("wall time", f"{s['seconds']:.1f} s")
    console.print(day)


def _run(console: Console, cfg: DayConfig) -> None:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        reporter = _RichReporter(progress)
        try:
            result = run_day(cfg, reporter)
        except TradeFileError as exc:
            progress.stop()
            console.print(f"[red]{exc.source}: {len(exc.errors)} error(s); nothing was booked[/red]")
            for err in exc.errors:
                console.print(f"  {err}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        except MarketError as exc:
            progress.stop()
            console.print("[red]error:[/red]", escape(str(exc)))
            raise typer.Exit(2) from None
        except (LedgerError, ValueError, OSError) as exc:
            progress.stop()
            console.print("[red]the day did not run:[/red]", escape(str(exc)))
            raise typer.Exit(1) from None
        reporter.close()
    _print_summary(console, result)
    if cfg.market_dir is not None:
        console.print(f"the market is in {cfg.market_dir} (summary.json, deployment.json, the day-end reports; "
                      f"days/{cfg.trade_date}/ keeps this day's): `ledgerclear serve --market {cfg.market_dir}`")
    if not result.summary["conservation_ok"]:
        raise typer.Exit(3)


_RPC = typer.Option(None, "--rpc", help="JSON-RPC URL of a node (a new market only); default: the embedded chain.")
_DB = typer.Option(None, "--db", help="Database URL of a new market's store (default: store.sqlite in the market).")
_OUT = typer.Option(None, "--out", help="Leave the market here: its chain, store, summary.json, deployment.json "
                                        "and the day-end reports.")


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        trades: int = typer.Option(20_000, min=1, help="Exchange trades to generate."),
        participants: int = typer.Option(40, min=3, help="Trading participants (brokers and custodians)."),
        securities: int = typer.Option(300, min=1, max=9000, help="Listed securities."),
        seed: int = typer.Option(7, help="Seed for the market, trades, SIs and shortfalls."),
        rpc: str | None = _RPC,
        db: str = _DB,
        out: Path | None = _OUT,
    ) -> None:
        """The main job: a generated settlement day — deploy, register, list, fund, trade, net, match,
        settle in runs, recycle, resolve gridlock, fail what is left, report. With --out the day leaves a
        market there (rerun after a crash: the day finishes where it stopped)."""
        _run(Console(), DayConfig(trades=trades, participants=participants, securities=securities, seed=seed,
                                  rpc_url=rpc, db_url=db, market_dir=out))

    @app.command()
    def day(
        trades_file: Path | None = typer.Option(None, "--trades", exists=True, dir_okay=False,
                                                help="Exchange trades CSV: trade_id,trade_date,settlement_date,"
                                                     "stock_code,buyer,seller,quantity,price,currency."),
        generate: int = typer.Option(0, "--generate", min=0, help="Generate this many trades instead."),
        sis: int = typer.Option(200, min=0, help="Settlement-instruction pairs to generate."),
        participants: int | None = typer.Option(None, min=3, help="Trading participants of a new seeded market "
                                                                  "(default 40; a market keeps its own)."),
        securities: int | None = typer.Option(None, min=1, max=9000, help="Securities of a new seeded market "
                                                                          "(default 300)."),
        seed: int | None = typer.Option(None, help="Seed of a new market (default 7; a trades file must use its "
                                                   "ids and codes)."),
        trade_date: str = typer.Option("2026-11-20", help="Business date (YYYY-MM-DD)."),
        batch_size: int = typer.Option(1000, min=1, help="Obligations per settlement transaction."),
        write_trades: Path | None = typer.Option(None, help="Also write the captured trades as CSV here."),
        rpc: str | None = _RPC,
        db: str | None = _DB,
        market: Path | None = typer.Option(None, "--market", help="The market the day runs on (made if new; "
                                                                  "default ./market)."),
        out: Path | None = _OUT,
    ) -> None:
        """Run a settlement day on a market from a trades file or generated trades, with reports. The same
        command rerun after a crash finishes the day; a later --trade-date is the market's next day (its
        fails carried forward, holdings and cash kept)."""
        console = Console(stderr=True)
        if (trades_file is None) == (generate == 0):
            console.print("[red]give exactly one of --trades FILE or --generate N[/red]")
            raise typer.Exit(2)
        if market is not None and out is not None and market.resolve() != out.resolve():
            console.print("[red]give --market DIR or --out DIR (both name the market the day runs on)[/red]")
            raise typer.Exit(2)
        where = market or out or DEFAULT_DIR
        try:
            made = read_refdata(where)
        except MarketError as exc:
            console.print("[red]error:[/red]", escape(str(exc)))
            raise typer.Exit(2) from None
        cfg = DayConfig(trades=generate or 1, trades_file=trades_file, sis=sis, trade_date=trade_date,
                        batch_size=batch_size, rpc_url=rpc, db_url=db, market_dir=where, write_trades=write_trades,
                        participants=participants or int(made.get("participants", 40)),
                        securities=securities or int(made.get("securities", 300)),
                        seed=int(made.get("seed", 7)) if seed is None else seed)
        _run(Console(), cfg)
