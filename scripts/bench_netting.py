"""Benchmark the clearing front end: generate -> CSV write -> CSV read (capture) -> CNS netting.

Usage: .venv/bin/python scripts/bench_netting.py [--trades N] [--participants P] [--securities S]
       [--seed K] [--json]

Wall-clock seconds per stage (the machine may be shared: CPU seconds are reported too). With
--json the last stdout line is one JSON object with at least: trades, generate_s, csv_read_s,
netting_s, positions, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ledger.netting import check_conservation, net_cns
from ledger.refdata import generate_market
from ledger.trade_capture import read_trades_csv, write_trades_csv
from ledger.trade_generator import generate_trades

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, CPU seconds of this process)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trades", type=int, default=2_400_000)
    ap.add_argument("--participants", type=int, default=600)
    ap.add_argument("--securities", type=int, default=2_600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = ap.parse_args(argv)

    market = generate_market(args.participants, args.securities, seed=args.seed)
    book, gen_s, gen_cpu = timed(lambda: generate_trades(market, args.trades, seed=args.seed))
    with tempfile.TemporaryDirectory(prefix="bench_netting_") as tmp:
        path = Path(tmp) / "trades.csv"
        _, write_s, write_cpu = timed(lambda: write_trades_csv(book, market, path))
        csv_mb = path.stat().st_size / 1e6
        back, read_s, read_cpu = timed(lambda: read_trades_csv(path, market))
    if len(back) != len(book):
        raise SystemExit("round trip lost trades")
    result, net_s, net_cpu = timed(lambda: net_cns(back))
    _, check_s, _ = timed(lambda: check_conservation(result))

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: kilobytes
    report = {
        "trades": len(book),
        "participants": args.participants,
        "securities": args.securities,
        "generate_s": round(gen_s, 3),
        "csv_write_s": round(write_s, 3),
        "csv_read_s": round(read_s, 3),
        "netting_s": round(net_s, 3),
        "conservation_check_s": round(check_s, 3),
        "cpu_s": {"generate": round(gen_cpu, 3), "csv_write": round(write_cpu, 3),
                  "csv_read": round(read_cpu, 3), "netting": round(net_cpu, 3)},
        "csv_mb": round(csv_mb, 1),
        "positions": len(result.obligations),
        "money_positions": len(result.money),
        "money_only_positions": int(result.obligations.money_only.sum()),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:>22}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
