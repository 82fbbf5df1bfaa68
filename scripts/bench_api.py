"""Benchmark: the participant service (`ledgerclear serve`) under concurrent clients on loopback.

The service runs as its own process, exactly as deployed: `ledgerclear serve` (uvicorn, embedded chain,
a fresh SQLite file in a temporary directory). One security is listed in that database before the start
(the API has no endpoint for listing securities); everything else goes through the API: the operator
administrator signs in (password + TOTP), registers one participant per client (its own secp256k1 key;
clients 2k and 2k+1 are counterparties) and gives each an API key with `inputter` + `authoriser`
(straight-through, so an accepted submission is also matched against its counterparty's side).

Phases (each bounded by --seconds; every client stops by itself at the deadline):
1. reads, 1 client then N clients: alternately GET /v1/instructions?limit=20 (own list) and
   GET /v1/accounts/{own}/balances (from chain). Latency per request, p50/p99. Closed loop: each client
   sends its next request as soon as it has the answer, so with N clients latency is N / throughput.
   After the submissions, the reads again, closed loop and then paced (`--read-rate`, offered by the N
   clients together, latency counted from each request's scheduled time).
2. submissions, 1 client then N clients: POST /v1/instructions, each a fresh EIP-712-signed instruction with
   a unique nonce and sender reference, all signed BEFORE the phase (signing is not timed). Accepted = 201.
   Client 2k submits `deliver` and client 2k+1 the matching `receive`, in the same order, so they match.

Options: `--backend anvil` serves with `--rpc` on an Anvil node, `--workers N` runs N worker processes,
`--compare` measures 1 worker too in the same run and reports ratios, `--pg-admin-url` gives the service
a fresh PostgreSQL database. `read_cpu_ms` / `submit_cpu_ms`: CPU seconds the service's processes used
(/proc) per request, which a busy box distorts far less than latency. `read_client_cpu_ms`: what the
clients' process used per read; the same work every run, so a high figure (0.1 ms is usual here) shows a
slowed box.

The per-caller rate limit is raised for the run (LEDGERCLEAR_RATE_PER_S/BURST): this measures the service,
not the limiter. Clients are threads with one persistent HTTP/1.1 connection each: requests written to a socket,
answers parsed by httptools (light on the client side, which shares the machine's cores with the service).

Last stdout line: one JSON object with clients, read_p50_ms, read_p99_ms, submissions_per_s (and the
single-client baselines, error counts, load average).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
if "BENCH_API_OTHER_ROOT" not in os.environ:  # set when prepare_db runs with another checkout's code
    sys.path.insert(0, str(ROOT))

import httptools  # noqa: E402
from eth_account import Account  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from api import eip712  # noqa: E402
from api.service import migrate as service_migrate  # noqa: E402
from api.service.security import totp_now  # noqa: E402
from ledger import migrate as ledger_migrate  # noqa: E402
from ledger.scratch_db import scratch_database  # noqa: E402
from ledger.store import SecurityRow, Store  # noqa: E402

SEC, TOKEN = "00700", 700
ADMIN_PASSWORD = "bench operator password 1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Closed(ConnectionError):
    """The server closed the connection before answering."""


class _Answer:
    """httptools' callbacks for one response."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.complete = False
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # known here; reset once the message is complete

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class Conn:
    """One persistent HTTP/1.1 keep-alive connection (reconnects if the server closes it): requests written to
    a plain socket, answers parsed by httptools, the C parser uvicorn itself uses. The clients share the box's
    two cores with the service, so they must cost little: with http.client's Python header parsing one client
    used 0.27-0.29 ms of CPU per balance read, with this 0.10-0.13 ms (three rounds of 2,000)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.headers = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json", **(headers or {})}
        self.sock: socket.socket | None = None

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        fields = {**self.headers, **(headers or {}), **({"Content-Length": str(len(data))} if body is not None else {})}
        message = (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
                   + "\r\n").encode() + data
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
                    self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.sock.sendall(message)
                return self._answer(self.sock)
            except ConnectionError:  # _Closed too: an idle keep-alive connection the server let go
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _answer(self, sock: socket.socket) -> tuple[int, bytes]:
        answer = _Answer()
        while not answer.complete:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise _Closed("connection closed before the answer was complete")
            answer.parser.feed_data(chunk)
        status = int(answer.parser.get_status_code())
        if not answer.keep_alive:
            self.close()
        return status, b"".join(answer.body)

    def json(self, method: str, path: str, body: Any = None, expect: int = 200,
             headers: dict[str, str] | None = None) -> Any:
        st, raw = self.request(method, path, body, headers)
        if st != expect:
            raise RuntimeError(f"{method} {path}: {st} {raw[:300]!r}")
        return json.loads(raw)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def prepare_db(url: str) -> None:
    """Both schemas and the one listed security (the API has no endpoint for listing securities)."""
    eng = create_engine(url)
    ledger_migrate.upgrade(eng)
    service_migrate.upgrade(eng)
    Store(eng).add_securities([SecurityRow(code=SEC, token_id=TOKEN, isin="HK0000000700", name="Tencent",
                                           board_lot=100, currency="HKD")])
    eng.dispose()


def start_service(tmp: pathlib.Path, port: int, root: pathlib.Path | None = None, url: str | None = None,
                  extra: tuple[str, ...] = (), wrapper: tuple[str, ...] = (),
                  start_timeout_s: float = 120) -> tuple[subprocess.Popen[bytes], str, pathlib.Path]:
    """`ledgerclear serve` on `port` (of the checkout at `root`), run under `wrapper` (e.g. valgrind) if given;
    returns the process, the operator's TOTP secret and the log file."""
    url = url or f"sqlite:///{tmp / 'svc.sqlite'}"
    if root is None:
        prepare_db(url)
    else:  # the other checkout's schema: run this same step with its code
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); "
                        f"import bench_api; bench_api.prepare_db({url!r})"],
                       check=True, env=dict(os.environ, PYTHONPATH=str(root), BENCH_API_OTHER_ROOT="1"), cwd=root)
    env = dict(os.environ, LEDGERCLEAR_ADMIN_PASSWORD=ADMIN_PASSWORD, LEDGERCLEAR_RATE_PER_S="1000000",
               LEDGERCLEAR_RATE_BURST="1000000",
               # the service key in the run's directory (with a PostgreSQL database it would default to cwd)
               LEDGERCLEAR_SECRET_KEY_FILE=str(tmp / "service.key"))
    log = tmp / "serve.log"
    exe = pathlib.Path(sys.executable).parent / "ledgerclear"
    cmd = ([str(exe)] if exe.exists() and root is None and not wrapper
           else [sys.executable, "-c", "from api.cli import main; main()"])
    if root is not None:  # another checkout of the code (e.g. the version before a change), same interpreter
        env["PYTHONPATH"] = str(root)
    proc = subprocess.Popen([*wrapper, *cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", url,
                             "--reports-dir", str(tmp / "reports"), *extra],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=env, start_new_session=True,
                            cwd=root)
    deadline = time.time() + start_timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        raise RuntimeError("serve did not start")
    m = re.search(r"TOTP secret: (\S+)", log.read_text())
    if m is None:
        raise RuntimeError("no TOTP secret on serve's stderr")
    return proc, m.group(1), log


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


class Market:
    def __init__(self, port: int, totp_secret: str, n: int, service_pid: int) -> None:
        self.port = port
        self.service_pid = service_pid
        admin = Conn(port)
        tok = admin.json("POST", "/v1/sessions", {"username": "operator", "password": ADMIN_PASSWORD,
                                                  "totp": totp_now(totp_secret)}, expect=201)["token"]
        admin.headers["Authorization"] = f"Bearer {tok}"
        domain = admin.json("GET", "/v1/signing-domain")["domain"]
        self.chain_id, self.engine = int(domain["chainId"]), str(domain["verifyingContract"])
        self.pids = [f"C{i + 10000:05d}" for i in range(n + (n % 2))]
        self.accounts: dict[str, Any] = {}
        self.keys: dict[str, str] = {}
        for pid in self.pids:
            acct = Account.create()
            self.accounts[pid] = acct
            admin.json("POST", "/v1/participants", {"id": pid, "address": acct.address, "kind": "broker",
                                                    "name": f"Bench {pid}"}, expect=201)
            self.keys[pid] = admin.json("POST", "/v1/api-keys", {"name": f"{pid}-stp", "participant_id": pid,
                                                                 "groups": ["inputter", "authoriser"]},
                                        expect=201)["key"]
        admin.close()
        self._nonce = 0

    def partner(self, i: int) -> str:
        return self.pids[i ^ 1]

    def presign(self, i: int, count: int, tag: str) -> list[bytes]:
        """`count` signed bodies for client i; client i^1's k-th body is the matching other side."""
        pid, cp = self.pids[i], self.partner(i)
        direction = "deliver" if i % 2 == 0 else "receive"
        expiry = int(time.time()) + 3600
        out = []
        for k in range(count):
            f = {"participant_id": pid, "counterparty_id": cp, "direction": direction, "security_code": SEC,
                 "quantity": 100 * (k + 1), "amount_cents": 50_000 * (k + 1), "currency": "HKD",
                 "settlement_date": "2026-11-23", "sender_reference": f"{tag}-{i // 2}-{k}",
                 "nonce": 1_000_000 * (i + 1) + k + (0 if tag == "one" else 500_000), "expiry": expiry}
            data = eip712.typed_data(f, self.chain_id, self.engine)
            out.append(json.dumps({"instruction": f, "signature": eip712.sign(data, self.accounts[pid].key)})
                       .encode())
        return out


def cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) the service's processes have used so far: per-request CPU cost is what
    a loaded, shared box does not distort (wall-clock latency it does)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def service_pids(root_pid: int) -> list[int]:
    """The serve process and its descendants (uvicorn workers)."""
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            kids = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            kids = []
        todo += [int(k) for k in kids]
    return out


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def run_clients(m: Market, client: Callable[[int], None], clients: int, seconds: float,
                start: threading.Barrier, deadline: list[float]) -> tuple[float, float, float]:
    """Start one thread per client, release them together for `seconds`, wait for all:
    (wall s, service CPU s, this process's CPU s: what the clients cost the shared cores)."""
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    pids = service_pids(m.service_pid)
    deadline[0] = time.perf_counter() + seconds
    t0, c0, own0 = time.perf_counter(), cpu_s(pids), time.process_time()
    start.wait()
    for t in threads:
        t.join(seconds + 120)
    return time.perf_counter() - t0, cpu_s(pids) - c0, time.process_time() - own0


def run_reads(m: Market, clients: int, seconds: float, rate: float = 0.0) -> dict[str, Any]:
    """Closed loop (rate 0: each client sends its next request as soon as the last is answered), or paced:
    together the clients offer `rate` requests per second, each on its own schedule, and latency is counted
    from the scheduled send time (a late answer also delays the next send; counting from the schedule keeps
    that delay in the figures)."""
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    deadline = [0.0]
    interval = clients / rate if rate > 0 else 0.0

    def client(i: int) -> None:
        pid = m.pids[i]
        c = Conn(m.port, {"X-API-Key": m.keys[pid]})
        paths = ["/v1/instructions?limit=20", f"/v1/accounts/{pid}/balances"]
        c.request("GET", paths[0])  # connect
        start.wait()
        k = i
        due = time.perf_counter() + interval * i / clients  # spread the clients over one interval
        while time.perf_counter() < deadline[0]:
            if interval:
                time.sleep(max(0.0, due - time.perf_counter()))
            t0 = due if interval else time.perf_counter()
            st, _ = c.request("GET", paths[k % 2])
            lat[i].append(time.perf_counter() - t0)
            if st != 200:
                errors[i] += 1
            k += 1
            due += interval
        c.close()

    wall, cpu, own = run_clients(m, client, clients, seconds, start, deadline)
    all_ms = [x * 1000 for xs in lat for x in xs]
    return {"p50_ms": round(pct(all_ms, 0.5), 2), "p99_ms": round(pct(all_ms, 0.99), 2),
            "requests": len(all_ms), "per_s": round(len(all_ms) / wall, 1), "errors": sum(errors),
            "service_cpu_ms_per_request": round(1000 * cpu / max(1, len(all_ms)), 2),
            "client_cpu_ms_per_request": round(1000 * own / max(1, len(all_ms)), 2),
            **({"offered_per_s": rate} if rate else {})}


def run_submits(m: Market, clients: int, seconds: float, per_client: int, tag: str) -> dict[str, Any]:
    bodies = [m.presign(i, per_client, tag) for i in range(clients)]
    accepted = [0] * clients
    refused: dict[int, int] = {}
    lat: list[float] = []
    exhausted = [False] * clients
    start = threading.Barrier(clients + 1)
    deadline = [0.0]
    lock = threading.Lock()

    def client(i: int) -> None:
        c = Conn(m.port, {"X-API-Key": m.keys[m.pids[i]]})
        c.request("GET", "/v1/health")
        start.wait()
        for b in bodies[i]:
            if time.perf_counter() >= deadline[0]:
                break
            t0 = time.perf_counter()
            st, raw = c.request("POST", "/v1/instructions", b)
            dt_ = time.perf_counter() - t0
            with lock:
                lat.append(dt_)
                if st == 201:
                    accepted[i] += 1
                else:
                    refused[st] = refused.get(st, 0) + 1
                    if refused[st] <= 3:
                        print(f"submit refused {st}: {raw[:200]!r}", file=sys.stderr)
        else:
            exhausted[i] = True
        c.close()

    wall, cpu, own = run_clients(m, client, clients, seconds, start, deadline)
    ms = [x * 1000 for x in lat]
    return {"accepted": sum(accepted), "per_s": round(sum(accepted) / wall, 1), "refused": refused,
            "service_cpu_ms_per_request": round(1000 * cpu / max(1, len(lat)), 2),
            "client_cpu_ms_per_request": round(1000 * own / max(1, len(lat)), 2),
            "p50_ms": round(pct(ms, 0.5), 2), "p99_ms": round(pct(ms, 0.99), 2),
            "clients_out_of_presigned": sum(exhausted), "wall_s": round(wall, 2)}


def measure(a: argparse.Namespace, n: int, workers: int, say: Any) -> dict[str, Any]:
    """Start one service configuration, run every phase against it, stop it."""
    with contextlib.ExitStack() as stack:
        tmp = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_api_")))
        extra: tuple[str, ...] = ()
        if a.backend == "anvil":
            from ledger.anvil import anvil_node
            extra = ("--rpc", stack.enter_context(anvil_node()), "--deployment", str(tmp / "deployment.json"))
        if workers > 1:
            extra += ("--workers", str(workers))
        url = None
        if a.pg_admin_url:
            url = stack.enter_context(scratch_database(a.pg_admin_url, "bench_api"))
        port = _free_port()
        proc, secret, log = start_service(tmp, port, a.service_root, url, extra)
        try:
            say(f"service on 127.0.0.1:{port} (pid {proc.pid}, {workers} worker(s), {a.backend} chain, "
                f"{'PostgreSQL' if url else 'SQLite'}); setting up {n} participants")
            m = Market(port, secret, n, proc.pid)
            # the baseline for submissions: one counterparty pair (2 clients), so its instructions match too
            single_sub = run_submits(m, 2, a.seconds / 3, a.per_client, "one")
            say(f"submissions, 1 pair (2 clients): {single_sub}")
            r1 = run_reads(m, 1, a.seconds / 3)
            say(f"reads, 1 client: {r1}")
            rn = run_reads(m, n, a.seconds)
            say(f"reads, {n} clients: {rn}")
            sn = run_submits(m, n, a.seconds, a.per_client, "many")
            say(f"submissions, {n} clients: {sn}")
            rn2 = run_reads(m, n, a.seconds / 3)
            say(f"reads after submissions ({n} clients, lists now hold instructions): {rn2}")
            paced = run_reads(m, n, a.seconds / 2, a.read_rate) if a.read_rate > 0 else None
            if paced is not None:
                say(f"paced reads ({n} clients offering {a.read_rate:g}/s together): {paced}")
        finally:
            stop_service(proc)
    return {"clients": n, "read_p50_ms": rn["p50_ms"], "read_p99_ms": rn["p99_ms"],
            "submissions_per_s": sn["per_s"], "workers": workers, "backend": a.backend,
            "database": "postgresql" if a.pg_admin_url else "sqlite",
            "reads_per_s": rn["per_s"], "read_cpu_ms": rn["service_cpu_ms_per_request"],
            "read_client_cpu_ms": rn["client_cpu_ms_per_request"],
            "submit_cpu_ms": sn["service_cpu_ms_per_request"], "read_errors": rn["errors"],
            "submit_refused": sn["refused"], "submit_p50_ms": sn["p50_ms"], "submit_p99_ms": sn["p99_ms"],
            "submit_clients_out_of_presigned": sn["clients_out_of_presigned"],
            "single_read_p50_ms": r1["p50_ms"], "single_read_p99_ms": r1["p99_ms"],
            "pair_submissions_per_s": single_sub["per_s"], "pair_submit_p50_ms": single_sub["p50_ms"],
            "read_p50_ms_after_submissions": rn2["p50_ms"], "read_p99_ms_after_submissions": rn2["p99_ms"],
            **({"paced_read_offered_per_s": a.read_rate, "paced_reads_per_s": paced["per_s"],
                "paced_read_p50_ms": paced["p50_ms"], "paced_read_p99_ms": paced["p99_ms"]} if paced else {})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each timed phase")
    ap.add_argument("--per-client", type=int, default=200,
                    help="pre-signed submissions per client (N-client phase)")
    ap.add_argument("--json", action="store_true", help="only the JSON result line on stdout")
    ap.add_argument("--service-root", type=pathlib.Path, default=None,
                    help="serve the code of this checkout instead (compare before/after in one environment)")
    ap.add_argument("--backend", choices=("embedded", "anvil"), default="embedded",
                    help="the service's chain: in-process, or an Anvil node (serve --rpc)")
    ap.add_argument("--workers", type=int, default=1, help="serve --workers (more than 1 needs --backend anvil)")
    ap.add_argument("--compare", action="store_true",
                    help="also measure 1 worker (same chain and database kind) in this run; report ratios")
    ap.add_argument("--read-rate", type=float, default=100.0,
                    help="also measure reads paced at this many per second from all clients together (0: skip); "
                         "the headline read figures stay closed-loop")
    ap.add_argument("--pg-admin-url", default=None,
                    help="PostgreSQL URL that may CREATE DATABASE: the service gets a fresh database there")
    a = ap.parse_args()
    n = a.clients + (a.clients % 2)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr if a.json else sys.stdout, flush=True)

    out = measure(a, n, a.workers, say)
    if a.compare and a.workers != 1:
        base = measure(a, n, 1, say)
        out["baseline_1_worker"] = base
        out["reads_per_s_ratio"] = round(out["reads_per_s"] / max(base["reads_per_s"], 1e-9), 2)
        out["submissions_per_s_ratio"] = round(out["submissions_per_s"] / max(base["submissions_per_s"], 1e-9), 2)
        out["read_p99_ratio"] = round(out["read_p99_ms"] / max(base["read_p99_ms"], 1e-9), 2)
    load = os.getloadavg()
    out.update({"seconds_per_phase": a.seconds, "service_root": str(a.service_root or ROOT),
                "loadavg_1m": round(load[0], 2), "cpus": os.cpu_count()})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
