"""Two-column CSV tables keyed by an id (`CP,Collateral`, `InstrumentID,Price`), read strictly."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from risk.errors import PositionFileError


def read_keyed_amounts(path: str | Path, key: str, value: str, *, strictly_positive: bool,
                       key_label: str | None = None, value_label: str | None = None) -> dict[str, float]:
    """Read `key -> value` from a CSV with (at least) those two columns.

    Raises PositionFileError naming the row and column for a missing column, a row of the wrong width,
    an empty or duplicate key, or a value that is not a finite number (> 0, or >= 0 when
    `strictly_positive` is False).
    """
    src = str(path)
    kl, vl = key_label or key, value_label or value
    expected_value = "a finite positive number" if strictly_positive else "a finite amount >= 0"
    out: dict[str, float] = {}
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        for name in (key, value):
            if name not in header:
                raise PositionFileError(f"missing column {name}", row=1, column=len(header) + 1,
                                        expected=f"{key},{value}", source=src)
        ki, vi = header.index(key), header.index(value)
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = reader.line_num
            if len(cells) != len(header):
                raise PositionFileError(f"row has {len(cells)} values", row=line,
                                        column=min(len(cells), len(header)) + 1,
                                        expected=f"{len(header)} values", source=src)
            k, text = cells[ki].strip(), cells[vi].strip()
            if not k:
                raise PositionFileError(f"empty {key}", row=line, column=ki + 1, expected=f"a {kl}", source=src)
            if k in out:
                raise PositionFileError(f"duplicate {kl} {k}", row=line, column=ki + 1,
                                        expected=f"one row per {kl}", source=src)
            try:
                amount = float(text)
            except ValueError:
                raise PositionFileError(f"non-numeric {vl} {text!r}", row=line, column=vi + 1,
                                        expected=expected_value, source=src) from None
            if not math.isfinite(amount) or amount < 0 or (strictly_positive and amount == 0):
                raise PositionFileError(f"invalid {vl} {text!r}", row=line, column=vi + 1,
                                        expected=expected_value, source=src)
            out[k] = amount
    return out
