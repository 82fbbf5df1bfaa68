"""Marks and marginable positions from the ledger's unsettled obligations.

The risk engine does not import the ledger: it reads anything shaped like a settlement instruction
(:class:`InstructionLike` — ``ledger.store.InstructionRow`` is one) or like the CNS netting output
(:class:`CnsLike` — ``ledger.netting.CnsObligations`` is one).

Signs, from the participant's view (the method's conventions):

* receiver of ``quantity`` for ``amount_cents`` (positive = the receiver pays): quantity ``+q``,
  contract value ``+amount`` (a payable), market value ``+q × price``;
* deliverer: quantity ``-q``, contract value ``-amount`` (a receivable), market value ``-q × price``.

So MTM = MV − CV is the participant's gain on its open obligations at today's marks. Per participant
and instrument, quantities and cents are summed as integers (exact, order-free) and converted once —
``contract value = Σ cents × fx / 100`` per currency in sorted currency order, ``market value =
quantity × price`` — so anyone rebuilding the same positions gets bit-identical floats and therefore
the same position digest (:func:`risk.interface.positions_digest`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from risk.errors import PositionError, PositionFileError, RiskInputError
from risk.keyed_csv import read_keyed_amounts
from risk.positions import Portfolio
from risk.rpf import RiskParameterFile
from risk.synthetic_market import MarketHistory

__all__ = [
    "Marks",
    "InstructionLike",
    "CnsLike",
    "UNSETTLED_STATES",
    "marks_from_rpf",
    "marks_from_history",
    "read_marks",
    "instrument_id",
    "marginable_positions",
    "positions_from_cns",
]

#: Instruction states whose obligations are still open (``submitted``: outcome not yet recorded).
UNSETTLED_STATES: tuple[str, ...] = ("pending", "submitted", "failed")


def _positive(v: object) -> bool:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not isinstance(v, bool | str) and math.isfinite(x) and x > 0


@dataclass(frozen=True)
class Marks:
    """Prices (HKD per unit) per instrument and FX rates (HKD per unit of currency).

    Attributes
    ----------
    valuation_date : date
        Date of the marks.
    prices : mapping of str to float
        Instrument id -> HKD price; finite and positive.
    fx : mapping of str to float
        Currency -> HKD per unit (``HKD`` is 1); finite and positive.
    """

    valuation_date: date
    prices: Mapping[str, float]
    fx: Mapping[str, float] = field(default_factory=lambda: {"HKD": 1.0})

    def __post_init__(self) -> None:
        for k, v in self.prices.items():
            if not _positive(v):
                raise PositionError(f"mark for instrument {k} is {v!r}; expected a finite positive price",
                                    instrument=k)
        for k, v in self.fx.items():
            if not _positive(v):
                raise RiskInputError(f"FX rate for currency {k} is {v!r}; expected a finite positive rate")

    def price(self, instrument: str) -> float:
        """Price of ``instrument``; an unmarked instrument is an error, never zero."""
        try:
            return float(self.prices[instrument])
        except KeyError:
            raise PositionError(f"no mark for instrument {instrument}", instrument=instrument) from None

    def rate(self, currency: str) -> float:
        """HKD per unit of ``currency``; an unknown currency is an error."""
        try:
            return float(self.fx[currency])
        except KeyError:
            raise RiskInputError(f"no FX rate for currency {currency} (HKD per unit needed)") from None


def marks_from_rpf(rpf: RiskParameterFile, fx: Mapping[str, float] | None = None) -> Marks:
    """
    Marks from the parameter file: FieldType 4 col4 (stocks) and FieldType 5 col4 (structured products).

    Parameters
    ----------
    rpf : RiskParameterFile
    fx : mapping of str to float, optional
        FX rates; default HKD only.

    Returns
    -------
    Marks
    """
    prices: dict[str, float] = {k: lp.cash_delta for k, lp in rpf.liquidity.items()}
    for k, sp in rpf.structured_products.items():
        prices.setdefault(k, sp.cash_delta)
    return Marks(rpf.header.valuation_date, prices, dict(fx or {"HKD": 1.0}))


def marks_from_history(history: MarketHistory, fx: Mapping[str, float] | None = None) -> Marks:
    """
    Marks from the last close of a price history (e.g. the synthetic market).

    Parameters
    ----------
    history : MarketHistory
    fx : mapping of str to float, optional

    Returns
    -------
    Marks
    """
    last = history.closes[-1]
    return Marks(history.dates[-1], {i: float(p) for i, p in zip(history.instruments, last, strict=True)},
                 dict(fx or {"HKD": 1.0}))


def read_marks(path: str | Path, valuation_date: date, fx: Mapping[str, float] | None = None) -> Marks:
    """
    Read a marks CSV with columns ``InstrumentID,Price`` (HKD).

    Parameters
    ----------
    path : str or Path
    valuation_date : date
    fx : mapping of str to float, optional

    Returns
    -------
    Marks

    Raises
    ------
    PositionFileError
        Missing columns, duplicates, non-numeric or non-positive prices (row and column named).
    """
    prices = read_keyed_amounts(path, "InstrumentID", "Price", strictly_positive=True,
                                key_label="instrument", value_label="price")
    return Marks(valuation_date, prices, dict(fx or {"HKD": 1.0}))


class InstructionLike(Protocol):
    """A settlement instruction as the ledger stores it (``ledger.store.InstructionRow``)."""

    @property
    def deliverer(self) -> str: ...
    @property
    def receiver(self) -> str: ...
    @property
    def security_code(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def amount_cents(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def state(self) -> str: ...


class CnsLike(Protocol):
    """CNS rows against the CCP (``ledger.netting.CnsObligations``)."""

    @property
    def participant(self) -> NDArray[np.int32]: ...
    @property
    def security(self) -> NDArray[np.int32]: ...
    @property
    def net_qty(self) -> NDArray[np.int64]: ...
    @property
    def cash_cents(self) -> NDArray[np.int64]: ...
    @property
    def currency(self) -> NDArray[np.int32]: ...


def instrument_id(security_code: str) -> str:
    """The RPF instrument id of a stock code: leading zeros dropped (``00700`` -> ``700``)."""
    s = security_code.strip()
    return (s.lstrip("0") or s) if s.isdigit() else s


# (cp, instrument) -> [quantity, {currency: cents}]
_Acc = dict[tuple[str, str], tuple[list[int], dict[str, int]]]


def _add(acc: _Acc, cp: str, inst: str, qty: int, currency: str, cents: int) -> None:
    entry = acc.get((cp, inst))
    if entry is None:
        entry = ([0], defaultdict(int))
        acc[(cp, inst)] = entry
    entry[0][0] += qty
    entry[1][currency] += cents


def _portfolios(acc: _Acc, marks: Marks, cps: Iterable[str]) -> dict[str, Portfolio]:
    rows: dict[str, list[tuple[str, float, float, float]]] = {cp: [] for cp in cps}
    for (cp, inst) in sorted(acc):
        qty_box, cents = acc[(cp, inst)]
        qty = qty_box[0]
        if qty == 0 and not any(cents.values()):
            continue
        cv = 0.0
        for cur in sorted(cents):
            if cents[cur]:
                cv += cents[cur] * marks.rate(cur) / 100.0
        mv = float(qty) * marks.price(inst) if qty else 0.0
        rows.setdefault(cp, []).append((inst, float(qty), cv, mv))
    out: dict[str, Portfolio] = {}
    for cp in sorted(rows):
        r = rows[cp]
        out[cp] = Portfolio(
            tuple(x[0] for x in r),
            np.array([x[1] for x in r], dtype=np.float64),
            np.array([x[2] for x in r], dtype=np.float64),
            np.array([x[3] for x in r], dtype=np.float64),
        )
    return out


def marginable_positions(
    instructions: Iterable[InstructionLike],
    marks: Marks,
    *,
    states: Collection[str] = UNSETTLED_STATES,
    exclude: Collection[str] = (),
    participants: Iterable[str] = (),
    to_instrument: Callable[[str], str] = instrument_id,
) -> dict[str, Portfolio]:
    """
    Marginable positions per participant from open settlement instructions.

    Parameters
    ----------
    instructions : iterable of InstructionLike
        Instructions (any states; only ``states`` count).
    marks : Marks
        Prices and FX rates.
    states : collection of str
        Instruction states that are open obligations (default pending, submitted, failed).
    exclude : collection of str
        Participants not margined (the CCP, which faces every CNS obligation).
    participants : iterable of str
        Participants to include even without open obligations (they get an empty portfolio).
    to_instrument : callable
        Stock code -> RPF instrument id (default: leading zeros dropped).

    Returns
    -------
    dict of str to Portfolio
        Sorted by participant id; positions sorted by instrument.

    Raises
    ------
    PositionError
        An instrument without a mark (named), a negative quantity.
    RiskInputError
        A currency without an FX rate.
    """
    skip = set(exclude)
    acc: _Acc = {}
    for ins in instructions:
        if ins.state not in states:
            continue
        q = int(ins.quantity)
        if q < 0:
            raise PositionError(f"instruction quantity {q} is negative for {ins.security_code}")
        inst = to_instrument(ins.security_code)
        amount = int(ins.amount_cents)
        if ins.receiver not in skip:
            _add(acc, ins.receiver, inst, q, ins.currency, amount)
        if ins.deliverer not in skip:
            _add(acc, ins.deliverer, inst, -q, ins.currency, -amount)
    keep = [p for p in participants if p not in skip]
    return _portfolios(acc, marks, keep)


def positions_from_cns(
    cns: CnsLike,
    participant_ids: Sequence[str],
    security_codes: Sequence[str],
    currencies: Sequence[str],
    marks: Marks,
    *,
    exclude: Collection[str] = (),
    to_instrument: Callable[[str], str] = instrument_id,
) -> dict[str, Portfolio]:
    """
    Marginable positions per participant from CNS rows against the CCP.

    ``net_qty`` > 0 = receive (long), ``cash_cents`` > 0 = receive money (so contract value is
    ``-cash_cents / 100``, a receivable).

    Parameters
    ----------
    cns : CnsLike
        CNS obligations (e.g. ``net_cns(book).obligations``, or ``.for_date(d)``).
    participant_ids, security_codes, currencies : sequence of str
        Index -> id tables of the participant, security and currency columns.
    marks : Marks
    exclude : collection of str
        Participants not margined.
    to_instrument : callable
        Stock code -> instrument id.

    Returns
    -------
    dict of str to Portfolio
    """
    skip = set(exclude)
    acc: _Acc = {}
    for p, s, q, c, cur in zip(cns.participant.tolist(), cns.security.tolist(), cns.net_qty.tolist(),
                               cns.cash_cents.tolist(), cns.currency.tolist(), strict=True):
        cp = participant_ids[int(p)]
        if cp in skip:
            continue
        _add(acc, cp, to_instrument(security_codes[int(s)]), int(q), currencies[int(cur)], -int(c))
    return _portfolios(acc, marks, ())
