"""What durability costs: the same day in memory and on a market directory, and the time to open it.

    python scripts/bench_market.py --trades 20000 [--json]

Runs one generated day twice with the same inputs in this process — on an in-memory chain and store (the
baseline), then on a new market directory (the durable embedded chain in chain.sqlite, the store in
store.sqlite) — and reports each settlement run's seconds and their ratio. Then opens the market afresh in a
new process, as `serve` or a later day does, and times it (and a first balance read).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.day import DayConfig, run_day  # noqa: E402

_OPEN = """
import sys, time
t0 = time.perf_counter()
from ledger.market import open_market
m = open_market(__import__("pathlib").Path(sys.argv[1]))
t1 = time.perf_counter()
pid = sorted(m.addresses)[-1]
m.onchain.security_balances([(m.addresses[pid], t) for t in list(m.token_ids.values())[:50]])
print(t1 - t0, time.perf_counter() - t1)
"""


def bench(trades: int, participants: int, securities: int, keep: Path | None) -> dict[str, Any]:
    cfg = DayConfig(trades=trades, participants=participants, securities=securities)
    memory = run_day(cfg).summary
    with tempfile.TemporaryDirectory() as tmp:
        where = keep or Path(tmp) / "market"
        durable = run_day(DayConfig(trades=trades, participants=participants, securities=securities,
                                    market_dir=where)).summary
        opened = subprocess.run([sys.executable, "-c", _OPEN, str(where)], capture_output=True, text=True, check=True,
                                cwd=Path(__file__).resolve().parent.parent)
        open_s, read_s = (float(x) for x in opened.stdout.split())
        size_mb = sum(p.stat().st_size for p in where.iterdir() if p.is_file()) / 1e6
    runs = {r["name"]: {"memory_s": r["seconds"], "durable_s": d["seconds"],
                        "ratio": round(d["seconds"] / r["seconds"], 3) if r["seconds"] else None}
            for r, d in zip(memory["runs"], durable["runs"], strict=True)}
    same = all(memory[k] == durable[k] for k in ("settled", "partial", "failed", "fails_by_reason", "legs"))
    mem_settle, dur_settle = memory["timings"]["settlement_s"], durable["timings"]["settlement_s"]
    return {"trades": trades, "obligations": durable["obligations"], "same_outcome": same,
            "runs": runs, "settlement_memory_s": mem_settle, "settlement_durable_s": dur_settle,
            "settlement_ratio": round(dur_settle / mem_settle, 3),
            "total_memory_s": memory["timings"]["total_s"], "total_durable_s": durable["timings"]["total_s"],
            "open_market_s": round(open_s, 3), "first_read_s": round(read_s, 4), "market_mb": round(size_mb, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trades", type=int, default=20_000)
    ap.add_argument("--participants", type=int, default=40)
    ap.add_argument("--securities", type=int, default=300)
    ap.add_argument("--keep", type=Path, help="leave the durable market here")
    ap.add_argument("--json", action="store_true", help="print only the JSON result line")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    r = bench(args.trades, args.participants, args.securities, args.keep)
    r["bench_s"] = round(time.perf_counter() - t0, 1)
    if not args.json:
        for k, v in r.items():
            print(f"{k:>22}: {v}")
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
