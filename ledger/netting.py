"""Novation to the CCP and continuous net settlement (CNS), fully vectorised.

Novation: every exchange trade (buyer B, seller S, quantity q, value v) is replaced by two trades
facing the CCP — the CCP sells q to B for v, and buys q from S for v. The CCP is then flat in every
security and every currency by construction, which is what lets it net.

CNS: the legs are summed per (settlement date, participant, security):

* ``net_qty``   shares; **> 0 the participant receives from the CCP, < 0 it delivers to the CCP**;
* ``cash_cents`` money attached to that stock position (the net value of the participant's trades
  in that security); **> 0 the participant receives money from the CCP, < 0 it pays**.

So a net buyer normally has ``net_qty > 0, cash_cents < 0`` (receive stock, pay cash) and a net
seller ``net_qty < 0, cash_cents > 0``; but prices differ between trades, so both signs can agree
(bought 200 @ 1, sold 100 @ 5 -> receive 100 shares *and* receive 300). Settlement must accept
any sign combination. Each row can settle as one DvP against the CCP for its own cash amount.

Rows where both ``net_qty`` and ``cash_cents`` are zero are dropped. Rows with ``net_qty == 0`` and
``cash_cents != 0`` are kept (``CnsObligations.money_only``): the participant bought and sold the
same quantity at different prices and only money moves. Keeping them makes money exact:
``MoneyPositions`` (per date, participant, currency) is the sum of ``cash_cents`` of the rows.

Ordering is deterministic: (settle_date, participant index, security index) ascending for
obligations, (settle_date, participant, currency) for money — so one settlement date is a
contiguous slice (see :meth:`CnsObligations.for_date`).

Conservation (checked by :func:`check_conservation`): per (security, date) the ``net_qty`` and the
``cash_cents`` sum to zero over participants, hence per (currency, date) money sums to zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from ledger.refdata import CURRENCIES, DateLike, Market, as_day
from ledger.store import NewInstruction
from ledger.trade_capture import TradeBook

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Days = npt.NDArray[np.datetime64]

# Dense accumulation allocates one int64 bin per possible (date, participant, security) key; use it
# while that space is at most this many bins or a few times the number of legs, else sort.
_DENSE_MIN_BINS: Final = 1 << 23
_DENSE_PER_LEG: Final = 2


class NettingInvariantError(AssertionError):
    """A conservation law of CNS does not hold (a bug, never a data problem)."""


def _frozen_arrays(obj: object, names: tuple[str, ...]) -> int:
    n = -1
    for name in names:
        a = getattr(obj, name)
        if not isinstance(a, np.ndarray) or a.ndim != 1:
            raise TypeError(f"{type(obj).__name__}.{name} must be a 1-D numpy array")
        if n >= 0 and len(a) != n:
            raise ValueError(f"{type(obj).__name__}: columns differ in length")
        n = len(a)
        # Boundary objects are immutable (read-only views), so consumers can share them safely.
        v = a.view()
        v.setflags(write=False)
        object.__setattr__(obj, name, v)
    return max(n, 0)


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class NovatedTrades:
    """The two CCP-facing legs of every trade; leg ``2*i`` is the buyer's, ``2*i + 1`` the seller's.

    Signs follow the participant's view against the CCP (see module docstring).
    """

    ccp: int  # participant index of the CCP (the counterparty of every leg)
    trade_row: I64  # row of the originating trade in the TradeBook
    participant: I32
    security: I32
    settle_date: Days
    qty: I64  # + receive shares from the CCP, - deliver
    cash_cents: I64  # + receive money from the CCP, - pay
    currency: I32

    def __post_init__(self) -> None:
        _frozen_arrays(self, ("trade_row", "participant", "security", "settle_date", "qty",
                              "cash_cents", "currency"))

    def __len__(self) -> int:
        return len(self.trade_row)


def novate(book: TradeBook, ccp: int) -> NovatedTrades:
    """Replace each trade by its two legs against the CCP (interleaved buyer, seller)."""
    if np.any(book.buyer == ccp) or np.any(book.seller == ccp):
        raise ValueError("the CCP cannot be a party to an exchange trade it novates")
    n = len(book)

    def pair(b: npt.NDArray[np.generic], s: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        out = np.empty(2 * n, dtype=b.dtype)
        out[0::2] = b
        out[1::2] = s
        return out

    return NovatedTrades(
        ccp=ccp,
        trade_row=np.repeat(np.arange(n, dtype=np.int64), 2),
        participant=pair(book.buyer, book.seller).astype(np.int32),
        security=np.repeat(book.security, 2),
        settle_date=np.repeat(book.settle_date, 2),
        qty=pair(book.quantity, -book.quantity).astype(np.int64),
        cash_cents=pair(-book.value_cents, book.value_cents).astype(np.int64),
        currency=np.repeat(book.currency, 2),
    )


@dataclass(frozen=True, eq=False)
class CnsObligations:
    """Net stock obligations against the CCP, one row per (settle_date, participant, security).

    Sorted by (settle_date, participant, security). ``currency`` is the security's currency, the
    currency of ``cash_cents``.
    """

    participant: I32
    security: I32
    settle_date: Days
    net_qty: I64  # + receive from CCP, - deliver to CCP
    cash_cents: I64  # + receive from CCP, - pay to CCP
    currency: I32

    def __post_init__(self) -> None:
        _frozen_arrays(self, ("participant", "security", "settle_date", "net_qty", "cash_cents",
                              "currency"))

    def __len__(self) -> int:
        return len(self.participant)

    @property
    def money_only(self) -> npt.NDArray[np.bool_]:
        """Rows with no stock to move (net_qty == 0) but money to pay/receive."""
        return np.asarray(self.net_qty == 0, dtype=np.bool_)

    def take(self, rows: npt.ArrayLike) -> CnsObligations:
        r = np.asarray(rows)
        return CnsObligations(self.participant[r], self.security[r], self.settle_date[r],
                              self.net_qty[r], self.cash_cents[r], self.currency[r])

    def for_date(self, date: DateLike) -> CnsObligations:
        """Rows settling on ``date`` (a contiguous slice thanks to date-major ordering)."""
        d = as_day(date)
        lo = int(np.searchsorted(self.settle_date, d, side="left"))
        hi = int(np.searchsorted(self.settle_date, d, side="right"))
        return self.take(np.arange(lo, hi))


@dataclass(frozen=True, eq=False)
class MoneyPositions:
    """Net money per (settle_date, participant, currency) against the CCP; zero rows dropped.

    ``net_cents`` > 0: the participant receives from the CCP; < 0: it pays.
    """

    participant: I32
    currency: I32  # index into ledger.refdata.CURRENCIES
    settle_date: Days
    net_cents: I64

    def __post_init__(self) -> None:
        _frozen_arrays(self, ("participant", "currency", "settle_date", "net_cents"))

    def __len__(self) -> int:
        return len(self.participant)


@dataclass(frozen=True, eq=False)
class CnsResult:
    obligations: CnsObligations
    money: MoneyPositions


def _group_sum(keys: I64, values: tuple[I64, ...], n_bins: int,
               method: Literal["auto", "dense", "sort"]) -> tuple[I64, tuple[I64, ...]]:
    """Sum each value array per key. Returns (sorted distinct keys, sums) — exact int64."""
    dense = method == "dense" or (
        method == "auto" and n_bins <= max(_DENSE_MIN_BINS, _DENSE_PER_LEG * len(keys))
    )
    if dense:
        # np.add.at is unbuffered, so repeated keys accumulate; in int64 it is exact (unlike
        # bincount, which sums in float64). Cost is O(legs + bins), no sort.
        sums = []
        hit = np.zeros(n_bins, dtype=np.bool_)
        hit[keys] = True
        for v in values:
            acc = np.zeros(n_bins, dtype=np.int64)
            np.add.at(acc, keys, v)
            sums.append(acc)
        uk = np.flatnonzero(hit).astype(np.int64)
        return uk, tuple(s[uk] for s in sums)
    if not len(keys):
        return keys.astype(np.int64), tuple(np.zeros(0, dtype=np.int64) for _ in values)
    # Sort once, then each run of equal keys is one group: reduceat sums the runs (exact int64).
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], ks[1:] != ks[:-1]]))
    return ks[starts], tuple(np.add.reduceat(v[order], starts).astype(np.int64) for v in values)


def _empty_result() -> CnsResult:
    e32 = np.zeros(0, dtype=np.int32)
    e64 = np.zeros(0, dtype=np.int64)
    ed = np.zeros(0, dtype="datetime64[D]")
    return CnsResult(
        CnsObligations(e32, e32.copy(), ed, e64, e64.copy(), e32.copy()),
        MoneyPositions(e32.copy(), e32.copy(), ed.copy(), e64.copy()),
    )


def net_cns(
    book: TradeBook,
    *,
    ccp: int | None = None,
    method: Literal["auto", "dense", "sort"] = "auto",
) -> CnsResult:
    """Novate and net a trade book into CNS stock obligations and money positions.

    Works directly on the trade columns (the two legs of a trade share security and date), so the
    2n-leg novation arrays are never materialised. ``method`` picks the accumulation strategy and
    never changes the result: "dense" adds into one bin per possible (date, participant,
    security) key — O(trades + bins), only sensible while that key space is small; "sort" sorts
    the keys — O(n log n), any key space; "auto" picks dense when the key space is at most
    max(8.4 M, 2 x legs) bins. Pass ``ccp`` (its participant index) to have the book checked
    for trades the CCP is itself party to.
    """
    n = len(book)
    if n == 0:
        return _empty_result()
    if ccp is not None and (np.any(book.buyer == ccp) or np.any(book.seller == ccp)):
        raise ValueError("the CCP cannot be a party to an exchange trade it novates")
    sec_cur = np.full(int(book.security.max()) + 1, -1, dtype=np.int32)
    sec_cur[book.security] = book.currency
    if np.any(sec_cur[book.security] != book.currency):
        raise ValueError("a security appears with more than one currency in the book")

    day = book.settle_date.astype("datetime64[D]").view(np.int64)
    d0 = int(day.min())
    n_days = int(day.max()) - d0 + 1
    n_part = int(max(book.buyer.max(), book.seller.max())) + 1
    n_sec = len(sec_cur)
    n_bins = n_days * n_part * n_sec
    if n_bins >= 2**62:
        raise ValueError("key space too large")

    # One int64 key per (date, participant, security), date-major so the sorted/dense key order
    # is exactly the documented output order.
    base = (day - d0) * n_part
    kb = (base + book.buyer) * n_sec + book.security
    ks = (base + book.seller) * n_sec + book.security
    keys = np.concatenate([kb, ks])
    q = book.quantity
    v = book.value_cents
    qty = np.concatenate([q, -q])  # buyer receives, seller delivers
    cash = np.concatenate([-v, v])  # buyer pays, seller receives
    del kb, ks
    uk, (net_q, net_c) = _group_sum(keys, (qty, cash), n_bins, method)
    del keys, qty, cash

    keep = (net_q != 0) | (net_c != 0)
    uk, net_q, net_c = uk[keep], net_q[keep], net_c[keep]
    sec = (uk % n_sec).astype(np.int32)
    rest = uk // n_sec
    part = (rest % n_part).astype(np.int32)
    dd = rest // n_part
    obligations = CnsObligations(
        participant=part,
        security=sec,
        settle_date=(dd + d0).astype("datetime64[D]"),
        net_qty=net_q,
        cash_cents=net_c,
        currency=sec_cur[sec],
    )

    # Money: re-aggregate the (already small) obligation rows per (date, participant, currency).
    n_cur = len(CURRENCIES)
    mkey = (dd * n_part + part) * n_cur + obligations.currency
    mk, (mc,) = _group_sum(mkey.astype(np.int64), (net_c,), n_days * n_part * n_cur, "sort")
    nz = mc != 0
    mk, mc = mk[nz], mc[nz]
    money = MoneyPositions(
        participant=((mk // n_cur) % n_part).astype(np.int32),
        currency=(mk % n_cur).astype(np.int32),
        settle_date=(mk // n_cur // n_part + d0).astype("datetime64[D]"),
        net_cents=mc,
    )
    return CnsResult(obligations, money)


def check_conservation(result: CnsResult) -> None:
    """Raise :class:`NettingInvariantError` unless the CCP nets flat.

    * per (security, date): sum of net_qty == 0 and sum of cash_cents == 0;
    * per (currency, date): sum of money == 0;
    * money positions equal the obligations' cash summed per (date, participant, currency).
    """
    ob, mo = result.obligations, result.money
    if len(ob) == 0:
        if len(mo):
            raise NettingInvariantError("money without obligations")
        return
    day = ob.settle_date.view(np.int64)
    d0 = int(day.min())
    n_sec = int(ob.security.max()) + 1
    n_part = int(max(ob.participant.max(), mo.participant.max() if len(mo) else 0)) + 1
    sk = (day - d0) * n_sec + ob.security
    _, (sq, sc) = _group_sum(sk, (ob.net_qty, ob.cash_cents), 0, "sort")
    if np.any(sq != 0):
        raise NettingInvariantError("net quantities do not sum to zero per security and date")
    if np.any(sc != 0):
        raise NettingInvariantError("cash does not sum to zero per security and date")
    if len(mo):
        mday = mo.settle_date.view(np.int64)
        if int(mday.min()) < d0:
            raise NettingInvariantError("money on a date without obligations")
        _, (cs,) = _group_sum((mday - d0) * len(CURRENCIES) + mo.currency, (mo.net_cents,), 0,
                              "sort")
        if np.any(cs != 0):
            raise NettingInvariantError("money does not sum to zero per currency and date")
    n_cur = len(CURRENCIES)
    ok_, (oc,) = _group_sum(((day - d0) * n_part + ob.participant) * n_cur + ob.currency,
                            (ob.cash_cents,), 0, "sort")
    ok_, oc = ok_[oc != 0], oc[oc != 0]
    mk = ((mo.settle_date.view(np.int64) - d0) * n_part + mo.participant) * n_cur + mo.currency
    if not (np.array_equal(ok_, mk.astype(np.int64)) and np.array_equal(oc, mo.net_cents)):
        raise NettingInvariantError("money positions differ from the obligations' cash")


def cns_instructions(market: Market, cns: CnsObligations, first_id: int) -> list[NewInstruction]:
    """CNS positions as DvP instructions against the CCP, ids from `first_id`.

    Deliveries into the CCP come first (priority 0) so the CCP holds the stock it then delivers out
    (priority 1). Partial delivery is allowed in board lots, as in CNS.
    """
    ccp = market.participants[market.ccp_index].id
    out: list[NewInstruction] = []
    for k in range(len(cns.net_qty)):
        p = market.participants[int(cns.participant[k])].id
        sec = market.securities[int(cns.security[k])]
        q = int(cns.net_qty[k])
        c = int(cns.cash_cents[k])
        if q < 0 or (q == 0 and c < 0):
            deliverer, receiver, amount, priority = p, ccp, c, 0  # the participant delivers (or pays)
        else:
            deliverer, receiver, amount, priority = ccp, p, -c, 1
        if q == 0:
            # money only: the payer is the "deliverer" of nothing; amount > 0 means the receiver pays
            deliverer, receiver, amount = (ccp, p, -c) if c < 0 else (p, ccp, c)
            priority = 0 if c < 0 else 1
        out.append(NewInstruction(
            id=first_id + k, source="CNS", settle_date=str(cns.settle_date[k]), deliverer=deliverer,
            receiver=receiver, security_code=sec.stock_code, quantity=abs(q), currency=CURRENCIES[int(cns.currency[k])],
            amount_cents=amount, min_partial=sec.board_lot if q != 0 else 0, priority=priority,
        ))
    return out
