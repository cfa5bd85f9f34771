"""Working days: the library's holidays and 调休, our data file beyond it, weekends last."""

from datetime import UTC, date, datetime

from chalicelib.workflow.calendar import BEIJING, add_working_days, is_working_day


def test_national_day_and_its_adjusted_saturday():
    assert not is_working_day(date(2026, 10, 1))
    assert is_working_day(date(2026, 10, 10))


def test_years_beyond_the_library_come_from_our_data_file():
    assert not is_working_day(date(2027, 10, 4))
    assert is_working_day(date(2027, 10, 9))
    assert not is_working_day(date(2027, 2, 8))


def test_beyond_every_source_only_weekends_are_off():
    assert is_working_day(date(2031, 10, 1)) is True
    assert not is_working_day(date(2031, 10, 4))


def test_a_work_order_given_the_day_before_the_holiday_is_due_after_it():
    start = datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING)
    due = add_working_days(start, 1).astimezone(BEIJING)
    assert due.date() == date(2026, 10, 8)
    assert (due.hour, due.minute) == (23, 59)


def test_seven_working_days_skip_weekends():
    start = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert add_working_days(start, 7).astimezone(BEIJING).date() == date(2026, 12, 1)
