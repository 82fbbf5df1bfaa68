from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.expected_shortfall import tail_count, worst_k_mean


def test_hkscc_tail_counts() -> None:
    assert tail_count(0.994, 1000) == 6  # (1-0.994)*1000 is 6.000000000000005 in binary
    assert tail_count(0.98, 1018) == 21  # 20.36 -> 21
    assert tail_count(0.99, 250) == 3  # 2.5 -> 3
    assert tail_count(0.99, 100) == 1


def test_naive_float_ceil_would_be_wrong() -> None:
    import math

    assert math.ceil((1 - 0.994) * 1000) == 7  # the trap tail_count avoids


def test_bad_confidence() -> None:
    with pytest.raises(ValueError):
        tail_count(1.0, 100)


def test_worst_k_mean_hand() -> None:
    pnl = np.array([[5.0, -1.0, -10.0, 3.0, -4.0]])
    assert worst_k_mean(pnl, 2)[0] == -7.0
    assert worst_k_mean(pnl, 5)[0] == pytest.approx(-7.0 / 5)


@given(st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=200), st.data())
def test_worst_k_mean_matches_sort(values: list[int], data: st.DataObject) -> None:
    k = data.draw(st.integers(1, len(values)))
    expected = sum(sorted(values)[:k]) / k
    assert worst_k_mean(np.array([values], dtype=float), k)[0] == pytest.approx(expected, rel=1e-12, abs=1e-9)
