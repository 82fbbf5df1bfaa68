from __future__ import annotations

import math
from datetime import date

import pytest

from risk.holiday import StepSchedule, consecutive_holidays, holiday_factor

# Easter 2020 in Hong Kong: Good Friday 10 Apr, Holy Saturday 11 Apr, Easter Monday 13 Apr.
EASTER_2020 = {date(2020, 4, 10), date(2020, 4, 11), date(2020, 4, 13)}


def test_easter_run_skips_weekend() -> None:
    # From Thu 9 Apr: Fri (holiday), Sat/Sun (weekend, not counted), Mon (holiday) -> H = 2.
    assert consecutive_holidays(date(2020, 4, 9), EASTER_2020) == 2
    assert holiday_factor(date(2020, 4, 9), EASTER_2020) == pytest.approx(math.sqrt(2) - 1)


def test_no_holiday_and_single_day() -> None:
    assert holiday_factor(date(2020, 4, 14), EASTER_2020) == 0.0
    assert consecutive_holidays(date(2020, 4, 30), {date(2020, 5, 1)}) == 1
    assert holiday_factor(date(2020, 4, 30), {date(2020, 5, 1)}) == 0.0  # sqrt(1) - 1


def test_lunar_new_year_three_days() -> None:
    lny = {date(2026, 2, 17), date(2026, 2, 18), date(2026, 2, 19)}
    assert holiday_factor(date(2026, 2, 16), lny) == pytest.approx(math.sqrt(3) - 1)


def test_step_schedule_easter_2020() -> None:
    s = StepSchedule.from_pairs([(date(2020, 4, 9), 0.10), (date(2020, 4, 7), 0.19), (date(2020, 4, 15), 0.0)])
    assert s.rate_on(date(2020, 4, 6)) == 0.0
    assert s.rate_on(date(2020, 4, 7)) == 0.19
    assert s.rate_on(date(2020, 4, 8)) == 0.19
    assert s.rate_on(date(2020, 4, 9)) == 0.10
    assert s.rate_on(date(2020, 4, 15)) == 0.0
    with pytest.raises(ValueError):
        StepSchedule(((date(2020, 4, 9), 0.1), (date(2020, 4, 7), 0.2)))


def test_calendar_and_schedule_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from risk.errors import RPFFormatError
    from risk.holiday import read_holidays, read_step_schedule

    cal = tmp_path / "hk.txt"
    cal.write_text("# Easter 2020\n10/04/2020\n11/04/2020\n13/04/2020\n")
    assert read_holidays(cal) == frozenset(EASTER_2020)
    sched = tmp_path / "s.csv"
    sched.write_text("07/04/2020,0.19\n09/04/2020,0.10\n15/04/2020,0\n")
    assert read_step_schedule(sched).rate_on(date(2020, 4, 10)) == 0.10
    sched.write_text("07/04/2020,0.19\n09/04/2020,-1\n")
    with pytest.raises(RPFFormatError) as ei:
        read_step_schedule(sched)
    assert (ei.value.row, ei.value.column) == (2, 2)
    cal.write_text("2020-04-10\n")
    with pytest.raises(RPFFormatError) as ei:
        read_holidays(cal)
    assert ei.value.row == 1
