"""Benchmark: the ISO 15022 gateway.

1. parse + validate messages/s on one core (the codec benchmark's mix and loop, CPU time).
2. Round-trip latency inbound MT541 -> MT548 acknowledgement (IPRC//PACK) with N concurrent
   participant sessions (mutual TLS, loopback) at a fixed aggregate rate for a bounded time.

The gateway runs as its own process (`ledgerclear gateway --setup-demo-market`, embedded chain), as
in production; this process is the 50 participants.  Each session sends at rate/N msgs/s on a
fixed schedule (open loop: a late ack does not delay the next send); latency is measured from
just before the frame is written to the arrival of the 548 PACK that links to its reference.
By default the instructions do not match (every one gets PACK then MTCH//NMAT CMIS), so the chain
is idle; `--match-share 0.5` makes that share of them come in matching 541/543 pairs that settle by
real-time DvP during the run (the ack path then competes with the chain for the gateway's CPU).

The last stdout line is one JSON object with parse_validate_msgs_per_s, sessions, rate_msgs_per_s,
ack_p50_ms, ack_p99_ms (and more).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import importlib.util
import json
import os
import pathlib
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.gateway.certs import make_certs  # noqa: E402
from api.gateway.framing import HEADER, encode  # noqa: E402
from api.gateway.server import client_context  # noqa: E402
from api.iso15022 import build_model  # noqa: E402
from api.iso15022.models import Envelope, Party, SecurityId, SettlementInstruction  # noqa: E402

_RELA = re.compile(r":20C::RELA//([^\r\n]+)")


def parse_validate_rate(seconds: float) -> int:
    """The codec benchmark's measurement (scripts/bench_iso15022.py), best of three rounds."""
    spec = importlib.util.spec_from_file_location("bench_iso15022", ROOT / "scripts" / "bench_iso15022.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    messages = mod._load(1500)
    mod._run(messages, 0.2, "validate")
    rates = []
    for _ in range(3):
        n, elapsed = mod._run(messages, seconds / 3, "validate")
        rates.append(n / elapsed)
    return int(round(max(rates)))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message(mt: int, sender: str, counterparty: str, ref: str, quantity: int, amount: int, day: dt.date,
            stock_code: str = "700") -> str:
    role = "DEAG" if mt == 541 else "REAG"
    return build_model(SettlementInstruction(
        mt=mt, sender_reference=ref, function="NEWM", settlement_date=day, trade_date=day,
        security=SecurityId(stock_code=stock_code),
        quantity=Decimal(quantity), safekeeping_account=sender,
        counterparty=Party(role, participant_id=counterparty, scheme="HKEX"),
        place_of_settlement=Party("PSET", bic="XHKCHKH1"), settlement_amount=Decimal(amount), currency="HKD",
        envelope=Envelope(sender="BROKHKHHAXXX", receiver="XHKCHKH1XXXX", session="0001", sequence="000001"),
    ))


class Participant:
    def __init__(self, pid: str) -> None:
        self.pid = pid
        self.sent: dict[str, float] = {}
        self.latencies: list[tuple[float, float]] = []  # (sent at, seconds to the ack)
        self.replies = 0
        self.rejected = 0

    async def connect(self, host: str, port: int, certs: pathlib.Path) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            host, port, ssl=client_context(certs, self.pid), server_hostname=host)
        self.task = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> None:
        try:
            while True:
                head = await self.reader.readexactly(HEADER.size)
                body = await self.reader.readexactly(HEADER.unpack(head)[0])
                now = time.perf_counter()
                self.replies += 1
                text = body.decode("ascii")
                if "IPRC//PACK" in text or "IPRC//REJT" in text:
                    m = _RELA.search(text)
                    t0 = self.sent.pop(m.group(1), None) if m else None
                    if t0 is not None:
                        self.latencies.append((t0, now - t0))
                    if "IPRC//REJT" in text:
                        self.rejected += 1
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass

    def send(self, ref: str, text: str) -> None:
        frame = encode(text)
        self.sent[ref] = time.perf_counter()
        self.writer.write(frame)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0.0 where unavailable."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


async def load(host: str, port: int, certs: pathlib.Path, pids: list[str], rate: float, seconds: float,
               warmup: float, match_share: float, seed: int, gateway_pid: int = 0) -> dict[str, object]:
    rng = random.Random(seed)
    parts = [Participant(p) for p in pids]
    await asyncio.gather(*(p.connect(host, port, certs) for p in parts))
    day = dt.datetime.now(dt.UTC).date()
    n = len(parts)
    interval = n / rate  # each session's gap between sends
    loop = asyncio.get_running_loop()
    counter = [0]

    # Every message is built before the clock starts, so the load generator only writes frames.
    sends_per_session = int((warmup + seconds) / interval) + 1
    plan: list[list[list[tuple[Participant, str, str]]]] = []
    for i, p in enumerate(parts):
        mine: list[list[tuple[Participant, str, str]]] = []
        for k in range(sends_per_session):
            counter[0] += 1
            ref = f"{p.pid}{counter[0]:09d}"[-16:]
            qty = 100 * (1 + rng.randrange(50))
            other = parts[(i + 1 + rng.randrange(n - 1)) % n]
            code = rng.choice(("5", "388", "700", "1299", "9988"))
            step = [(p, ref, message(541, p.pid, other.pid, ref, qty, qty * 10, day, code))]
            if rng.random() < match_share:  # the counterparty's matching delivery, sent with it
                ref2 = f"D{counter[0]:09d}{other.pid[-3:]}"[-16:]
                step.append((other, ref2, message(543, other.pid, p.pid, ref2, qty, qty * 10, day, code)))
            mine.append(step)
        plan.append(mine)
    gc.collect()
    gc.freeze()  # the plan and the sessions live for the run: keep the collector's pauses short here too
    start = loop.time() + 0.2
    stop_at = start + warmup + seconds

    async def session(i: int) -> None:
        for k, step in enumerate(plan[i]):
            at = start + i * interval / n + k * interval
            if at >= stop_at:
                return
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for who, ref, text in step:
                who.send(ref, text)

    measured_from = time.perf_counter() + (start - loop.time()) + warmup
    cpu0 = cpu_seconds(gateway_pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(session(i) for i in range(n)))
    measured_to = time.perf_counter()
    cpu1 = cpu_seconds(gateway_pid), time.process_time(), time.perf_counter()
    span = cpu1[2] - cpu0[2]
    await asyncio.sleep(2.0)  # let the last acks arrive
    lat_all = [lat for p in parts for t0, lat in p.latencies if t0 >= measured_from]
    missing = sum(len(p.sent) for p in parts)
    sent_total = len(lat_all) + sum(1 for p in parts for t0 in p.sent.values() if t0 >= measured_from)
    wall = measured_to - measured_from
    for p in parts:
        p.writer.close()
    lat_ms = sorted(x * 1000 for x in lat_all)

    def pct(q: float) -> float:
        if not lat_ms:
            return float("nan")
        return round(lat_ms[min(len(lat_ms) - 1, int(q * len(lat_ms)))], 2)

    return {
        "sessions": n,
        "rate_msgs_per_s": round(sent_total / wall, 1),
        "target_rate_msgs_per_s": rate,
        "seconds": round(wall, 2),
        "messages": sent_total,
        "acks": len(lat_ms),
        "acks_missing": missing,
        "rejected": sum(p.rejected for p in parts),
        "replies": sum(p.replies for p in parts),
        "ack_p50_ms": pct(0.50),
        "ack_p90_ms": pct(0.90),
        "ack_p99_ms": pct(0.99),
        "ack_max_ms": round(lat_ms[-1], 2) if lat_ms else None,
        "ack_mean_ms": round(statistics.fmean(lat_ms), 2) if lat_ms else None,
        "match_share": match_share,
        "gateway_cpu_share": round((cpu1[0] - cpu0[0]) / span, 3),  # of one core, during the run
        "loadgen_cpu_share": round((cpu1[1] - cpu0[1]) / span, 3),
    }


def start_gateway(certs: pathlib.Path, port: int, log: pathlib.Path) -> subprocess.Popen[bytes]:
    runner = os.environ.get("BENCH_GATEWAY_RUNNER")  # e.g. a profiling wrapper of `ledgerclear`
    cmd = [sys.executable, *([runner] if runner else ["-c", "from api.cli import main; main()"]), "gateway", "--host", "127.0.0.1", "--port",
           str(port), "--certs", str(certs), "--setup-demo-market", "--batch-interval", "0", "--queue-size", "5000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gateway exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if b"gateway on " in log.read_bytes():
            return proc
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("gateway did not start within 120 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="end with one JSON line only (no table)")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--rate", type=float, default=500.0, help="aggregate msgs/s")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds sent before the measured run")
    ap.add_argument("--match-share", type=float, default=0.0, help="share of sends that are matching pairs")
    ap.add_argument("--parse-seconds", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    pv = parse_validate_rate(args.parse_seconds)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        certs = pathlib.Path(tmp) / "certs"
        pids = [f"B{10000 + i:05d}" for i in range(args.sessions)]
        make_certs(certs, pids)
        port = free_port()
        log = pathlib.Path(tmp) / "gateway.log"
        proc = start_gateway(certs, port, log)
        try:
            result = asyncio.run(load("127.0.0.1", port, certs, pids, args.rate, args.seconds, args.warmup,
                                      args.match_share, args.seed, proc.pid))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    out = {"parse_validate_msgs_per_s": pv, **result, "cpus": os.cpu_count(),
           "loadavg_1m": round(os.getloadavg()[0], 2)}
    if not args.json:
        for k, v in out.items():
            print(f"{k}: {v}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
