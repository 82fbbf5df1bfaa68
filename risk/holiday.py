"""Holiday margin: the ``sqrt(H) - 1`` factor and stepped holiday schedules.

The RPF header carries ``Holiday_Factor = sqrt(H) - 1`` with H the number of
consecutive Hong Kong holidays (weekends excluded) — taken here as the run of
non-weekend holidays that starts on the first weekday after the valuation date.
The factor is 0 when no holiday follows (and, by the formula, for H = 1).
Stepped schedules, like OTC Clear's Easter 2020 arrangement (+19% of IM, then
+10%, then back to 0), give the add-on rate in force on a date.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from risk.errors import RPFFormatError

__all__ = ["consecutive_holidays", "holiday_factor", "StepSchedule", "read_holidays", "read_step_schedule"]


def consecutive_holidays(valuation_date: date, holidays: Collection[date]) -> int:
    """
    Number H of consecutive weekday holidays following ``valuation_date``.

    Parameters
    ----------
    valuation_date : date
        Business day of the margin run.
    holidays : collection of date
        Hong Kong public holidays.

    Returns
    -------
    int
        Weekday holidays in the run that starts on the next weekday; weekends inside
        the run neither count nor break it.
    """
    h = 0
    d = valuation_date + timedelta(days=1)
    while True:
        if d.weekday() >= 5:
            d += timedelta(days=1)
            continue
        if d in holidays:
            h += 1
            d += timedelta(days=1)
            continue
        return h


def holiday_factor(valuation_date: date, holidays: Collection[date]) -> float:
    """
    ``Holiday_Factor = sqrt(H) - 1`` (0 without a holiday).

    Parameters
    ----------
    valuation_date : date
        Business day of the margin run.
    holidays : collection of date
        Hong Kong public holidays.

    Returns
    -------
    float
    """
    h = consecutive_holidays(valuation_date, holidays)
    return math.sqrt(h) - 1.0 if h > 0 else 0.0


@dataclass(frozen=True)
class StepSchedule:
    """A stepped holiday add-on: rate in force from each date until the next.

    Attributes
    ----------
    steps : tuple of (date, float)
        ``(effective_date, rate)`` sorted by date; rate is a fraction of initial margin.
        Before the first date the rate is 0.

    Examples
    --------
    OTC Clear, Easter 2020::

        StepSchedule(((date(2020, 4, 7), 0.19), (date(2020, 4, 9), 0.10), (date(2020, 4, 15), 0.0)))
    """

    steps: tuple[tuple[date, float], ...]

    def __post_init__(self) -> None:
        dates = [d for d, _ in self.steps]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("schedule dates must be strictly increasing")
        if any(not math.isfinite(r) or r < 0 for _, r in self.steps):
            raise ValueError("schedule rates must be finite and >= 0")

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[date, float]]) -> StepSchedule:
        """Build from unsorted pairs."""
        return cls(tuple(sorted(pairs)))

    def rate_on(self, day: date) -> float:
        """
        Add-on rate in force on ``day``.

        Parameters
        ----------
        day : date

        Returns
        -------
        float
        """
        rate = 0.0
        for d, r in self.steps:
            if d <= day:
                rate = r
            else:
                break
        return rate


def _lines(path: str | Path) -> list[tuple[int, list[str]]]:
    out: list[tuple[int, list[str]]] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            out.append((n, [c.strip() for c in text.split(",")]))
    return out


def _date(cell: str, row: int, src: str) -> date:
    try:
        return datetime.strptime(cell, "%d/%m/%Y").date()
    except ValueError:
        raise RPFFormatError(f"bad date {cell!r}", row=row, column=1, expected="DD/MM/YYYY", source=src) from None


def read_holidays(path: str | Path) -> frozenset[date]:
    """
    Read a holiday calendar: one ``DD/MM/YYYY`` per line (``#`` starts a comment).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    frozenset of date
    """
    out: set[date] = set()
    for row, cells in _lines(path):
        if len(cells) != 1:
            raise RPFFormatError("extra values", row=row, column=2, expected="one date per line", source=str(path))
        out.add(_date(cells[0], row, str(path)))
    return frozenset(out)


def read_step_schedule(path: str | Path) -> StepSchedule:
    """
    Read a stepped schedule: ``DD/MM/YYYY,rate`` per line (rate as a fraction of IM).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    StepSchedule
    """
    pairs: list[tuple[date, float]] = []
    for row, cells in _lines(path):
        if len(cells) != 2:
            raise RPFFormatError(f"{len(cells)} values", row=row, column=min(len(cells), 2) + 1,
                                 expected="DD/MM/YYYY,rate", source=str(path))
        d = _date(cells[0], row, str(path))
        try:
            rate = float(cells[1])
        except ValueError:
            rate = math.nan
        if not math.isfinite(rate) or rate < 0:
            raise RPFFormatError(f"bad rate {cells[1]!r}", row=row, column=2, expected="a rate >= 0",
                                 source=str(path))
        pairs.append((d, rate))
    try:
        return StepSchedule.from_pairs(pairs)
    except ValueError as e:
        raise RPFFormatError(str(e), source=str(path), expected="one rate per date") from None
