"""Marginable positions of one clearing participant.

A :class:`Portfolio` is a set of net positions, one per instrument, in HKD. Sign
conventions follow the spec: negative quantity = deliver, negative contract value =
receivable, market value has the sign of the quantity.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from risk.errors import PositionError, PositionFileError

__all__ = ["Position", "Portfolio", "read_positions", "POSITION_COLUMNS"]

POSITION_COLUMNS = ("InstrumentID", "Quantity", "ContractValue", "MarketValue")


@dataclass(frozen=True)
class Position:
    """One net position.

    Attributes
    ----------
    instrument : str
        Instrument id (``700``) or entitlement id (``DIV1299``).
    quantity : float
        Signed quantity (negative = deliver).
    contract_value : float
        Contract value in HKD (negative = receivable).
    market_value : float
        Market value in HKD (sign of quantity).
    """

    instrument: str
    quantity: float
    contract_value: float
    market_value: float


@dataclass(frozen=True, eq=False)
class Portfolio:
    """Positions of one participant as parallel arrays.

    Attributes
    ----------
    instruments : tuple of str
        Distinct instrument ids.
    quantity, contract_value, market_value : ndarray
        One entry per instrument.
    """

    instruments: tuple[str, ...]
    quantity: NDArray[np.float64]
    contract_value: NDArray[np.float64]
    market_value: NDArray[np.float64]

    def __post_init__(self) -> None:
        n = len(self.instruments)
        for name in ("quantity", "contract_value", "market_value"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise PositionError(f"{name} has shape {arr.shape}, expected ({n},)")
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                inst = self.instruments[bad[0]]
                raise PositionError(f"non-finite {name} {arr[bad[0]]!r} for instrument {inst}", instrument=inst)
            object.__setattr__(self, name, arr)
        if len(self.index) != n:
            seen: set[str] = set()
            for inst in self.instruments:
                if inst in seen:
                    raise PositionError(f"duplicate position for instrument {inst}", instrument=inst)
                seen.add(inst)

    @classmethod
    def from_positions(cls, positions: Iterable[Position]) -> Portfolio:
        """
        Build from :class:`Position` records (duplicates rejected).

        Parameters
        ----------
        positions : iterable of Position
            Net positions.

        Returns
        -------
        Portfolio
        """
        ps = list(positions)
        return cls(
            tuple(p.instrument for p in ps),
            np.array([p.quantity for p in ps], dtype=np.float64),
            np.array([p.contract_value for p in ps], dtype=np.float64),
            np.array([p.market_value for p in ps], dtype=np.float64),
        )

    @classmethod
    def empty(cls) -> Portfolio:
        """A portfolio without positions."""
        z = np.zeros(0)
        return cls((), z, z.copy(), z.copy())

    def __len__(self) -> int:
        return len(self.instruments)

    def positions(self) -> list[Position]:
        """Positions as records."""
        return [
            Position(i, float(q), float(c), float(m))
            for i, q, c, m in zip(self.instruments, self.quantity, self.contract_value, self.market_value)
        ]

    def combined(self, trades: Iterable[Position]) -> Portfolio:
        """
        Add hypothetical trades, netting into existing positions.

        Parameters
        ----------
        trades : iterable of Position
            Trades; quantity, contract value and market value are added.

        Returns
        -------
        Portfolio
            New portfolio; new instruments are appended, zero positions kept (they margin to zero).
        """
        ids = list(self.instruments)
        pos = self.index
        qty, cv, mv = self.quantity.copy(), self.contract_value.copy(), self.market_value.copy()
        add_ids: list[str] = []
        add: dict[str, list[float]] = {}
        for t in trades:
            for v, name in ((t.quantity, "quantity"), (t.contract_value, "contract value"),
                            (t.market_value, "market value")):
                if not math.isfinite(v):
                    raise PositionError(f"non-finite {name} {v!r} in trade for instrument {t.instrument}")
            j = pos.get(t.instrument)
            if j is not None:
                qty[j] += t.quantity
                cv[j] += t.contract_value
                mv[j] += t.market_value
            else:
                if t.instrument not in add:
                    add_ids.append(t.instrument)
                    add[t.instrument] = [0.0, 0.0, 0.0]
                a = add[t.instrument]
                a[0] += t.quantity
                a[1] += t.contract_value
                a[2] += t.market_value
        if add_ids:
            ids.extend(add_ids)
            qty = np.concatenate([qty, [add[i][0] for i in add_ids]])
            cv = np.concatenate([cv, [add[i][1] for i in add_ids]])
            mv = np.concatenate([mv, [add[i][2] for i in add_ids]])
        return Portfolio(tuple(ids), qty, cv, mv)

    @cached_property
    def index(self) -> dict[str, int]:
        """Position of each instrument in the arrays."""
        return {k: i for i, k in enumerate(self.instruments)}

    def as_dict(self) -> Mapping[str, Position]:
        """Positions keyed by instrument."""
        return {p.instrument: p for p in self.positions()}


def read_positions(path: str | Path) -> Portfolio:
    """
    Read a positions CSV with columns ``InstrumentID,Quantity,ContractValue,MarketValue``.

    Parameters
    ----------
    path : str or Path
        CSV file with a header row.

    Returns
    -------
    Portfolio

    Raises
    ------
    PositionFileError
        Missing columns, non-numeric or non-finite values, duplicate instruments.
    """
    src = str(path)
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise PositionFileError("empty file", row=1, column=1, expected=",".join(POSITION_COLUMNS), source=src)
        header = [h.strip() for h in header]
        cols: dict[str, int] = {}
        for name in POSITION_COLUMNS:
            if name not in header:
                raise PositionFileError(f"missing column {name}", row=1, column=len(header) + 1,
                                        expected=",".join(POSITION_COLUMNS), source=src)
            cols[name] = header.index(name)
        unknown = [h for h in header if h not in POSITION_COLUMNS]
        if unknown:
            raise PositionFileError(f"unknown column {unknown[0]}", row=1, column=header.index(unknown[0]) + 1,
                                    expected=",".join(POSITION_COLUMNS), source=src)
        recs: list[Position] = []
        first: dict[str, int] = {}
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise PositionFileError(f"row has {len(cells)} values", row=line, column=min(len(cells), len(header)) + 1,
                                        expected=f"{len(header)} values", source=src)
            inst = cells[cols["InstrumentID"]].strip()
            if not inst:
                raise PositionFileError("empty InstrumentID", row=line, column=cols["InstrumentID"] + 1,
                                        expected="an instrument id", source=src)
            if inst in first:
                raise PositionFileError(f"duplicate instrument {inst}", row=line, column=cols["InstrumentID"] + 1,
                                        expected=f"one row per instrument (first at row {first[inst]})", source=src)
            first[inst] = line
            vals: list[float] = []
            for name in POSITION_COLUMNS[1:]:
                c = cols[name]
                text = cells[c].strip()
                try:
                    v = float(text)
                except ValueError:
                    raise PositionFileError(f"non-numeric {name} {text!r}", row=line, column=c + 1,
                                            expected="a finite number", source=src) from None
                if not math.isfinite(v) or "_" in text:
                    raise PositionFileError(f"invalid {name} {text!r}", row=line, column=c + 1,
                                            expected="a finite number", source=src)
                vals.append(v)
            recs.append(Position(inst, *vals))
    return Portfolio.from_positions(recs)
