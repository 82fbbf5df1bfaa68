"""The same demo day against a real JSON-RPC node (Anvil from npm) gives the same figures as embedded."""

from __future__ import annotations

import pytest

from ledger.anvil import anvil_binary, anvil_node
from ledger.day import DayConfig as DemoConfig
from ledger.day import run_day as run_demo

pytestmark = pytest.mark.anvil

SIZES = {"trades": 1500, "participants": 15, "securities": 60, "seed": 11}


def test_demo_on_anvil_matches_embedded() -> None:
    if anvil_binary() is None:
        pytest.fail("Anvil is not installed: run `make install` (CI installs it)")
    with anvil_node() as url:
        on_node = run_demo(DemoConfig(rpc_url=url, **SIZES))  # type: ignore[arg-type]
    embedded = run_demo(DemoConfig(**SIZES))  # type: ignore[arg-type]

    s = on_node.summary
    assert s["backend"] == "rpc" and on_node.deployment["rpc_url"] == url
    assert s["chain_id"] == 31337
    assert s["conservation_ok"] is True
    assert s["settled"] > 0 and s["failed"] > 0
    assert s["settled"] + s["partial"] + s["pending"] + s["failed"] == s["obligations"]
    # Same seed, same contracts: the chain behind the code must not change the outcome.
    for key in ("trades", "obligations", "settled", "partial", "pending", "failed", "legs", "gas_used",
                "settled_value_cents", "fails_by_reason"):
        assert s[key] == embedded.summary[key], key
