from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.rounding import round_half_away, round_half_away_array, round_up_to


def ref_round(x: float) -> int:
    # Decimal(x) is the exact binary value; ROUND_HALF_UP rounds ties away from zero.
    return int(Decimal(x).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(
    "x, expected",
    [(0.5, 1), (-0.5, -1), (1.5, 2), (2.5, 3), (-2.5, -3), (-20.5, -21), (0.49999999999999994, 0),
     (-0.49999999999999994, 0), (1e15 + 0.5, 10**15 + 1), (0.0, 0), (-0.0, 0), (3.4999, 3)],
)
def test_half_away_from_zero(x: float, expected: int) -> None:
    assert round_half_away(x) == expected
    assert round_half_away_array(np.array([x]))[0] == expected


def test_differs_from_bankers_rounding() -> None:
    # Python's round is half-to-even: the engine must not be.
    assert round(2.5) == 2 and round_half_away(2.5) == 3


def test_non_finite_rejected() -> None:
    with pytest.raises(ValueError):
        round_half_away(math.nan)


@given(st.lists(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False) |
                st.integers(-10**6, 10**6).map(lambda i: i + 0.5), min_size=1, max_size=50))
def test_array_matches_decimal_reference(xs: list[float]) -> None:
    got = round_half_away_array(np.array(xs, dtype=np.float64))
    assert [int(v) for v in got] == [ref_round(x) for x in xs]


@pytest.mark.parametrize(
    "amount, expected",
    [(0, 0), (1, 10000), (9999, 10000), (10000, 10000), (10001, 20000), (20000, 20000), (-1, 0), (-10000, -10000)],
)
def test_round_up_to_multiple(amount: int, expected: int) -> None:
    assert round_up_to(amount, 10000) == expected


def test_round_up_rejects_bad_multiple() -> None:
    with pytest.raises(ValueError):
        round_up_to(5, 0)
