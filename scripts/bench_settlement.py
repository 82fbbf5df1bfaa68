"""Settlement throughput: batch DvP versus single-instruction DvP, embedded chain and Anvil, same run.

A *leg* is one side of a DvP: each settled obligation moves a securities leg and a cash leg, so
legs = 2 x obligations settled. Batches are CNS-shaped (participants against the CCP: deliveries in
first, then deliveries out, as a settlement run sends them). Single DvPs are real-time instructions
between two participants, one transaction each. `ratio` = batch legs/s over single legs/s.

Usage: python scripts/bench_settlement.py [--json] [--backends embedded,anvil] [--batch-size N]
       [--batches K] [--singles M]
The last line of output is one JSON object: {"results": [{...per backend...}]}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_utils import keccak  # noqa: E402

from ledger.anvil import anvil_node  # noqa: E402
from ledger.batch import Obligation  # noqa: E402
from ledger.chain import Chain, ChainConfig  # noqa: E402
from ledger.deployment import deploy  # noqa: E402
from ledger.onchain import DvPInstruction, Kind, OnChainLedger  # noqa: E402


def _addr(i: int) -> str:
    return str(Account.from_key(keccak(f"bench/{i}".encode())).address)


def bench_backend(backend: str, rpc_url: str | None, batch_size: int, batches: int, singles: int,
                  participants: int = 200, securities: int = 300, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    chain = Chain.connect(ChainConfig(rpc_url=rpc_url))
    onchain = OnChainLedger(deploy(chain))
    ccp = _addr(0)
    people = [_addr(i) for i in range(1, participants + 1)]
    onchain.register_participants([("H00001", ccp, Kind.CCP)] +
                                  [(f"B{i:05d}", a, Kind.BROKER) for i, a in enumerate(people, 1)])
    sec_ids = list(range(1, securities + 1))
    onchain.list_securities([(s, f"HK{s:09d}0") for s in sec_ids])
    big = 10**15
    onchain.deposit_many([(a, s, 10**9) for a in people[:20] for s in sec_ids[:50]])  # for single DvPs
    onchain.issue_cash_many("HKD", [(a, big) for a in people] + [(ccp, big)])

    # Obligations: distinct (participant, security) positions, half delivering into the CCP.
    n = batch_size * batches
    pairs = rng.choice(participants * securities, size=n, replace=False)
    part, sec = pairs // securities, pairs % securities
    deliver = rng.random(n) < 0.5
    qty = (rng.integers(1, 20, n) * 100).astype(int)
    price = rng.integers(1_000, 50_000, n)
    sellers = [(people[p], sec_ids[s], int(q)) for p, s, q, d in zip(part, sec, qty, deliver) if d]
    onchain.deposit_many(sellers + [(ccp, s, 10**9) for s in sec_ids])  # the CCP holds stock to deliver
    obligations: list[Obligation] = []
    next_id = 1
    for p, s, q, d, px in zip(part, sec, qty, deliver, price):
        who = people[int(p)]
        deliverer, receiver = (who, ccp) if d else (ccp, who)
        obligations.append(Obligation(next_id, deliverer, receiver, sec_ids[int(s)], int(q), 0, int(q * px)))
        next_id += 1
    obligations.sort(key=lambda o: o.deliverer == ccp)  # into the CCP first, as a run orders them

    settled = 0
    gas = 0
    t0 = time.perf_counter()
    for k in range(batches):
        out = onchain.settle_batch(obligations[k * batch_size:(k + 1) * batch_size])
        settled += len(out.settled) + len(out.partial)
        gas += out.gas_used
    batch_s = time.perf_counter() - t0
    if settled != n:
        raise RuntimeError(f"{backend}: only {settled} of {n} benchmark obligations settled")

    t0 = time.perf_counter()
    for i in range(singles):
        onchain.settle_dvp(DvPInstruction(10**9 + i, people[i % 20], people[20 + i % (participants - 20)],
                                          sec_ids[i % 50], 100, "HKD", 123_400))
    single_s = time.perf_counter() - t0

    batch_legs = 2 * settled / batch_s
    single_per_s = singles / single_s
    return {
        "backend": backend,
        "batch_size": batch_size,
        "batches": batches,
        "obligations_settled": settled,
        "batch_legs_per_s": round(batch_legs, 1),
        "batch_obligations_per_s": round(settled / batch_s, 1),
        "single_dvp_per_s": round(single_per_s, 2),
        "single_legs_per_s": round(2 * single_per_s, 2),
        "ratio": round(batch_legs / (2 * single_per_s), 2),
        "gas_per_leg": round(gas / (2 * settled)),
        "gas_per_obligation": round(gas / settled),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print only the JSON result line")
    ap.add_argument("--backends", default="embedded,anvil")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--singles", type=int, default=60)
    args = ap.parse_args(argv)
    results = []
    for backend in args.backends.split(","):
        with ExitStack() as stack:
            url = stack.enter_context(anvil_node()) if backend == "anvil" else None
            r = bench_backend(backend, url, args.batch_size, args.batches, args.singles)
        results.append(r)
        if not args.json:
            print(f"{backend}: {r}", flush=True)
    print(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
