"""Day-end reports as CSV files, in a documented, machine-readable layout (also in docs/reports.md).

Every file: UTF-8, comma-separated, ``\\n`` line ends, one header row, no quoting needed (fields never
contain commas). Dates are ISO 8601 (``YYYY-MM-DD``). Money appears twice: ``*_cents`` as an integer
number of cents (exact, for machines) and the same value as a decimal with two places and a ``.``
separator (``1234.50``, ``-0.05``) for people and spreadsheets. Rows are in a fixed order (given per
file), so the same inputs always give byte-identical files. Every file starts with
``business_date``, the day the report is for.

Inputs are plain data: instruction rows (``ledger.store.InstructionRow`` or anything with the same
attributes, see :class:`InstructionLike`) and, for positions, the opening holdings; nothing is read
from the chain or the database here. Instruction states: ``settled``; ``partial`` (part settled,
the remainder is its own row with ``parent_id``); ``pending`` and ``submitted`` (both reported as
pending); ``failed`` (unsettled after the final run, carried forward); ``cancelled``.

Money direction of an instruction (ledger.batch convention): ``amount_cents > 0`` the receiver pays
the deliverer, ``< 0`` the deliverer pays the receiver, ``0`` free of payment. Settled money is
``settled_amount`` (always >= 0) in that direction.

``settlement_by_participant.csv`` — one row per (participant, currency) the participant has
instructions in, sorted by participant then currency. An instruction counts for both its
deliverer and its receiver.

    business_date, participant, currency, instructions, settled, partial, pending, failed, cancelled,
    paid_cents, paid, received_cents, received, net_cents, net, pending_value_cents, pending_value,
    failed_value_cents, failed_value

``paid``/``received``: money settled out of / into the participant's account; ``net`` = received -
paid; ``pending_value``/``failed_value``: absolute amounts of its pending / failed instructions.

``positions.csv`` — one row per (participant, security) with an opening holding or a settled
movement, sorted by participant then security code (numerically when the codes are numbers).

    business_date, participant, security_code, opening, settled_in, settled_out, closing

``closing = opening + settled_in - settled_out`` (settled quantities, including partial deliveries).

``money_summary.csv`` — one row per currency that appears, sorted by currency code.

    business_date, currency, settled_count, settled_cents, settled, pending_count, pending_cents,
    pending, failed_count, failed_cents, failed, gross_instructed_cents, gross_instructed

``settled`` sums ``settled_amount`` over settled and partial instructions; ``pending``/``failed``
sum the absolute ``amount_cents`` of pending/failed ones; ``gross_instructed`` sums the absolute
``amount_cents`` of every instruction that is not a remainder (the day's original money).

``fails.csv`` — one row per failed instruction, sorted by instruction id.

    business_date, instruction_id, source, parent_id, settle_date, deliverer, receiver, security_code,
    quantity, currency, amount_cents, amount, reason

``parent_id`` is empty unless the row is the remainder of a partial delivery; ``reason`` is the last
pending reason (LACK, MONY, BLOC, HOLD, ...), empty if none was recorded.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, Protocol

SETTLEMENT_FILE: Final = "settlement_by_participant.csv"
POSITIONS_FILE: Final = "positions.csv"
MONEY_FILE: Final = "money_summary.csv"
FAILS_FILE: Final = "fails.csv"

SETTLEMENT_COLUMNS: Final = (
    "business_date", "participant", "currency", "instructions", "settled", "partial", "pending", "failed",
    "cancelled", "paid_cents", "paid", "received_cents", "received", "net_cents", "net", "pending_value_cents",
    "pending_value", "failed_value_cents", "failed_value",
)
POSITION_COLUMNS: Final = ("business_date", "participant", "security_code", "opening", "settled_in", "settled_out",
                           "closing")
MONEY_COLUMNS: Final = (
    "business_date", "currency", "settled_count", "settled_cents", "settled", "pending_count", "pending_cents",
    "pending", "failed_count", "failed_cents", "failed", "gross_instructed_cents", "gross_instructed",
)
FAIL_COLUMNS: Final = (
    "business_date", "instruction_id", "source", "parent_id", "settle_date", "deliverer", "receiver",
    "security_code", "quantity", "currency", "amount_cents", "amount", "reason",
)

_PENDING_STATES: Final = frozenset({"pending", "submitted"})
_SETTLED_STATES: Final = frozenset({"settled", "partial"})


class InstructionLike(Protocol):
    """What the reports read from an instruction (ledger.store.InstructionRow has all of it)."""

    @property
    def id(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def parent_id(self) -> int | None: ...
    @property
    def settle_date(self) -> str: ...
    @property
    def deliverer(self) -> str: ...
    @property
    def receiver(self) -> str: ...
    @property
    def security_code(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def amount_cents(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def settled_quantity(self) -> int: ...
    @property
    def settled_amount(self) -> int: ...


def cents_to_decimal(cents: int) -> str:
    """Integer cents as a decimal string with two places: 123450 -> '1234.50', -5 -> '-0.05'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def _state(row: InstructionLike) -> str:
    return "pending" if row.state in _PENDING_STATES else row.state


def _payer_payee(row: InstructionLike) -> tuple[str, str] | None:
    if row.amount_cents > 0:
        return row.receiver, row.deliverer
    if row.amount_cents < 0:
        return row.deliverer, row.receiver
    return None


def _code_key(code: str) -> tuple[int, int, str]:
    return (0, int(code), code) if code.isdigit() else (1, 0, code)


def _write(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        w.writerows(["" if v is None else v for v in r] for r in rows)
    tmp.replace(path)  # a reader never sees a half-written report
    return path


# ---- settled and pending per participant ---------------------------------------------------------------

def settlement_by_participant(rows: Iterable[InstructionLike]) -> list[tuple[object, ...]]:
    """The rows of settlement_by_participant.csv, without business_date (see module docstring)."""
    keys = ("instructions", "settled", "partial", "pending", "failed", "cancelled", "paid", "received",
            "pending_value", "failed_value")
    acc: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(keys, 0))
    for r in rows:
        st = _state(r)
        for p in (r.deliverer, r.receiver):
            a = acc[(p, r.currency)]
            a["instructions"] += 1
            if st in a:
                a[st] += 1
            if st == "pending":
                a["pending_value"] += abs(r.amount_cents)
            elif st == "failed":
                a["failed_value"] += abs(r.amount_cents)
        pp = _payer_payee(r)
        if pp is not None and st in _SETTLED_STATES and r.settled_amount:
            acc[(pp[0], r.currency)]["paid"] += r.settled_amount
            acc[(pp[1], r.currency)]["received"] += r.settled_amount
    out: list[tuple[object, ...]] = []
    for (p, c), a in sorted(acc.items()):
        net = a["received"] - a["paid"]
        out.append((p, c, a["instructions"], a["settled"], a["partial"], a["pending"], a["failed"], a["cancelled"],
                    a["paid"], cents_to_decimal(a["paid"]), a["received"], cents_to_decimal(a["received"]),
                    net, cents_to_decimal(net), a["pending_value"], cents_to_decimal(a["pending_value"]),
                    a["failed_value"], cents_to_decimal(a["failed_value"])))
    return out


def write_settlement_by_participant(directory: Path | str, business_date: dt.date,
                                    rows: Iterable[InstructionLike]) -> Path:
    d = business_date.isoformat()
    return _write(Path(directory) / SETTLEMENT_FILE, SETTLEMENT_COLUMNS,
                  ((d, *r) for r in settlement_by_participant(rows)))


# ---- positions -----------------------------------------------------------------------------------------

def positions(opening: Mapping[tuple[str, str], int], rows: Iterable[InstructionLike]) -> list[tuple[object, ...]]:
    """The rows of positions.csv, without business_date: (participant, security, opening, in, out, closing)."""
    moves: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r.state in _SETTLED_STATES and r.settled_quantity:
            moves[(r.receiver, r.security_code)][0] += r.settled_quantity
            moves[(r.deliverer, r.security_code)][1] += r.settled_quantity
    keys = set(opening) | set(moves)
    out: list[tuple[object, ...]] = []
    for p, s in sorted(keys, key=lambda k: (k[0], _code_key(k[1]))):
        o = int(opening.get((p, s), 0))
        i, x = moves.get((p, s), (0, 0))
        out.append((p, s, o, i, x, o + i - x))
    return out


def write_positions(directory: Path | str, business_date: dt.date, opening: Mapping[tuple[str, str], int],
                    rows: Iterable[InstructionLike]) -> Path:
    d = business_date.isoformat()
    return _write(Path(directory) / POSITIONS_FILE, POSITION_COLUMNS, ((d, *r) for r in positions(opening, rows)))


# ---- money summary -------------------------------------------------------------------------------------

def money_summary(rows: Iterable[InstructionLike]) -> list[tuple[object, ...]]:
    """The rows of money_summary.csv, without business_date."""
    acc: dict[str, list[int]] = defaultdict(lambda: [0] * 7)
    for r in rows:
        a = acc[r.currency]
        st = _state(r)
        if st in _SETTLED_STATES:
            a[0] += 1
            a[1] += r.settled_amount
        elif st == "pending":
            a[2] += 1
            a[3] += abs(r.amount_cents)
        elif st == "failed":
            a[4] += 1
            a[5] += abs(r.amount_cents)
        if r.parent_id is None:
            a[6] += abs(r.amount_cents)
    return [(c, a[0], a[1], cents_to_decimal(a[1]), a[2], a[3], cents_to_decimal(a[3]), a[4], a[5],
             cents_to_decimal(a[5]), a[6], cents_to_decimal(a[6])) for c, a in sorted(acc.items())]


def write_money_summary(directory: Path | str, business_date: dt.date, rows: Iterable[InstructionLike]) -> Path:
    d = business_date.isoformat()
    return _write(Path(directory) / MONEY_FILE, MONEY_COLUMNS, ((d, *r) for r in money_summary(rows)))


# ---- fails ---------------------------------------------------------------------------------------------

def fails(rows: Iterable[InstructionLike]) -> list[tuple[object, ...]]:
    """The rows of fails.csv, without business_date."""
    return [(r.id, r.source, r.parent_id, r.settle_date, r.deliverer, r.receiver, r.security_code, r.quantity,
             r.currency, r.amount_cents, cents_to_decimal(r.amount_cents), r.reason or "")
            for r in sorted((r for r in rows if r.state == "failed"), key=lambda r: r.id)]


def write_fails(directory: Path | str, business_date: dt.date, rows: Iterable[InstructionLike]) -> Path:
    d = business_date.isoformat()
    return _write(Path(directory) / FAILS_FILE, FAIL_COLUMNS, ((d, *r) for r in fails(rows)))


# ---- all of them ---------------------------------------------------------------------------------------

def write_day_reports(directory: Path | str, business_date: dt.date, rows: Sequence[InstructionLike],
                      opening: Mapping[tuple[str, str], int]) -> dict[str, Path]:
    """Write the four day-end reports into `directory`; returns {file name: path}.

    rows: every instruction of the day (all states); opening: {(participant, security_code): quantity}
    held at the start of the day.
    """
    paths = [
        write_settlement_by_participant(directory, business_date, rows),
        write_positions(directory, business_date, opening, rows),
        write_money_summary(directory, business_date, rows),
        write_fails(directory, business_date, rows),
    ]
    return {p.name: p for p in paths}


__all__ = [
    "FAILS_FILE", "FAIL_COLUMNS", "InstructionLike", "MONEY_COLUMNS", "MONEY_FILE", "POSITIONS_FILE",
    "POSITION_COLUMNS", "SETTLEMENT_COLUMNS", "SETTLEMENT_FILE", "cents_to_decimal", "fails", "money_summary",
    "positions", "settlement_by_participant", "write_day_reports", "write_fails", "write_money_summary",
    "write_positions", "write_settlement_by_participant",
]
