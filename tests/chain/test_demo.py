"""The main job end to end on the embedded chain: run_demo and the `ledgerclear demo` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.day import DayConfig as DemoConfig
from ledger.day import DayResult as DemoResult
from ledger.day import run_day as run_demo

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = {"ParticipantRegistry", "SecuritiesLedger", "SettlementEngine", "CashTokenHKD", "CashTokenCNY",
             "CashTokenUSD"}


@pytest.fixture(scope="module")
def demo() -> DemoResult:
    return run_demo(DemoConfig(trades=1500, participants=15, securities=60))


def _check_summary(s: dict[str, Any]) -> None:
    for key in ("trades", "obligations", "settled", "pending", "failed", "partial"):
        assert isinstance(s[key], int) and not isinstance(s[key], bool), key
        assert s[key] >= 0, key
    assert s["settled"] + s["partial"] + s["pending"] + s["failed"] == s["obligations"]
    assert s["settled"] > 0
    assert isinstance(s["runs"], list) and s["runs"]
    assert s["conservation_ok"] is True
    assert s["conservation_checked"] > 0


def _check_deployment(d: dict[str, Any], rpc_url: str | None = None) -> None:
    assert isinstance(d["chain_id"], int)
    assert d["rpc_url"] == rpc_url
    assert CONTRACTS <= set(d["contracts"])
    addrs = list(d["contracts"].values())
    assert all(isinstance(a, str) and a.startswith("0x") and len(a) == 42 for a in addrs)
    assert len(set(addrs)) == len(addrs)
    assert set(d["artifacts"]) == set(d["contracts"])
    for path in d["artifacts"].values():
        art = json.loads(Path(path).read_text())
        assert art["abi"] and art["bytecode"]


def test_demo_summary(demo: DemoResult) -> None:
    s = demo.summary
    _check_summary(s)
    assert s["trades"] == 1500
    assert s["backend"] == "embedded"


def test_demo_runs_pending_then_recycled(demo: DemoResult) -> None:
    runs = demo.summary["runs"]
    assert len(runs) >= 2 and all(isinstance(r, dict) for r in runs)
    first, second = runs[0], runs[1]
    assert first["submitted"] > 0 and first["settled"] > 0
    # some obligations stayed pending after run 1, each with a reason
    assert first["pending"] > 0 and first["pending_by_reason"]
    assert sum(first["pending_by_reason"].values()) == first["pending"]
    assert set(first["pending_by_reason"]) <= {"LACK", "MONY", "BLOC", "RISK"}
    assert "BLOC" in first["pending_by_reason"]  # one participant is frozen all day
    # run 2 recycled them after the top-up: some settled now
    assert second["submitted"] > 0 and second["settled"] + second["partial"] > 0
    assert runs[-1]["final"] is True
    assert demo.summary["legs"] == sum(r["legs"] for r in runs) > 0


def test_demo_failed_have_reasons(demo: DemoResult) -> None:
    s = demo.summary
    assert sum(s["fails_by_reason"].values()) >= s["failed"]
    assert set(s["fails_by_reason"]) <= {"LACK", "MONY", "BLOC", "RISK"}
    assert s["frozen_participants"]


def test_demo_deployment(demo: DemoResult) -> None:
    _check_deployment(demo.deployment)
    assert demo.deployment["chain_id"] == demo.summary["chain_id"]


@pytest.mark.slow
def test_demo_is_reproducible(demo: DemoResult) -> None:
    again = run_demo(DemoConfig(trades=1500, participants=15, securities=60))
    keys = ("trades", "obligations", "settled", "partial", "pending", "failed", "fails_by_reason",
            "settled_value_cents")
    assert {k: again.summary[k] for k in keys} == {k: demo.summary[k] for k in keys}


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("ledgerclear")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from api.cli import main; main()"]


def test_cli_demo_writes_summary_and_deployment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [*_cli(), "demo", "--trades", "1000", "--participants", "12", "--securities", "40", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "160"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    deployment = json.loads((out / "deployment.json").read_text())
    _check_summary(summary)
    assert summary["trades"] == 1000
    _check_deployment(deployment)
    assert "summary.json" in proc.stdout and "conservation" in proc.stdout


@pytest.fixture(scope="module")
def unreachable_rpc_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bad-rpc")
    proc = subprocess.run(
        [*_cli(), "demo", "--trades", "10", "--rpc", "http://127.0.0.1:9", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    return proc, out


def test_cli_demo_bad_rpc_fails_cleanly(unreachable_rpc_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, out = unreachable_rpc_run
    assert proc.returncode == 1
    assert "cannot reach" in proc.stdout and "127.0.0.1:9" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (out / "summary.json").exists()


def test_cli_demo_error_has_no_literal_markup(
        unreachable_rpc_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, _ = unreachable_rpc_run
    assert proc.returncode == 1 and "[red]" not in proc.stdout and "[/red]" not in proc.stdout
