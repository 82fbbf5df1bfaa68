"""Discrete expected shortfall: mean of the worst k scenario P&Ls."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

__all__ = ["tail_count", "worst_k_mean"]


def tail_count(confidence: float, count: int) -> int:
    """
    Number of tail scenarios, ``k = ceil((1 - CL) * count)``.

    Parameters
    ----------
    confidence : float
        Confidence level, e.g. 0.994.
    count : int
        Number of scenarios.

    Returns
    -------
    int
        k, at least 1.

    Notes
    -----
    The product is evaluated in decimal on the shortest repr of ``confidence``:
    in binary ``(1 - 0.994) * 1000`` is 6.000000000000005 and would give 7, not 6.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if count <= 0:
        raise ValueError(f"scenario count must be positive, got {count}")
    k = math.ceil((Decimal(1) - Decimal(repr(float(confidence)))) * count)
    return max(1, min(int(k), count))


def worst_k_mean(pnl: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """
    Mean of the k smallest values along the last axis (discrete ES, signed).

    Parameters
    ----------
    pnl : ndarray, shape (..., n_scenarios)
        Scenario P&L (losses negative).
    k : int
        Tail size, 1 <= k <= n_scenarios.

    Returns
    -------
    ndarray, shape (...)
        Mean of the worst k P&Ls; negative for a loss.
    """
    n = pnl.shape[-1]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    if k == n:
        return np.asarray(pnl.mean(axis=-1), dtype=np.float64)
    # partition is O(n); the k smallest land (unordered) in the first k slots.
    part = np.partition(pnl, k - 1, axis=-1)[..., :k]
    return np.asarray(part.sum(axis=-1) / k, dtype=np.float64)
