"""`ledgerclear margin`: margin of one participant from an RPF01 file, positions and CP parameters."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from risk.cp_params import load_cp_params
from risk.errors import PositionError, RiskInputError
from risk.margin import COMPONENT_KEYS, compute_margin
from risk.positions import Portfolio, read_positions
from risk.rpf import read_rpf


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _locate(path: Path, err: PositionError) -> str:
    """Prefix a position error with the file, row and column of its instrument."""
    if err.instrument is None:
        return f"{path}: {err}"
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        col = header.index("InstrumentID") if "InstrumentID" in header else 0
        for cells in reader:
            if len(cells) > col and cells[col].strip() == err.instrument:
                return f"{path}, row {reader.line_num}, column {col + 1}: {err}"
    return f"{path}: {err}"


def _read_positions_dir(path: Path) -> dict[str, Portfolio]:
    files = sorted(path.glob("*.csv"))
    if not files:
        raise OSError(f"{path}: no <CP>.csv position files")
    return {f.stem: read_positions(f) for f in files}


app = typer.Typer(
    help="Margin requirement (HKSCC VaR Platform method) and parameter-file tools.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def margin(
    ctx: typer.Context,
    rpf: Annotated[Optional[Path], typer.Option("--rpf", help="Risk parameter file (RPF01 CSV).")] = None,
    positions: Annotated[
        Optional[Path],
        typer.Option("--positions", help="CSV: InstrumentID,Quantity,ContractValue,MarketValue."),
    ] = None,
    cp_params: Annotated[Optional[Path], typer.Option("--cp-params", help="CP parameters (JSON).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    mode: Annotated[str, typer.Option("--mode", help="exact (per-term rounding) or fast (BLAS).")] = "exact",
) -> None:
    """Compute total MTM and margin requirement of one clearing participant."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [n for n, v in (("--rpf", rpf), ("--positions", positions), ("--cp-params", cp_params)) if v is None]
    if missing:
        raise _fail(f"missing option {missing[0]} (see --help)")
    if mode not in ("exact", "fast"):
        raise _fail(f"--mode must be exact or fast, got {mode!r}")
    assert rpf is not None and positions is not None and cp_params is not None
    try:
        params = load_cp_params(cp_params)
        file = read_rpf(rpf)
        pf = read_positions(positions)
        result = compute_margin(file, pf, params, mode="fast" if mode == "fast" else "exact")
    except PositionError as e:
        raise _fail(_locate(positions, e)) from None
    except (RiskInputError, OSError, UnicodeDecodeError) as e:
        raise _fail(str(e)) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Margin ({mode}) — {positions.name} on {file.header.valuation_date:%d/%m/%Y}")
    table.add_column("Component")
    table.add_column("HKD", justify="right")
    for k in COMPONENT_KEYS:
        table.add_row(k.replace("_", " "), f"{getattr(result, k):,}")
    Console().print(table)


@app.command("generate-market")
def generate_market_cmd(
    out: Annotated[Path, typer.Option("--out", help="Destination CSV of daily closes.")],
    instruments: Annotated[int, typer.Option("--instruments", min=2)] = 50,
    days: Annotated[int, typer.Option("--days", min=50)] = 2300,
    seed: Annotated[int, typer.Option("--seed")] = 20261121,
) -> None:
    """Write a seeded synthetic price history (factor model, Student-t shocks, GARCH, a crash)."""
    from risk.synthetic_market import MarketConfig, generate_market, write_prices

    crash = min(600, days // 2)
    hist = generate_market(MarketConfig(n_instruments=instruments, n_days=days, seed=seed, crash_start=crash))
    try:
        write_prices(hist, out)
    except OSError as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {out}: {instruments} instruments, {days + 1} closes to {hist.dates[-1]:%d/%m/%Y}")


@app.command("generate-rpf")
def generate_rpf_cmd(
    prices: Annotated[Path, typer.Option("--prices", help="CSV of closes (Date,<id>,...; optional ADV row).")],
    out: Annotated[Path, typer.Option("--out", help="Destination RPF01 CSV.")],
    decay: Annotated[float, typer.Option("--decay", help="EWMA decay lambda.")] = 0.94,
    holding_period: Annotated[int, typer.Option("--holding-period", min=1, help="Days per scenario.")] = 2,
    hvar_count: Annotated[int, typer.Option("--hvar-count", min=1)] = 1000,
    svar_count: Annotated[int, typer.Option("--svar-count", min=1)] = 1018,
    stressed_start: Annotated[
        Optional[int], typer.Option("--stressed-start", help="First day of the stressed window (index).")
    ] = None,
    flat: Annotated[
        Optional[list[str]], typer.Option("--flat", help="Instrument margined at a flat rate (repeatable).")
    ] = None,
    holiday_factor: Annotated[float, typer.Option("--holiday-factor", min=0.0)] = 0.0,
    holidays: Annotated[
        Optional[Path],
        typer.Option("--holidays", help="HK holiday calendar (DD/MM/YYYY per line): factor sqrt(H) - 1."),
    ] = None,
    holiday_schedule: Annotated[
        Optional[Path],
        typer.Option("--holiday-schedule", help="Stepped add-on (DD/MM/YYYY,rate per line), e.g. 0.19 then 0.10."),
    ] = None,
    hedge: Annotated[str, typer.Option("--hedge", help="Hedging instrument for betas.")] = "2800",
) -> None:
    """Generate an RPF01 parameter file from price history (filtered historical simulation)."""
    from risk.rpf import write_rpf
    from risk.rpf_generation import GenerationConfig, generate_rpf
    from risk.synthetic_market import read_prices

    from risk.holiday import holiday_factor as calendar_factor
    from risk.holiday import read_holidays, read_step_schedule

    if sum(x is not None for x in (holidays, holiday_schedule)) + (holiday_factor != 0.0) > 1:
        raise _fail("give at most one of --holiday-factor, --holidays, --holiday-schedule")
    try:
        hist = read_prices(prices)
        if holidays is not None:
            holiday_factor = calendar_factor(hist.dates[-1], read_holidays(holidays))
        elif holiday_schedule is not None:
            holiday_factor = read_step_schedule(holiday_schedule).rate_on(hist.dates[-1])
        cfg = GenerationConfig(decay=decay, holding_period=holding_period, hvar_count=hvar_count,
                               svar_count=svar_count, stressed_start=stressed_start,
                               holiday_factor=holiday_factor)
        rpf = generate_rpf(hist, cfg, flat_rate_instruments=flat or (), hedge_instrument=hedge)
        write_rpf(rpf, out)
    except (RiskInputError, OSError, ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {out}: {len(rpf.var_instruments)} VaR instruments, {len(rpf.flat_rates)} flat-rate")


@app.command("batch")
def batch_cmd(
    rpf: Annotated[Path, typer.Option("--rpf", help="Risk parameter file (RPF01 CSV).")],
    positions_dir: Annotated[Path, typer.Option("--positions-dir", help="One <CP>.csv per participant.")],
    cp_params: Annotated[
        Path, typer.Option("--cp-params", help="CP parameters: one JSON for all, or a directory of <CP>.json.")
    ],
    mode: Annotated[str, typer.Option("--mode", help="exact or fast.")] = "exact",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the CSV report here (default stdout).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object keyed by CP instead.")] = False,
) -> None:
    """Margin of every participant in one batched run; CSV report (one row per CP)."""
    from risk.cp_params import CPParams
    from risk.margin import compute_margins

    if mode not in ("exact", "fast"):
        raise _fail(f"--mode must be exact or fast, got {mode!r}")
    try:
        ports = _read_positions_dir(positions_dir)
        params: CPParams | dict[str, CPParams]
        if cp_params.is_dir():
            params = {}
            for cp in ports:
                f = cp_params / f"{cp}.json"
                if not f.exists():
                    raise OSError(f"{f}: no CP parameters for CP {cp}")
                params[cp] = load_cp_params(f)
        else:
            params = load_cp_params(cp_params)
        res = compute_margins(read_rpf(rpf), ports, params, mode="fast" if mode == "fast" else "exact")
    except (RiskInputError, OSError) as e:
        raise _fail(str(e)) from None
    if as_json:
        sys.stdout.write(json.dumps({cp: r.components() for cp, r in res.items()}) + "\n")
        return
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["CP", *COMPONENT_KEYS])
    for cp, r in res.items():
        w.writerow([cp, *(getattr(r, k) for k in COMPONENT_KEYS)])
    if out is None:
        sys.stdout.write(buf.getvalue())
    else:
        out.write_text(buf.getvalue(), encoding="utf-8")


@app.command("cycle")
def cycle_cmd(
    rpf: Annotated[Path, typer.Option("--rpf", help="Risk parameter file (RPF01 CSV) of the valuation date.")],
    instructions: Annotated[
        Path,
        typer.Option("--instructions", help="Open instructions CSV: deliverer,receiver,security_code,quantity,"
                                            "amount_cents,currency[,state]."),
    ],
    cp_params: Annotated[
        Path, typer.Option("--cp-params", help="CP parameters: one JSON for all, or a directory of <CP>.json.")
    ],
    collateral: Annotated[Path, typer.Option("--collateral", help="Collateral CSV: CP,Collateral (HKD).")],
    marks: Annotated[
        Optional[Path],
        typer.Option("--marks", help="Marks CSV: InstrumentID,Price (HKD). Default: FieldType 4/5 prices of the RPF."),
    ] = None,
    exclude: Annotated[list[str], typer.Option("--exclude", help="Participant not margined (the CCP); repeatable.")] = [],  # noqa: B006
    fx: Annotated[list[str], typer.Option("--fx", help="FX rate CUR=HKD per unit, e.g. USD=7.8; repeatable.")] = [],  # noqa: B006
    defaulted: Annotated[list[str], typer.Option("--defaulted", help="Participant in default; repeatable.")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Daily cycle: margin per participant from open instructions, calls, coverage and eligibility."""
    from risk.cp_params import CPParams
    from risk.cycle_files import read_collateral, read_instructions
    from risk.daily_cycle import run_daily_cycle
    from risk.marks import marks_from_rpf, read_marks

    rates: dict[str, float] = {"HKD": 1.0}
    for item in fx:
        cur, _, val = item.partition("=")
        try:
            rates[cur.strip().upper()] = float(val)
        except ValueError:
            raise _fail(f"--fx {item!r}: expected CUR=RATE, e.g. USD=7.8") from None
    try:
        file = read_rpf(rpf)
        mk = read_marks(marks, file.header.valuation_date, rates) if marks else marks_from_rpf(file, rates)
        rows = read_instructions(instructions)
        coll = read_collateral(collateral)
        params: CPParams | dict[str, CPParams]
        if cp_params.is_dir():
            params = {}
            skip = set(exclude)
            for cp in sorted({*coll, *(r.deliverer for r in rows), *(r.receiver for r in rows)} - skip):
                f = cp_params / f"{cp}.json"
                if not f.exists():
                    raise OSError(f"{f}: no CP parameters for CP {cp}")
                params[cp] = load_cp_params(f)
        else:
            params = load_cp_params(cp_params)
        result = run_daily_cycle(file, rows, mk, params, coll, exclude=set(exclude),
                                 status={cp: "defaulted" for cp in defaulted})
    except (RiskInputError, OSError) as e:
        raise _fail(str(e)) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Daily cycle {result.valuation_date:%d/%m/%Y} — {len(result.records)} participants")
    for c in ("CP", "Requirement", "Collateral", "Call", "Coverage", "Eligible"):
        table.add_column(c, justify="left" if c in ("CP", "Eligible") else "right")
    for r in result.records.values():
        cov = "—" if r.coverage_ratio is None else f"{r.coverage_ratio:.1%}"
        table.add_row(r.cp, f"{r.requirement:,}", f"{r.collateral:,.2f}", f"{r.margin_call:,}", cov,
                      "yes" if r.eligible else f"no: {r.reason}")
    Console().print(table)


@app.command("whatif")
def whatif_cmd(
    rpf: Annotated[Path, typer.Option("--rpf", help="Risk parameter file (RPF01 CSV).")],
    positions: Annotated[Path, typer.Option("--positions", help="Current positions CSV.")],
    cp_params: Annotated[Path, typer.Option("--cp-params", help="CP parameters (JSON).")],
    trade: Annotated[
        list[str], typer.Option("--trade", help="Hypothetical trade ID,QTY,CONTRACT_VALUE,MARKET_VALUE (repeatable).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Requirement after hypothetical trades, and the change of every component."""
    from risk.positions import Position
    from risk.whatif import WhatIfSimulator

    trades: list[Position] = []
    for n, t in enumerate(trade, start=1):
        parts = [x.strip() for x in t.split(",")]
        try:
            if len(parts) != 4:
                raise ValueError
            trades.append(Position(parts[0], float(parts[1]), float(parts[2]), float(parts[3])))
        except ValueError:
            raise _fail(f"--trade #{n} {t!r}: expected ID,QTY,CONTRACT_VALUE,MARKET_VALUE") from None
    try:
        sim = WhatIfSimulator(read_rpf(rpf), read_positions(positions), load_cp_params(cp_params))
        res = sim.evaluate(trades)
    except (RiskInputError, OSError) as e:
        raise _fail(str(e)) from None
    if as_json:
        sys.stdout.write(json.dumps({"base": res.base.components(), "new": res.new.components(),
                                     "change": res.change}) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"What-if: {len(trades)} trade(s) on {positions.name}")
    for col in ("Component", "Current", "With trades", "Change"):
        table.add_column(col, justify="left" if col == "Component" else "right")
    for k in COMPONENT_KEYS:
        table.add_row(k.replace("_", " "), f"{getattr(res.base, k):,}", f"{getattr(res.new, k):,}",
                      f"{res.change[k]:+,}")
    Console().print(table)


@app.command("stress")
def stress_cmd(
    prices: Annotated[Path, typer.Option("--prices", help="CSV of closes for the stress scenarios.")],
    rpf: Annotated[Path, typer.Option("--rpf", help="Risk parameter file (margin = collateral).")],
    positions_dir: Annotated[Path, typer.Option("--positions-dir", help="One <CP>.csv per participant.")],
    cp_params: Annotated[Path, typer.Option("--cp-params", help="CP parameters (JSON) for all CPs.")],
    count: Annotated[int, typer.Option("--count", min=1, help="Number of stress scenarios.")] = 200,
) -> None:
    """Stress losses and the cover-2 default fund (prints one JSON object)."""
    from risk.margin import compute_margins
    from risk.stress import build_stress_scenarios, stress_test
    from risk.synthetic_market import read_prices

    try:
        ports = _read_positions_dir(positions_dir)
        params = load_cp_params(cp_params)
        margins = compute_margins(read_rpf(rpf), ports, params)
        scen = build_stress_scenarios(read_prices(prices), count=count)
        res = stress_test(scen, ports, {cp: float(m.total_requirement) for cp, m in margins.items()})
    except (RiskInputError, OSError, ValueError) as e:
        raise _fail(str(e)) from None
    sys.stdout.write(res.to_json() + "\n")


@app.command("backtest")
def backtest_cmd(
    prices: Annotated[Path, typer.Option("--prices", help="CSV of closes.")],
    positions_dir: Annotated[Path, typer.Option("--positions-dir", help="One <CP>.csv per participant.")],
    cp_params: Annotated[Path, typer.Option("--cp-params", help="CP parameters (JSON) for all CPs.")],
    days: Annotated[int, typer.Option("--days", min=2)] = 250,
    hvar_count: Annotated[int, typer.Option("--hvar-count", min=1)] = 1000,
    svar_count: Annotated[int, typer.Option("--svar-count", min=1)] = 1018,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Also write the report as CSV.")] = None,
) -> None:
    """Rolling backtest of fixed holdings: Kupiec, Christoffersen, traffic light (prints JSON)."""
    from risk.margin_backtest import run_margin_backtest
    from risk.rpf_generation import GenerationConfig
    from risk.synthetic_market import read_prices

    try:
        ports = _read_positions_dir(positions_dir)
        holdings = {cp: dict(zip(p.instruments, p.quantity.tolist())) for cp, p in ports.items()}
        rep = run_margin_backtest(read_prices(prices), holdings, load_cp_params(cp_params), days=days,
                                  config=GenerationConfig(hvar_count=hvar_count, svar_count=svar_count))
        if csv_out is not None:
            csv_out.write_text(rep.to_csv(), encoding="utf-8")
    except (RiskInputError, OSError, ValueError) as e:
        raise _fail(str(e)) from None
    sys.stdout.write(rep.to_json() + "\n")


def register(root: typer.Typer) -> None:
    """Add the ``margin`` command group to ``root``."""
    root.add_typer(app, name="margin")
