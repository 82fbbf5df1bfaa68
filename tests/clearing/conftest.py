"""Fixtures for the clearing tests: a small seeded market and a helper to build trade files."""

from __future__ import annotations

import pytest

from ledger.refdata import Market, generate_market


@pytest.fixture(scope="session")
def market() -> Market:
    return generate_market(n_participants=40, n_securities=60, seed=11)
