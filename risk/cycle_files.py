"""CSV inputs of the daily cycle: open instructions and collateral (strict; errors name row and column).

* Instructions: ``deliverer,receiver,security_code,quantity,amount_cents,currency,state`` — the columns
  of the ledger's instruction table (``state`` optional, default ``pending``; extra columns ignored).
* Collateral: ``CP,Collateral`` (HKD).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from risk.errors import PositionFileError
from risk.keyed_csv import read_keyed_amounts

__all__ = ["InstructionRecord", "INSTRUCTION_COLUMNS", "read_instructions", "read_collateral"]

INSTRUCTION_COLUMNS = ("deliverer", "receiver", "security_code", "quantity", "amount_cents", "currency")


@dataclass(frozen=True)
class InstructionRecord:
    """One open settlement instruction (satisfies :class:`risk.marks.InstructionLike`)."""

    deliverer: str
    receiver: str
    security_code: str
    quantity: int
    amount_cents: int
    currency: str
    state: str = "pending"


def _int(text: str, row: int, col: int, what: str, src: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise PositionFileError(f"non-integer {what} {text!r}", row=row, column=col, expected="a whole number",
                                source=src) from None


def read_instructions(path: str | Path) -> list[InstructionRecord]:
    """
    Read open instructions from CSV.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    list of InstructionRecord

    Raises
    ------
    PositionFileError
        Missing column, non-integer quantity or amount, negative quantity, empty party.
    """
    src = str(path)
    out: list[InstructionRecord] = []
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        for name in INSTRUCTION_COLUMNS:
            if name not in header:
                raise PositionFileError(f"missing column {name}", row=1, column=len(header) + 1,
                                        expected=",".join(INSTRUCTION_COLUMNS), source=src)
        col = {name: header.index(name) for name in (*INSTRUCTION_COLUMNS, "state") if name in header}
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = reader.line_num
            if len(cells) != len(header):
                raise PositionFileError(f"row has {len(cells)} values", row=line, column=min(len(cells), len(header)) + 1,
                                        expected=f"{len(header)} values", source=src)
            v = {k: cells[i].strip() for k, i in col.items()}
            for k in ("deliverer", "receiver", "security_code", "currency"):
                if not v[k]:
                    raise PositionFileError(f"empty {k}", row=line, column=col[k] + 1, expected=f"a {k}", source=src)
            qty = _int(v["quantity"], line, col["quantity"] + 1, "quantity", src)
            if qty < 0:
                raise PositionFileError(f"negative quantity {qty}", row=line, column=col["quantity"] + 1,
                                        expected="a quantity >= 0", source=src)
            amount = _int(v["amount_cents"], line, col["amount_cents"] + 1, "amount_cents", src)
            out.append(InstructionRecord(v["deliverer"], v["receiver"], v["security_code"], qty, amount,
                                         v["currency"], v.get("state") or "pending"))
    return out


def read_collateral(path: str | Path) -> dict[str, float]:
    """
    Read collateral per participant from CSV ``CP,Collateral`` (HKD).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict of str to float

    Raises
    ------
    PositionFileError
        Missing column, duplicate CP, non-numeric, negative or non-finite amount.
    """
    return read_keyed_amounts(path, "CP", "Collateral", strictly_positive=False, value_label="collateral")
