"""Fixtures for the risk tests."""

from __future__ import annotations

import pytest
from risk_testkit import HAND_HVAR, HAND_SVAR, make_rpf

from risk.rpf import RiskParameterFile


@pytest.fixture
def hand_rpf() -> RiskParameterFile:
    return make_rpf(HAND_HVAR, HAND_SVAR)
