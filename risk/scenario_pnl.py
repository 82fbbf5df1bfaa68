"""Scenario P&L of many sub-portfolios at once, exact (per-term rounding) or fast (BLAS).

A :class:`SubPortfolioBook` stores all sub-portfolios of all participants as one
sparse row structure (CSR-like): instrument rows into the scenario-return matrix,
market values and row offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["SubPortfolioBook", "pnl_exact", "pnl_fast", "fast_error_bound"]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, eq=False)
class SubPortfolioBook:
    """Sub-portfolios as a CSR structure.

    Attributes
    ----------
    instrument_rows : ndarray of intp, shape (nnz,)
        Row of each position in the scenario-return matrix.
    market_values : ndarray of float64, shape (nnz,)
        Market value of each position (HKD).
    offsets : ndarray of intp, shape (n_rows + 1,)
        Positions of sub-portfolio r are ``offsets[r]:offsets[r + 1]``.
    """

    instrument_rows: NDArray[np.intp]
    market_values: NDArray[np.float64]
    offsets: NDArray[np.intp]

    @property
    def n_rows(self) -> int:
        """Number of sub-portfolios."""
        return len(self.offsets) - 1

    @classmethod
    def from_rows(cls, rows: list[tuple[NDArray[np.intp], NDArray[np.float64]]]) -> SubPortfolioBook:
        """
        Build from a list of ``(instrument_rows, market_values)`` pairs.

        Parameters
        ----------
        rows : list of tuple
            One pair per sub-portfolio.

        Returns
        -------
        SubPortfolioBook
        """
        lengths = np.array([len(r[0]) for r in rows], dtype=np.intp)
        offsets = np.zeros(len(rows) + 1, dtype=np.intp)
        np.cumsum(lengths, out=offsets[1:])
        idx = np.concatenate([r[0] for r in rows]).astype(np.intp) if rows else np.zeros(0, np.intp)
        mv = np.concatenate([r[1] for r in rows]).astype(np.float64) if rows else np.zeros(0)
        return cls(idx, mv, offsets)

    def nonzero_counts(self) -> NDArray[np.intp]:
        """Number of positions with nonzero market value per sub-portfolio."""
        nz = (self.market_values != 0).astype(np.intp)
        c = np.concatenate([[0], np.cumsum(nz)])
        return np.asarray(c[self.offsets[1:]] - c[self.offsets[:-1]], dtype=np.intp)


def pnl_exact(
    returns: NDArray[np.float64], book: SubPortfolioBook, chunk_elements: int = 1 << 18
) -> NDArray[np.float64]:
    """
    Exact scenario P&L: ``sum_i round_half_away(mv_i * r_is)`` per sub-portfolio.

    Parameters
    ----------
    returns : ndarray, shape (n_instruments, n_scenarios)
        Scenario returns.
    book : SubPortfolioBook
        Sub-portfolios.
    chunk_elements : int
        Work-array size per chunk; 256K doubles (2 MB) stays in cache.

    Returns
    -------
    ndarray, shape (n_rows, n_scenarios)
        Integer-valued P&L (exact in float64 below 2**53 HKD).

    Notes
    -----
    Vectorised over positions and scenarios; the only Python loop is over chunks
    of whole sub-portfolios.
    """
    n_s = returns.shape[1]
    out = np.zeros((book.n_rows, n_s), dtype=np.float64)
    lengths = np.diff(book.offsets)
    rows_nonempty = np.flatnonzero(lengths > 0)
    per_chunk = max(1, chunk_elements // max(n_s, 1))
    i = 0
    while i < len(rows_nonempty):
        # Greedily take whole rows until the chunk is full (a big row gets its own chunk).
        start = book.offsets[rows_nonempty[i]]
        j = i + 1
        while j < len(rows_nonempty) and book.offsets[rows_nonempty[j] + 1] - start <= per_chunk:
            j += 1
        sel = rows_nonempty[i:j]
        stop = book.offsets[sel[-1] + 1]
        g = returns[book.instrument_rows[start:stop]]
        g *= book.market_values[start:stop, None]
        t = np.trunc(g)
        np.subtract(g, t, out=g)  # exact fractional part
        t += g >= 0.5
        t -= g <= -0.5
        seg = book.offsets[sel] - start
        out[sel] = np.add.reduceat(t, seg, axis=0)
        i = j
    return out


def pnl_fast(returns: NDArray[np.float64], book: SubPortfolioBook) -> NDArray[np.float64]:
    """
    Fast scenario P&L: one dense matrix product ``MV @ returns`` (BLAS) for all rows.

    Parameters
    ----------
    returns : ndarray, shape (n_instruments, n_scenarios)
        Scenario returns.
    book : SubPortfolioBook
        Sub-portfolios.

    Returns
    -------
    ndarray, shape (n_rows, n_scenarios)
        Unrounded P&L; see :func:`fast_error_bound` for the distance to exact.
    """
    cols, local = np.unique(book.instrument_rows, return_inverse=True)
    # Only instruments someone holds enter the product: for one CP this is a small
    # gather instead of streaming the whole return matrix through a matrix-vector product.
    r = returns if cols.size == returns.shape[0] else returns[cols]
    if cols.size == returns.shape[0]:
        local = book.instrument_rows
    m = np.zeros((book.n_rows, cols.size), dtype=np.float64)
    row_of = np.repeat(np.arange(book.n_rows), np.diff(book.offsets))
    # np.add.at would tolerate duplicates, but book rows never repeat an instrument.
    m[row_of, local] = book.market_values
    return np.asarray(m @ r, dtype=np.float64)


def fast_error_bound(returns_absmax: NDArray[np.float64], book: SubPortfolioBook) -> NDArray[np.float64]:
    """
    Per-row bound on ``|pnl_fast - pnl_exact|`` valid in every scenario.

    Parameters
    ----------
    returns_absmax : ndarray, shape (n_instruments,)
        ``max_s |r_is|`` per instrument.
    book : SubPortfolioBook
        Sub-portfolios.

    Returns
    -------
    ndarray, shape (n_rows,)
        ``0.5 * nnz`` (one half-unit of rounding per nonzero term) plus a
        floating-point summation term ``2 (n + 2) eps sum_i |mv_i| max|r_i|``.
    """
    nnz = book.nonzero_counts().astype(np.float64)
    scale = np.abs(book.market_values) * returns_absmax[book.instrument_rows]
    c = np.concatenate([[0.0], np.cumsum(scale)])
    mag = c[book.offsets[1:]] - c[book.offsets[:-1]]
    n = np.diff(book.offsets).astype(np.float64)
    return np.asarray(0.5 * nnz + 2.0 * (n + 2.0) * _EPS * mag, dtype=np.float64)


def exact_tail_means(
    returns: NDArray[np.float64],
    book: SubPortfolioBook,
    blocks: list[tuple[int, int, int]],
    fast: NDArray[np.float64] | None = None,
    bound: NDArray[np.float64] | None = None,
) -> list[NDArray[np.float64]]:
    """
    Exact discrete ES (mean of the worst k exact P&Ls) without the exact P&L of every scenario.

    Parameters
    ----------
    returns : ndarray, shape (n_instruments, n_scenarios)
        Scenario returns.
    book : SubPortfolioBook
        Sub-portfolios.
    blocks : list of (start, stop, k)
        Scenario column ranges (e.g. HVaR and SVaR) and their tail sizes.
    fast, bound : ndarray, optional
        :func:`pnl_fast` and :func:`fast_error_bound` results, if already computed.

    Returns
    -------
    list of ndarray, shape (n_rows,)
        Signed exact ES per block, identical to ``worst_k_mean(pnl_exact(...))``.

    Notes
    -----
    With ``|fast - exact| <= d`` in every scenario, the k-th smallest exact P&L is at
    most ``f_k + d`` (``f_k`` the k-th smallest fast P&L), so every scenario in the exact
    tail has ``fast <= f_k + 2 d``. Only those candidates (typically a few dozen of
    thousands) are evaluated with per-term rounding; the result is exact, not approximate.
    """
    if fast is None:
        fast = pnl_fast(returns, book)
    if bound is None:
        bound = fast_error_bound(np.abs(returns).max(axis=1) if returns.shape[0] else np.zeros(0), book)
    out = [np.zeros(book.n_rows) for _ in blocks]
    offs = book.offsets
    for r in range(book.n_rows):
        a, b = int(offs[r]), int(offs[r + 1])
        if a == b:
            continue
        idx = book.instrument_rows[a:b]
        mv = book.market_values[a:b, None]
        for j, (start, stop, k) in enumerate(blocks):
            f = fast[r, start:stop]
            kth = np.partition(f, k - 1)[k - 1]
            # +1 HKD of slack on top of the rigorous 2d guards the comparison's own rounding.
            cand = np.flatnonzero(f <= kth + 2.0 * bound[r] + 1.0) + start
            terms = returns[idx[:, None], cand[None, :]] * mv
            t = np.trunc(terms)
            frac = terms - t
            t += frac >= 0.5
            t -= frac <= -0.5
            exact = t.sum(axis=0)
            worst = np.partition(exact, k - 1)[:k] if k < exact.size else exact
            out[j][r] = worst.sum() / k
    return out
