"""Several service processes on one database and one chain (what `serve --workers N` runs): two real
`ledgerclear serve` processes on Anvil share a database. One side of an instruction goes to each; they match
exactly once; an event made in one process reaches a stream held open by the other; concurrent submissions
split across both all match, and the audit chain stays whole. SQLite always, PostgreSQL when CI provides it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from sqlalchemy import create_engine, text

from api import eip712
from api.service.security import totp_now
from ledger import migrate as ledger_migrate
from ledger.anvil import anvil_binary, anvil_node
from ledger.scratch_db import scratch_database
from ledger.store import SecurityRow, Store

pytestmark = [pytest.mark.anvil, pytest.mark.skipif(anvil_binary() is None, reason="Anvil not installed")]

ADMIN_PASSWORD = "multiprocess operator pw"
SEC = "00700"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """One `ledgerclear serve` process."""

    def __init__(self, tmp: Path, name: str, rpc: str, db: str, *extra: str) -> None:
        self.port = _free_port()
        self.log = tmp / f"{name}.log"
        env = dict(os.environ, LEDGERCLEAR_ADMIN_PASSWORD=ADMIN_PASSWORD, LEDGERCLEAR_RATE_PER_S="100000",
                   LEDGERCLEAR_RATE_BURST="100000")
        exe = Path(sys.executable).parent / "ledgerclear"
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--rpc", rpc, "--db", db,
             "--deployment", str(tmp / "deployment.json"), "--secret-key-file", str(tmp / "service.key"),
             "--reports-dir", str(tmp / "reports"), *extra],
            stdout=subprocess.DEVNULL, stderr=self.log.open("wb"), env=env, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"serve did not start: {self.log.read_text()[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'svc.sqlite'}"
        return
    admin_url = os.environ.get("LEDGERCLEAR_TEST_PG_URL")
    if not admin_url:
        pytest.skip("LEDGERCLEAR_TEST_PG_URL is not set (CI sets it after starting PostgreSQL)")
    with scratch_database(admin_url, "ledgerclear_mp") as url:
        yield url


def _prepare(db: str) -> None:
    eng = create_engine(db)
    ledger_migrate.upgrade(eng)
    Store(eng).add_securities([SecurityRow(code=SEC, token_id=700, isin="HK0000000700", name="Tencent",
                                           board_lot=100, currency="HKD")])
    eng.dispose()


def _sse_collect(url: str, key: str, out: list[dict[str, Any]], ready: threading.Event, seconds: float) -> None:
    with httpx.stream("GET", f"{url}/v1/events/stream", params={"timeout": seconds},
                      headers={"X-API-Key": key}, timeout=seconds + 30) as r:
        ready.set()
        ev: dict[str, Any] = {}
        for line in r.iter_lines():
            if line.startswith("id: "):
                ev = {"id": int(line[4:])}
            elif line.startswith("data: "):
                ev["data"] = json.loads(line[6:])
                out.append(ev)


def test_two_processes_share_matching_events_and_audit(tmp_path: Path, db_url: str) -> None:
    _prepare(db_url)
    with anvil_node() as rpc:
        a = Serve(tmp_path, "a", rpc, db_url)
        b = None
        try:
            b = Serve(tmp_path, "b", rpc, db_url)  # binds to the deployment process a wrote
            secret = re.search(r"TOTP secret: (\S+)", a.log.read_text())
            assert secret is not None and "TOTP secret" not in b.log.read_text()  # one first administrator
            op = httpx.Client(base_url=a.url, timeout=60)
            tok = op.post("/v1/sessions", json={"username": "operator", "password": ADMIN_PASSWORD,
                                                "totp": totp_now(secret.group(1))}).json()["token"]
            op.headers["Authorization"] = f"Bearer {tok}"
            domain = op.get("/v1/signing-domain").json()["domain"]
            accts, keys = {}, {}
            for pid in ("B10001", "B10002"):
                accts[pid] = Account.create()
                r = op.post("/v1/participants", json={"id": pid, "address": accts[pid].address, "kind": "broker",
                                                      "name": pid})
                assert r.status_code == 201, r.text
                keys[pid] = op.post("/v1/api-keys", json={"name": f"{pid}-stp", "participant_id": pid,
                                                          "groups": ["inputter", "authoriser"]}).json()["key"]

            def body(pid: str, cp: str, direction: str, k: int) -> dict[str, Any]:
                f = {"participant_id": pid, "counterparty_id": cp, "direction": direction, "security_code": SEC,
                     "quantity": 100 * (k + 1), "amount_cents": 1000 * (k + 1), "currency": "HKD",
                     "settlement_date": "2026-11-23", "sender_reference": f"MP-{k}", "nonce": k + 1,
                     "expiry": int(time.time()) + 3600}
                data = eip712.typed_data(f, int(domain["chainId"]), str(domain["verifyingContract"]))
                return {"instruction": f, "signature": eip712.sign(data, accts[pid].key)}

            # A stream held open by process b on B10001's channel; B10001 submits through process a.
            seen: list[dict[str, Any]] = []
            ready = threading.Event()
            t = threading.Thread(target=_sse_collect, args=(b.url, keys["B10001"], seen, ready, 20.0), daemon=True)
            t.start()
            assert ready.wait(30)
            r1 = httpx.post(f"{a.url}/v1/instructions", json=body("B10001", "B10002", "deliver", 0),
                            headers={"X-API-Key": keys["B10001"]}, timeout=60)
            assert r1.status_code == 201 and r1.json()["status"] == "unmatched", r1.text
            r2 = httpx.post(f"{b.url}/v1/instructions", json=body("B10002", "B10001", "receive", 0),
                            headers={"X-API-Key": keys["B10002"]}, timeout=60)
            assert r2.status_code == 201 and r2.json()["status"] == "pending", r2.text  # matched across processes
            deadline = time.time() + 15
            while time.time() < deadline and not any(e["data"].get("status") == "pending" for e in seen):
                time.sleep(0.05)
            statuses = [e["data"].get("status") for e in seen]
            assert "unmatched" in statuses and "pending" in statuses, seen  # a's event and b's match, via b
            ids = [e["id"] for e in seen]
            assert ids == sorted(set(ids))  # each once, in order

            # 30 pairs at once: deliver sides through a, receive sides through b, interleaved.
            jobs = [(a.url, "B10001", body("B10001", "B10002", "deliver", k)) for k in range(1, 31)]
            jobs += [(b.url, "B10002", body("B10002", "B10001", "receive", k)) for k in range(1, 31)]
            jobs = [j for pair in zip(jobs[:30], jobs[30:], strict=True) for j in pair]
            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(lambda j: httpx.post(f"{j[0]}/v1/instructions", json=j[2], timeout=60,
                                                           headers={"X-API-Key": keys[j[1]]}).status_code, jobs))
            assert codes == [201] * 60
            for pid in ("B10001", "B10002"):
                items = httpx.get(f"{b.url}/v1/instructions", params={"limit": 500}, timeout=60,
                                  headers={"X-API-Key": keys[pid]}).json()["items"]
                assert len(items) == 31 and all(i["status"] == "pending" for i in items), items
            eng = create_engine(db_url)
            with eng.connect() as c:  # one ledger instruction per pair: nothing matched twice
                assert c.execute(text("SELECT count(*) FROM instructions")).scalar() == 31
            eng.dispose()
            v = op.get("/v1/audit/verify").json()
            assert v["ok"], v
            op.close()
        finally:
            if b is not None:
                b.stop()
            a.stop()


def test_serve_workers_needs_a_shared_chain(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "ledgerclear"
    r = subprocess.run([str(exe), "serve", "--workers", "2", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--workers 2 needs --rpc" in r.stderr and "Traceback" not in r.stderr


def test_serve_workers_spreads_requests_over_processes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'svc.sqlite'}"
    _prepare(db)
    with anvil_node() as rpc:
        s = Serve(tmp_path, "w", rpc, db, "--workers", "2")
        try:
            kids = Path(f"/proc/{s.proc.pid}/task/{s.proc.pid}/children").read_text().split()
            cmdlines = [Path(f"/proc/{k}/cmdline").read_bytes().decode(errors="replace") for k in kids]
            assert sum("spawn_main" in c for c in cmdlines) == 2, cmdlines  # uvicorn's worker processes
            secret = re.search(r"TOTP secret: (\S+)", s.log.read_text())
            assert secret is not None
            # Fresh connections land on either worker; every one answers from the same database and chain.
            tok = httpx.post(f"{s.url}/v1/sessions", json={"username": "operator", "password": ADMIN_PASSWORD,
                                                           "totp": totp_now(secret.group(1))}, timeout=60)
            assert tok.status_code == 201, tok.text
            h = {"Authorization": f"Bearer {tok.json()['token']}"}
            domains = {json.dumps(httpx.get(f"{s.url}/v1/signing-domain", headers=h, timeout=60).json(),
                                  sort_keys=True) for _ in range(20)}
            assert len(domains) == 1  # one deployment behind every worker
            assert httpx.get(f"{s.url}/v1/audit/verify", headers=h, timeout=60).json()["ok"]
        finally:
            s.stop()
