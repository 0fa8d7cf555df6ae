"""Working-day deadlines against the real chinesecalendar 1.11 data (no mocks).

Calendar facts relied on (printed from chinesecalendar 1.11 before asserting):
  2026-03-09..13 Mon–Fri ordinary working days, 03-14/15 weekend.
  2026-09-28..30 working; 2026-10-01..07 National Day holiday;
  2026-10-08/09 working; 2026-10-10 (Sat) 调休 make-up working day; 10-11 (Sun) rest.
  2026-12-17..31: ordinary weekdays working.
Years the library does not cover are read from the library at run time (``FIRST_GAP``) or are far
enough away that no release will cover them soon (2100), so these tests keep passing the day a
chinesecalendar release adds 2027.
"""
from datetime import date, datetime, timezone

import pytest

from workflows.workdays import SHANGHAI, CalendarGap, WorkingCalendar, hours_before, library_covers, parse_instant

UTC = timezone.utc


def sh(*args):
    return datetime(*args, tzinfo=SHANGHAI)


# The first year after 2026 that the installed chinesecalendar does not know.
FIRST_GAP = next(year for year in range(2027, 2200) if not library_covers(year))


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


def test_deadline_into_an_uncovered_year_raises_calendar_gap():
    with pytest.raises(CalendarGap, match=str(FIRST_GAP)) as excinfo:
        WorkingCalendar().working_days_after(sh(FIRST_GAP - 1, 12, 17, 10, 0), 15)
    assert excinfo.value.year == FIRST_GAP
    assert "bihuan calendar import" in str(excinfo.value) and "provisional" in str(excinfo.value)


def test_a_single_entry_never_declares_a_year():
    """One correction in an unknown year used to make the whole year plain Monday-Friday."""
    cal = WorkingCalendar({date(2100, 1, 1): False})
    with pytest.raises(CalendarGap, match="2100"):
        cal.is_workday(date(2100, 1, 1))
    with pytest.raises(CalendarGap, match="2100"):
        cal.working_days_after(sh(2100, 1, 4, 10, 0), 3)


def test_an_imported_year_is_its_listed_days_on_top_of_monday_to_friday():
    # An official 2100 schedule as an import leaves it: 01-01 (Fri) off, 02-06 (Sat) worked.
    cal = WorkingCalendar({date(2100, 1, 1): False, date(2100, 2, 6): True}, official_years=[2100])
    assert cal.coverage(2100) == "imported" and cal.is_official(2100)
    assert cal.is_workday(date(2100, 1, 1)) is False
    assert cal.is_workday(date(2100, 2, 6)) is True          # a Saturday, worked
    assert cal.is_workday(date(2100, 2, 9)) is True          # not listed: plain Tuesday, even at 春节
    assert cal.is_workday(date(2100, 2, 7)) is False         # not listed: Sunday
    # 2099-12-31 is not covered: the year before is still a gap.
    with pytest.raises(CalendarGap, match="2099"):
        cal.is_workday(date(2099, 12, 31))
    # Importing 2100 does not declare 2101.
    with pytest.raises(CalendarGap, match="2101"):
        cal.is_workday(date(2101, 1, 3))


def test_an_import_replaces_the_library_for_its_year():
    # 2026-10-10 is a library make-up Saturday; an imported 2026 that does not list it rests.
    cal = WorkingCalendar({date(2026, 10, 1): False}, official_years=[2026])
    assert cal.coverage(2026) == "imported"
    assert cal.is_workday(date(2026, 10, 10)) is False
    assert cal.is_workday(date(2026, 10, 2)) is True  # the library's holiday, not in this import


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
    with pytest.raises(CalendarGap, match=str(FIRST_GAP)):
        WorkingCalendar().working_days_between(eod_utc(FIRST_GAP - 1, 12, 30), sh(FIRST_GAP, 1, 5))


def test_year_before_library_range_is_a_gap():
    with pytest.raises(CalendarGap, match="2003"):
        WorkingCalendar().is_workday(date(2003, 6, 2))


def test_hours_before_counts_clock_hours_through_nights_and_rest_days():
    """A reminder ahead of a deadline counted in hours (an urgent case's 派单 within 2 hours)."""
    assert hours_before("2026-11-02T04:00:00+00:00", 1) == "2026-11-02T03:00:00+00:00"
    # Monday 01:00 Shanghai, 2 hours earlier: Sunday 23:00, a rest day, counted like any hour
    assert hours_before(datetime(2026, 11, 2, 1, 0, tzinfo=SHANGHAI), 2) == "2026-11-01T15:00:00+00:00"
    assert hours_before("2026-11-02T04:00:00+00:00", 0) == "2026-11-02T04:00:00+00:00"


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1", None])
def test_hours_before_refuses_anything_but_whole_hours(bad):
    with pytest.raises(ValueError, match="int >= 0 hours"):
        hours_before("2026-11-02T04:00:00+00:00", bad)
