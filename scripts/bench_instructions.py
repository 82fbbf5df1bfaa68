"""Instructions the service process executes per read (callgrind): a measure of the service's CPU cost that a
noisy box does not disturb.

Starts `ledgerclear serve` (embedded chain, fresh SQLite file) under valgrind's callgrind with instrumentation
off, registers the clients' participants through the API as bench_api.py does, then for each kind of read
switches instrumentation on and counts what the process executes while `--clients` keep-alive clients send
`--requests` reads each, and again with twice as many: the difference over the extra reads is the figure, so
start-up and warm-up cost nothing. Only the service's own user-space instructions count (not the kernel's
work for its system calls, not the clients'). With `--service-root DIR` the other checkout is measured the same
way in the same run, and the ratios are printed. Needs valgrind (callgrind_control).

    .venv/bin/python scripts/bench_instructions.py --json [--service-root <checkout>]

The last line is one JSON object: {"kilo_instructions_per_request": {"list": ..., "balances": ..., "me": ...},
"baseline": {...}, "ratio": {...}, "clients": ..., "requests_per_client": ...}.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_api as b  # noqa: E402

KINDS: dict[str, Callable[[str], str]] = {  # the reads bench_api.py's read phase alternates, and an authenticated read with no endpoint work
    "list": lambda pid: "/v1/instructions?limit=20",
    "balances": lambda pid: f"/v1/accounts/{pid}/balances",
    "me": lambda pid: "/v1/me",
}


def _reads(m: b.Market, clients: int, n: int, kind: str) -> None:
    def client(i: int) -> None:
        pid = m.pids[i]
        c = b.Conn(m.port, {"X-API-Key": m.keys[pid]})
        for _ in range(n):
            status, _ = c.request("GET", KINDS[kind](pid))
            if status != 200:
                raise RuntimeError(f"{kind}: status {status}")
        c.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _counted(pid: int, out_dir: str, run: Callable[[], None]) -> int:
    """Instructions the process executes during `run()`."""
    subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True)
    run()
    before = set(glob.glob(os.path.join(out_dir, "out.*")))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        new = set(glob.glob(os.path.join(out_dir, "out.*"))) - before
        for path in new:
            found = re.search(r"^(?:summary|totals): (\d+)", pathlib.Path(path).read_text(), re.M)
            if found:
                return int(found.group(1))
        time.sleep(0.2)
    raise RuntimeError("callgrind wrote no dump")


def measure(root: pathlib.Path | None, clients: int, per_client: int, say: Any) -> dict[str, float]:
    out_dir = tempfile.mkdtemp(prefix="callgrind-")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    wrapper = ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_dir}/out.%p")
    port = b._free_port()
    proc, secret, _ = b.start_service(tmp, port, root, wrapper=wrapper, start_timeout_s=600)
    try:
        m = b.Market(port, secret, clients, proc.pid)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        result: dict[str, float] = {}
        for kind in KINDS:
            _reads(m, clients, 3, kind)  # instrumentation's own warm-up
            once = _counted(proc.pid, out_dir, lambda: _reads(m, clients, per_client, kind))
            twice = _counted(proc.pid, out_dir, lambda: _reads(m, clients, 2 * per_client, kind))
            result[kind] = round((twice - once) / (per_client * clients) / 1000, 1)
            say(f"{root or 'this checkout'}: {kind} {result[kind]} k instructions per request")
        return result
    finally:
        b.stop_service(proc)
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--requests", type=int, default=30, help="reads per client in the first count")
    ap.add_argument("--service-root", type=pathlib.Path, default=None, help="also measure this checkout")
    ap.add_argument("--json", action="store_true", help="only the JSON result line on stdout")
    a = ap.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("error: needs valgrind and callgrind_control (Debian: apt-get install valgrind)")
    say = (lambda msg: print(msg, file=sys.stderr)) if a.json else print
    out: dict[str, Any] = {"clients": a.clients, "requests_per_client": a.requests,
                           "kilo_instructions_per_request": measure(None, a.clients, a.requests, say)}
    if a.service_root is not None:
        base = measure(a.service_root.resolve(), a.clients, a.requests, say)
        out["baseline"] = base
        out["ratio"] = {k: round(v / base[k], 3) for k, v in out["kilo_instructions_per_request"].items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
