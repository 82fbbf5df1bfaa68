"""A market directory: later days on it, what is refused when opening one, serve restarted after SIGKILL."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from market_testkit import DAY, REPO, ledgerclear

from api.service.security import totp_now


@pytest.fixture(scope="module")
def first_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    market = tmp_path_factory.mktemp("market") / "m"
    proc = ledgerclear("day", *DAY, "--market", str(market))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return market


def _copy(market: Path, to: Path) -> Path:
    shutil.copytree(market, to, ignore=shutil.ignore_patterns("*.lock"))
    return to


def _positions(path: Path) -> dict[tuple[str, str], dict[str, int]]:
    with open(path) as fh:
        return {(r["participant"], r["security_code"]): {k: int(r[k]) for k in ("opening", "closing")}
                for r in csv.DictReader(fh)}


def test_a_second_day_carries_fails_forward_and_keeps_holdings(first_day: Path, tmp_path: Path) -> None:
    market = _copy(first_day, tmp_path / "m")
    day1 = json.loads((market / "summary.json").read_text())
    closing1 = _positions(market / "positions.csv")
    proc = ledgerclear("day", "--generate", "800", "--sis", "40", "--batch-size", "100", "--market", str(market),
                       "--trade-date", "2026-11-23")  # the market's own participants and securities
    assert proc.returncode == 0, proc.stdout + proc.stderr
    day2 = json.loads((market / "summary.json").read_text())
    assert day2["trade_date"] == "2026-11-23" and day2["chain_id"] == day1["chain_id"]
    # every unsettled obligation (failed, or the failed rest of a partial delivery) comes forward
    assert day2["carried_forward_in"] == day1["failed"] + day1["partial"] > 0
    assert day2["obligations"] == day2["cns_obligations"] + day2["carried_forward_in"] + day2["sis"]["matched_pairs"] \
        + 3 * 2  # the day's two SI rings of three legs
    assert day2["conservation_ok"] is True
    opening2 = _positions(market / "positions.csv")
    for key, pos in closing1.items():
        assert opening2.get(key, {"opening": 0})["opening"] >= pos["closing"], key  # yesterday's closing kept
    assert json.loads((market / "days" / "2026-11-20" / "summary.json").read_text()) == \
        json.loads((first_day / "summary.json").read_text())
    assert (market / "days" / "2026-11-23" / "positions.csv").exists()


def _refused(proc: subprocess.CompletedProcess[str], words: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert words in " ".join(out.split()), out
    assert "Traceback" not in out


def test_a_directory_that_is_not_a_market_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a market")
    for args in (["serve", "--market", str(tmp_path)], ["gateway", "--market", str(tmp_path)]):
        _refused(ledgerclear(*args), "is not a market")
    _refused(ledgerclear("day", *DAY, "--market", str(tmp_path)), "holds no market.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written


def test_a_chain_that_is_not_the_stores_is_refused(first_day: Path, tmp_path: Path) -> None:
    market = _copy(first_day, tmp_path / "m")
    other = tmp_path / "other"
    assert ledgerclear("day", *DAY, "--seed", "8", "--market", str(other)).returncode == 0
    shutil.copy(other / "chain.sqlite", market / "chain.sqlite")
    for name in ("chain.sqlite-wal", "chain.sqlite-shm"):
        (market / name).unlink(missing_ok=True)
        if (other / name).exists():
            shutil.copy(other / name, market / name)
    store = (market / "store.sqlite").read_bytes()
    _refused(ledgerclear("day", *DAY, "--market", str(market), "--trade-date", "2026-11-23"),
             "is not the one this store was made on")
    _refused(ledgerclear("serve", "--market", str(market)), "is not the one this store was made on")
    assert (market / "store.sqlite").read_bytes() == store


def test_a_market_of_another_format_version_is_refused(first_day: Path, tmp_path: Path) -> None:
    market = _copy(first_day, tmp_path / "m")
    manifest = json.loads((market / "market.json").read_text())
    (market / "market.json").write_text(json.dumps({**manifest, "version": 99}))
    _refused(ledgerclear("serve", "--market", str(market)), "format version 99")


def test_a_second_day_at_the_same_time_is_refused(first_day: Path, tmp_path: Path) -> None:
    market = _copy(first_day, tmp_path / "m")
    with open(market / "day.lock", "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running `ledgerclear day` holds it
        _refused(ledgerclear("day", *DAY, "--market", str(market), "--trade-date", "2026-11-23"),
                 "another day is running")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(market: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    """Start `ledgerclear serve --market`; the first administrator's TOTP secret when it is new, else ""."""
    env = {**os.environ, "LEDGERCLEAR_ADMIN_PASSWORD": "first admin password"}
    proc = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve", "--market",
                             str(market), "--port", str(port)], stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    secret = ""
    assert proc.stderr is not None
    deadline = time.time() + 90
    while time.time() < deadline:
        line = proc.stderr.readline()
        if "TOTP secret:" in line:
            secret = line.split(":", 1)[1].strip()
        if "serving on" in line or not line:
            break
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=5).read()
            return proc, secret
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the service did not start")


def _call(port: int, path: str, token: str = "", body: Any = None) -> Any:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_serve_restarted_after_sigkill_serves_the_same_ledger(first_day: Path, tmp_path: Path) -> None:
    market = _copy(first_day, tmp_path / "m")
    positions = _positions(market / "positions.csv")
    (pid, code), pos = next((k, v) for k, v in sorted(positions.items()) if v["closing"] > 0)
    port = _port()
    proc, secret = _serve(market, port)
    try:
        token = _call(port, "/v1/sessions", body={"username": "operator", "password": "first admin password",
                                                  "totp": totp_now(secret)})["token"]
        before = _call(port, f"/v1/accounts/{pid}/balances", token)
        health = _call(port, "/v1/health")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    held = {b["security_code"]: b["quantity"] for b in before["securities"]["items"]}
    assert held[code] == pos["closing"]  # the day's closing position is what serve shows
    proc, _ = _serve(market, port)
    try:
        assert _call(port, "/v1/health")["block"] == health["block"]
        assert _call(port, f"/v1/accounts/{pid}/balances", token) == before  # the session survived too
    finally:
        proc.terminate()
        proc.wait(20)
