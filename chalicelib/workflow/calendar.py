"""Working days in mainland China: public holidays and adjusted workdays (调休).

Uses the `chinesecalendar` library; for a year it does not cover yet, weekends
are the only days off.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))


def is_working_day(day: date) -> bool:
    """Whether `day` is a working day in mainland China."""
    import chinese_calendar

    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
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
