"""`ledgerclear demo`: an end-to-end settlement day on the embedded chain (or a node given by --rpc)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich import box
from rich.table import Table

from ledger.demo import DemoConfig, DemoResult, run_demo
from ledger.errors import LedgerError


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


def _print_summary(console: Console, result: DemoResult) -> None:
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
    day.add_row("CNS obligations", f"{s['obligations']:,}")
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


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        trades: int = typer.Option(20_000, min=1, help="Exchange trades to generate."),
        participants: int = typer.Option(40, min=2, help="Trading participants (brokers and custodians)."),
        securities: int = typer.Option(300, min=1, max=9000, help="Listed securities."),
        seed: int = typer.Option(7, help="Seed for the market, trades and shortfalls."),
        batch_size: int = typer.Option(1000, min=1, help="Obligations per settlement transaction."),
        rpc: str | None = typer.Option(None, "--rpc", help="JSON-RPC URL of a node; default: embedded chain."),
        db: str = typer.Option("sqlite://", help="Database URL for the store (default: in memory)."),
        out: Path | None = typer.Option(None, "--out", help="Write summary.json and deployment.json here."),
    ) -> None:
        """Run an end-to-end settlement day: deploy, register, list, fund, trade, net, settle, recycle, report."""
        console = Console(stderr=False)
        cfg = DemoConfig(trades=trades, participants=participants, securities=securities, seed=seed,
                         batch_size=batch_size, rpc_url=rpc, db_url=db)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            reporter = _RichReporter(progress)
            try:
                result = run_demo(cfg, reporter)
            except (LedgerError, ValueError) as exc:
                progress.stop()
                console.print(f"[red]demo failed:[/red] {exc}")
                raise typer.Exit(1) from None
            reporter.close()
        _print_summary(console, result)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
            (out / "deployment.json").write_text(json.dumps(result.deployment, indent=2) + "\n")
            console.print(f"wrote {out / 'summary.json'} and {out / 'deployment.json'}")
        if not result.summary["conservation_ok"]:
            raise typer.Exit(3)
