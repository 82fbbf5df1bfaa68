"""`ledgerclear day` killed with SIGKILL at each stage and run again ends as an uninterrupted day."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from market_testkit import DAY, crash, ledgerclear, outcome

from ledger.anvil import anvil_binary, anvil_node
from ledger.chain import Chain, ChainConfig
from ledger.scratch_db import scratch_database

# (point, what it interrupts); the first few run by default, the rest are marked slow
POINTS = [
    ("send:run 1:2", "mid-run: a batch mined, its outcome not recorded"),
    ("send:opening:2", "mid-deposit"),
    ("after:contracts", "after deployment"),
    ("send:contracts:5", "mid-deployment"),
    ("send:reference data:1", "mid-registration"),
    ("send:realtime:3", "mid real-time DvP"),
    ("after:run 1", "between runs"),
    ("send:top-up:1", "mid top-up"),
    ("send:liquidity saving:1", "mid liquidity saving: the all-or-nothing batch mined, not recorded"),
    ("send:final run:1", "mid final run"),
    ("reports:1", "mid-reports"),
    ("send:close:1", "mid day-end close"),
]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    market = tmp_path_factory.mktemp("uninterrupted") / "m"
    proc = ledgerclear("day", *DAY, "--market", str(market))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return outcome(market)


@pytest.mark.parametrize("point", [pytest.param(p, id=why, marks=[pytest.mark.slow] if i >= 3 else [])
                                   for i, (p, why) in enumerate(POINTS)])
def test_killed_day_rerun_ends_as_uninterrupted(point: str, uninterrupted: dict[str, Any], tmp_path: Path) -> None:
    market = tmp_path / "m"
    killed = crash(point, "day", *DAY, "--market", str(market))
    assert killed.returncode == -9, f"the crash point {point} was never reached:\n{killed.stdout}{killed.stderr}"
    rerun = ledgerclear("day", *DAY, "--market", str(market))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    again = outcome(market)
    assert again["summary"]["conservation_ok"] is True
    assert again == uninterrupted  # same settlements, partials, fails, runs, reports: nothing settled twice


def test_rerun_of_a_finished_day_changes_nothing(uninterrupted: dict[str, Any], tmp_path: Path) -> None:
    market = tmp_path / "m"
    assert ledgerclear("day", *DAY, "--market", str(market)).returncode == 0
    blocks = Chain.connect(ChainConfig(chain_file=market / "chain.sqlite")).block_number
    again = ledgerclear("day", *DAY, "--market", str(market))
    assert again.returncode == 0, again.stdout + again.stderr
    assert outcome(market) == uninterrupted
    assert Chain.connect(ChainConfig(chain_file=market / "chain.sqlite")).block_number == blocks  # nothing sent


@pytest.mark.postgres
def test_killed_day_on_postgres_rerun_ends_as_uninterrupted(uninterrupted: dict[str, Any], tmp_path: Path) -> None:
    admin_url = os.environ.get("LEDGERCLEAR_TEST_PG_URL")
    if not admin_url:
        pytest.skip("LEDGERCLEAR_TEST_PG_URL is not set (CI sets it after starting PostgreSQL)")
    with scratch_database(admin_url) as url:
        market = tmp_path / "m"
        killed = crash("send:run 1:2", "day", *DAY, "--market", str(market), "--db", url)
        assert killed.returncode == -9, killed.stdout + killed.stderr
        rerun = ledgerclear("day", *DAY, "--market", str(market))  # the manifest names the database
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert not (market / "store.sqlite").exists()
        assert outcome(market) == uninterrupted


@pytest.mark.anvil
def test_killed_day_on_anvil_rerun_ends_as_uninterrupted(uninterrupted: dict[str, Any], tmp_path: Path) -> None:
    """On a JSON-RPC node the node is the durable chain; the store reconciles from it on the rerun."""
    if anvil_binary() is None:
        pytest.fail("Anvil is not installed: run `make install` (CI installs it)")
    chain_only = ("backend", "chain_id")
    with anvil_node() as url:
        market = tmp_path / "m"
        killed = crash("send:run 1:2", "day", *DAY, "--market", str(market), "--rpc", url)
        assert killed.returncode == -9, killed.stdout + killed.stderr
        rerun = ledgerclear("day", *DAY, "--market", str(market))
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    again = outcome(market)
    assert not (market / "chain.sqlite").exists() and again["summary"]["backend"] == "rpc"
    for key in chain_only:
        again["summary"].pop(key)
    expected = {"summary": {k: v for k, v in uninterrupted["summary"].items() if k not in chain_only},
                "reports": uninterrupted["reports"]}
    assert again == expected
