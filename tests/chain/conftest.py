"""Fixtures for the chain-core tests.

One embedded chain is deployed per test session and set up with a small market (chain_testkit.World):
six participants, three listed securities, opening holdings and cash. Every test runs inside a chain
snapshot that is reverted afterwards (`world` fixture), so tests are isolated without redeploying.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chain_testkit import World, build_world, readable

from ledger.errors import ChainError


@pytest.fixture(scope="session")
def base_world() -> World:
    """The session's chain, deployed and set up once. Tests must use `world` (snapshot-isolated)."""
    return build_world()


@pytest.fixture
def world(base_world: World) -> Iterator[World]:
    """The market, reverted to its opening state after the test."""
    snap = base_world.take_snapshot()
    try:
        yield base_world
    finally:
        base_world.revert(snap)


@pytest.fixture
def expect_revert(world: World) -> Callable[..., ChainError]:
    """`expect_revert(name, fn, *args)` -> the ChainError, after checking its decoded name, that the message is
    readable (no raw revert data), and that nothing moved: every securities and cash balance of every holder
    is as it was."""

    def check(name: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> ChainError:
        before = world.snapshot_all()
        with pytest.raises(ChainError) as info:
            call(*args, **kwargs)
        err = info.value
        assert err.name == name, f"expected {name}, got {err.name}: {err}"
        assert readable(err), str(err)
        assert world.snapshot_all() == before, "a failed call moved balances"
        return err

    return check
