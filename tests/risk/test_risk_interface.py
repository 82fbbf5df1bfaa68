from __future__ import annotations

import hashlib

import numpy as np
import pytest
from risk_testkit import HAND_HVAR, HAND_SVAR, make_rpf, params, pf

from risk.errors import PositionError
from risk.interface import margin_snapshots, positions_digest, rpf_digest
from risk.positions import Portfolio
from risk.rpf import format_rpf


def test_snapshots_eligibility_and_digests() -> None:
    rpf = make_rpf(HAND_HVAR, HAND_SVAR)
    ports = {"B1": pf(("A", 10.0, 990.0, 1000.0), ("B", -4.0, -410.0, -400.0))}
    snap = margin_snapshots(rpf, ports, params(), {"B1": 9980.0})["B1"]
    assert snap.requirement == 9980 and snap.eligible  # hand case: 10000 - 20 favourable MTM
    assert not margin_snapshots(rpf, ports, params(), {"B1": 9979.99})["B1"].eligible
    assert snap.rpf_sha256 == hashlib.sha256(format_rpf(rpf).encode()).hexdigest() == rpf_digest(rpf)
    # Order of positions does not change the digest; a changed quantity does.
    p = ports["B1"]
    rev = Portfolio(p.instruments[::-1], p.quantity[::-1], p.contract_value[::-1], p.market_value[::-1])
    assert positions_digest(rev) == snap.positions_sha256
    changed = Portfolio(p.instruments, p.quantity + np.array([1.0, 0.0]), p.contract_value, p.market_value)
    assert positions_digest(changed) != snap.positions_sha256
    with pytest.raises(PositionError, match="B1"):
        margin_snapshots(rpf, ports, params(), {})
