"""Rounding rules of the margin method.

HKSCC rounds to the nearest integer with halves away from zero. Python's
``round`` and ``numpy.round`` round halves to even, so they must not be used.
"""

from __future__ import annotations

import math
import numpy as np
from numpy.typing import NDArray

def round_half_away(x: float) -> int:
    """
    Round a scalar to the nearest integer, halves away from zero.

    Parameters
    ----------
    x : float
        Finite value.

    Returns
    -------
    int
        Rounded value.

    Notes
    -----
    ``x - trunc(x)`` is exact in binary floating point, so the comparison with
    0.5 decides ties correctly (``floor(x + 0.5)`` fails for 0.49999999999999994).
    """
    if not math.isfinite(x):
        raise ValueError(f"cannot round non-finite value {x!r}")
    t = math.trunc(x)
    frac = x - t
    if frac >= 0.5:
        return t + 1
    if frac <= -0.5:
        return t - 1
    return t


def round_half_away_array(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """
    Element-wise half-away-from-zero rounding.

    Parameters
    ----------
    x : ndarray
        Float array.

    Returns
    -------
    ndarray
        Integer-valued float array of the same shape.
    """
    t = np.trunc(x)
    frac = x - t
    t += frac >= 0.5
    t -= frac <= -0.5
    return t


def sum_rounded_rows(x: NDArray[np.float64], axis: int = 0) -> NDArray[np.float64]:
    """
    Sum of half-away-rounded values along ``axis`` without keeping the rounded array.

    Parameters
    ----------
    x : ndarray
        Float array; it is overwritten (used as scratch space).
    axis : int
        Axis to sum over.

    Returns
    -------
    ndarray
        Exact integer sums (as float64; exact while below 2**53).
    """
    t = np.trunc(x)
    np.subtract(x, t, out=x)  # x now holds the exact fractional part
    total = t.sum(axis=axis)
    total += (x >= 0.5).sum(axis=axis)
    total -= (x <= -0.5).sum(axis=axis)
    return np.asarray(total, dtype=np.float64)


def round_up_to(amount: int, multiple: int) -> int:
    """
    Round an integer amount up to the next multiple (unchanged when already a multiple).

    Parameters
    ----------
    amount : int
        Amount in HKD.
    multiple : int
        Positive rounding unit (``Rounding`` in the RPF header, e.g. 10000).

    Returns
    -------
    int
        Smallest multiple of ``multiple`` that is >= ``amount``.
    """
    if multiple <= 0:
        raise ValueError(f"rounding multiple must be positive, got {multiple}")
    return -(-amount // multiple) * multiple
