"""Fixtures for the risk-gate chain tests: one chain per module, snapshot-isolated tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chain_risk_testkit import GateWorld, build_gate_world


@pytest.fixture(scope="module")
def gate_world() -> GateWorld:
    """The module's chain with the contract set and a RiskGate. Tests use `gw` (snapshot-isolated)."""
    return build_gate_world()


@pytest.fixture
def gw(gate_world: GateWorld) -> Iterator[GateWorld]:
    snap = gate_world.take_snapshot()
    try:
        yield gate_world
    finally:
        gate_world.revert(snap)
