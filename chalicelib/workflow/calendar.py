"""Working days in mainland China: public holidays and adjusted workdays (调休).

The `chinesecalendar` library is the source for the years it covers; for a
later year the data file `chalicelib/data/holidays.json` of ours applies
(provisional until the State Council publishes that year's arrangement); beyond
both, weekends are the only days off.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

BEIJING = timezone(timedelta(hours=8))
_DATA = Path(__file__).resolve().parent.parent / "data" / "holidays.json"


@lru_cache(maxsize=1)
def _our_years() -> dict[int, tuple[frozenset[date], frozenset[date]]]:
    """Year → (holidays, adjusted workdays) from our data file."""
    years = {}
    for year, entry in json.loads(_DATA.read_text(encoding="utf-8"))["years"].items():
        holidays = set()
        for first, last in entry["holidays"]:
            day, end = date.fromisoformat(first), date.fromisoformat(last)
            while day <= end:
                holidays.add(day)
                day += timedelta(days=1)
        workdays = {date.fromisoformat(d) for d in entry["workdays"]}
        years[int(year)] = (frozenset(holidays), frozenset(workdays))
    return years


@lru_cache(maxsize=1)
def _library_years() -> frozenset[int]:
    """The years the chinesecalendar library has the State Council's arrangement for."""
    from chinese_calendar.constants import holidays

    return frozenset(day.year for day in holidays)


def is_working_day(day: date) -> bool:
    """Whether `day` is a working day in mainland China."""
    if day.year in _library_years():
        import chinese_calendar

        return chinese_calendar.is_workday(day)
    ours = _our_years().get(day.year)
    if ours:
        holidays, workdays = ours
        if day in workdays:
            return True
        if day in holidays:
            return False
    return day.weekday() < 5


def add_working_days(start: datetime, days: int) -> datetime:
    """The end of the `days`-th working day after `start` (Beijing time), as UTC."""
    day = start.astimezone(BEIJING).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=BEIJING)
    return end.astimezone(UTC)
