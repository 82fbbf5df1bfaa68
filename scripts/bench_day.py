"""A whole settlement day at scale: trades captured -> netted -> settled, against gross settlement.

Runs `ledger.day.run_day` (generated trades over a 600-participant, 2,600-security market by default)
on the embedded chain or on Anvil, and reports wall seconds per stage, peak memory of this process,
on-chain legs (2 per settled obligation: securities + cash) and legs/s. For comparison it measures
single-instruction DvP on a sample in the same run and extrapolates **gross settlement** (one DvP
transaction per novated trade = 2 per exchange trade): `gross_estimate_s` is that extrapolation, not a
measured full run, and `ratio_vs_gross` = gross_estimate_s / settlement_s.

Usage: python scripts/bench_day.py --trades N [--backend embedded|anvil] [--json]
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.anvil import anvil_node  # noqa: E402
from ledger.chain import Chain, ChainConfig  # noqa: E402
from ledger.day import DayConfig, run_day  # noqa: E402
from ledger.market_setup import participant_address  # noqa: E402
from ledger.deployment import deploy  # noqa: E402
from ledger.onchain import DvPInstruction, Kind, OnChainLedger  # noqa: E402


def single_dvp_rate(rpc_url: str | None, sample: int) -> float:
    """Single-instruction DvPs per second on a fresh deployment on the same backend."""
    onchain = OnChainLedger(deploy(Chain.connect(ChainConfig(rpc_url=rpc_url))))
    a, b = participant_address("bench", "B00001"), participant_address("bench", "B00002")
    onchain.register_participants([("B00001", a, Kind.BROKER), ("B00002", b, Kind.BROKER)])
    onchain.list_security(700, "HK0000069689")
    onchain.deposit(a, 700, 10**9)
    onchain.issue_cash(b, "HKD", 10**15)
    t0 = time.perf_counter()
    for i in range(sample):
        onchain.settle_dvp(DvPInstruction(i + 1, a, b, 700, 100, "HKD", 12_345))
    return sample / (time.perf_counter() - t0)


def bench(trades: int, backend: str, participants: int, securities: int, sample: int,
          sis: int = 0) -> dict[str, Any]:
    with ExitStack() as stack:
        url = stack.enter_context(anvil_node()) if backend == "anvil" else None
        t0 = time.perf_counter()
        result = run_day(DayConfig(trades=trades, participants=participants, securities=securities, sis=sis,
                                   realtime_sis=0, held_sis=min(3, sis), gridlock_rings=0, rpc_url=url,
                                   batch_size=1000))
        total_s = time.perf_counter() - t0
        rate = single_dvp_rate(url, sample)
    s = result.summary
    t = s["timings"]
    legs = int(s["legs"])
    gross_s = 2 * trades / rate
    return {
        "trades": trades,
        "backend": backend,
        "participants": participants,
        "securities": securities,
        "obligations": s["obligations"],
        "sis": sis,
        "capture_s": t["capture_s"],
        "netting_s": t["netting_s"],
        "matching_s": t.get("matching_s", 0.0),
        "settlement_s": t["settlement_s"],
        "total_s": round(total_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "legs": legs,
        "legs_per_s": round(legs / t["settlement_s"], 1),
        "settled": s["settled"],
        "failed": s["failed"],
        "conservation_ok": s["conservation_ok"],
        "single_dvp_per_s": round(rate, 2),
        "gross_estimate_s": round(gross_s, 1),
        "ratio_vs_gross": round(gross_s / t["settlement_s"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trades", type=int, default=100_000)
    ap.add_argument("--backend", choices=("embedded", "anvil"), default="embedded")
    ap.add_argument("--participants", type=int, default=600)
    ap.add_argument("--securities", type=int, default=2_600)
    ap.add_argument("--sample", type=int, default=40, help="single DvPs timed for the gross extrapolation")
    ap.add_argument("--sis", type=int, default=0,
                    help="settlement instructions between participants, matched and settled in the runs too")
    ap.add_argument("--json", action="store_true", help="print only the JSON result line")
    args = ap.parse_args(argv)
    r = bench(args.trades, args.backend, args.participants, args.securities, args.sample, args.sis)
    if not args.json:
        for k, v in r.items():
            print(f"{k:>18}: {v}")
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
