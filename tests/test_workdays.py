"""Working-day deadlines against the real chinesecalendar 1.11 data (no mocks).

Calendar facts relied on (printed from chinesecalendar 1.11 before asserting):
  2026-03-09..13 Mon–Fri ordinary working days, 03-14/15 weekend.
  2026-09-28..30 working; 2026-10-01..07 National Day holiday;
  2026-10-08/09 working; 2026-10-10 (Sat) 调休 make-up working day; 10-11 (Sun) rest.
  2026-12-17..31: ordinary weekdays working; 2027 is not covered by the library.
"""
from datetime import date, datetime, timezone

import pytest

from workflows.workdays import SHANGHAI, CalendarGap, WorkingCalendar, parse_instant

UTC = timezone.utc


def sh(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def eod_utc(y, m, d):
    # 23:59:59 Shanghai == 15:59:59 UTC the same date.
    return datetime(y, m, d, 15, 59, 59, tzinfo=UTC)


def test_library_facts_around_national_day_2026():
    cal = WorkingCalendar()
    expected = {
        date(2026, 9, 30): True,
        **{date(2026, 10, d): False for d in range(1, 8)},
        date(2026, 10, 8): True,
        date(2026, 10, 9): True,
        date(2026, 10, 10): True,  # Saturday make-up day
        date(2026, 10, 11): False,
    }
    assert {d: cal.is_workday(d) for d in expected} == expected


def test_ordinary_week():
    result = WorkingCalendar().working_days_after(sh(2026, 3, 9, 9, 0), 3)
    assert result == eod_utc(2026, 3, 12)
    assert result.tzinfo == UTC
    assert result.astimezone(SHANGHAI) == sh(2026, 3, 12, 23, 59, 59)


def test_weekend_is_skipped():
    # Thu + 3: Fri 13, (Sat/Sun skipped), Mon 16, Tue 17.
    assert WorkingCalendar().working_days_after(sh(2026, 3, 12, 15, 0), 3) == eod_utc(2026, 3, 17)


def test_national_day_span_with_make_up_saturday():
    cal = WorkingCalendar()
    start = sh(2026, 9, 28, 10, 0)
    # 09-29, 09-30, (10-01..07 holiday), 10-08, 10-09, 10-10 (Sat, 调休).
    assert cal.working_days_after(start, 5) == eod_utc(2026, 10, 10)
    assert cal.working_days_after(start, 3) == eod_utc(2026, 10, 8)
    # Sunday 10-11 is rest again, so the 6th lands on Monday 10-12.
    assert cal.working_days_after(start, 6) == eod_utc(2026, 10, 12)


def test_n_zero_on_workday_is_same_day():
    assert WorkingCalendar().working_days_after(sh(2026, 9, 30, 8, 0), 0) == eod_utc(2026, 9, 30)


def test_n_zero_on_holiday_rolls_to_next_workday():
    assert WorkingCalendar().working_days_after(sh(2026, 10, 1, 8, 0), 0) == eod_utc(2026, 10, 8)


def test_override_holiday_on_normal_weekday():
    cal = WorkingCalendar({date(2026, 3, 11): False})
    assert cal.is_workday(date(2026, 3, 11)) is False
    # Mon + 3 skipping Wed 11: Tue 10, Thu 12, Fri 13.
    assert cal.working_days_after(sh(2026, 3, 9, 9, 0), 3) == eod_utc(2026, 3, 13)


def test_override_workday_on_saturday():
    cal = WorkingCalendar({date(2026, 3, 14): True})
    assert cal.is_workday(date(2026, 3, 14)) is True
    # Thu + 3: Fri 13, Sat 14 (override), Mon 16.
    assert cal.working_days_after(sh(2026, 3, 12, 9, 0), 3) == eod_utc(2026, 3, 16)


def test_override_beats_library_make_up_day():
    cal = WorkingCalendar({date(2026, 10, 10): False})
    assert cal.working_days_after(sh(2026, 9, 28, 10, 0), 5) == eod_utc(2026, 10, 12)


def test_deadline_into_uncovered_2027_raises_calendar_gap():
    with pytest.raises(CalendarGap, match="2027") as excinfo:
        WorkingCalendar().working_days_after(sh(2026, 12, 17, 10, 0), 15)
    assert excinfo.value.year == 2027
    assert "add holiday/make-up-day overrides for 2027" in str(excinfo.value)


def test_deadline_into_2027_succeeds_once_year_is_declared():
    cal = WorkingCalendar({date(2027, 1, 1): False})
    # 12-18, 12-21..25, 12-28..31 = 10; (01-01 holiday, 01-02/03 weekend); 01-04..08 = 15.
    assert cal.working_days_after(sh(2026, 12, 17, 10, 0), 15) == eod_utc(2027, 1, 8)
    # Undeclared dates in a declared year fall back to plain Mon–Fri.
    assert cal.is_workday(date(2027, 1, 2)) is False
    assert cal.is_workday(date(2027, 6, 1)) is True
    # Declaring 2027 does not declare 2028.
    with pytest.raises(CalendarGap, match="2028"):
        cal.is_workday(date(2028, 1, 3))


def test_iso_string_with_z():
    cal = WorkingCalendar()
    # 02:00Z == 10:00 Shanghai on Monday 09-28.
    assert cal.working_days_after("2026-09-28T02:00:00Z", 5) == eod_utc(2026, 10, 10)
    # 20:00Z on Sunday 09-27 is already Monday 04:00 in Shanghai.
    assert cal.working_days_after("2026-09-27T20:00:00Z", 1) == eod_utc(2026, 9, 29)


def test_iso_string_with_offset_and_without():
    cal = WorkingCalendar()
    assert cal.working_days_after("2026-09-28T10:00:00+08:00", 5) == eod_utc(2026, 10, 10)
    assert cal.working_days_after("2026-09-28T10:00:00", 5) == eod_utc(2026, 10, 10)


def test_aware_utc_datetime_uses_shanghai_local_date():
    start = datetime(2026, 3, 8, 17, 0, tzinfo=UTC)  # Sun UTC, Mon 01:00 Shanghai
    assert WorkingCalendar().working_days_after(start, 0) == eod_utc(2026, 3, 9)


def test_naive_datetime_is_shanghai():
    # As Shanghai this is Monday 23:30 -> next working day Tue 10.
    # (Were it read as UTC it would be Tue 07:30 local -> Wed 11.)
    assert WorkingCalendar().working_days_after(datetime(2026, 3, 9, 23, 30), 1) == eod_utc(2026, 3, 10)


def test_parse_instant():
    assert parse_instant("2026-09-28T10:00:00+08:00") == datetime(2026, 9, 28, 2, tzinfo=UTC)
    assert parse_instant("2026-09-28T02:00:00Z").tzinfo == UTC
    assert parse_instant(datetime(2026, 9, 28, 10)) == datetime(2026, 9, 28, 2, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_instant("not a date")


@pytest.mark.parametrize("bad", [-1, True, False, 1.5, "3", None])
def test_invalid_n(bad):
    with pytest.raises(ValueError, match="n must be"):
        WorkingCalendar().working_days_after(sh(2026, 3, 9, 9), bad)


def test_working_days_between():
    cal = WorkingCalendar()
    deadline = eod_utc(2026, 9, 30)
    # 10-01..07 holiday, then 10-08 and 10-09 count.
    assert cal.working_days_between(deadline, sh(2026, 10, 9, 9, 0)) == 2
    # Up to Mon 10-12: 10-08, 10-09, 10-10 (make-up Sat), 10-12.
    assert cal.working_days_between(deadline, "2026-10-12T01:00:00Z") == 4
    # Later the same local day is not overdue by a day.
    assert cal.working_days_between(sh(2026, 3, 9, 9), sh(2026, 3, 9, 18)) == 0
    # end <= start.
    assert cal.working_days_between(sh(2026, 3, 16), sh(2026, 3, 9)) == 0
    assert cal.working_days_between(sh(2026, 3, 9), sh(2026, 3, 9)) == 0
    # Fri deadline, Mon morning: weekend does not count.
    assert cal.working_days_between(eod_utc(2026, 3, 13), sh(2026, 3, 16, 10)) == 1


def test_working_days_between_inverse_of_after():
    cal = WorkingCalendar()
    start = sh(2026, 9, 28, 10, 0)
    for n in range(1, 12):
        assert cal.working_days_between(start, cal.working_days_after(start, n)) == n


def test_working_days_between_into_uncovered_year_raises():
    with pytest.raises(CalendarGap, match="2027"):
        WorkingCalendar().working_days_between(eod_utc(2026, 12, 30), sh(2027, 1, 5))


def test_year_before_library_range_is_a_gap():
    with pytest.raises(CalendarGap, match="2003"):
        WorkingCalendar().is_workday(date(2003, 6, 2))
