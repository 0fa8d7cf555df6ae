"""The provisional calendar's rule-based holidays, and how far the calendar reaches (no database).

Facts used, checked by hand against a calendar:
  2100: 01-01 is a Friday; lunar new year (正月初一) is Tuesday 02-09, so 除夕 is Monday 02-08 and
  春节 is 02-08..02-11 (Mon-Thu); 02-12 is a Friday, 02-13/14 a weekend.
"""
from datetime import date, datetime

import chinese_calendar
import pytest

from workflows.holidays import statutory_holidays
from workflows.workdays import SHANGHAI, CalendarGap, WorkingCalendar, library_covers


def sh(*args):
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_rule_gives_exactly_the_official_holidays_of_the_years_it_applies_to(year):
    """Since 2025 the rule is: 元旦 1, 春节 4 (除夕-初三), 清明 1, 劳动节 2, 端午 1, 中秋 1, 国庆 3 days.
    Every day the rule names is a holiday of that festival in the State Council's real schedule."""
    if not library_covers(year):
        pytest.skip(f"chinesecalendar has no {year}")
    rule = statutory_holidays(year)
    assert len(rule) == 13
    names = {"元旦": "New Year's Day", "春节": "Spring Festival", "清明节": "Tomb-sweeping Day",
             "劳动节": "Labour Day", "端午节": "Dragon Boat Festival", "中秋节": "Mid-autumn Festival",
             "国庆节": "National Day"}
    for day, festival in rule.items():
        on_holiday, detail = chinese_calendar.get_holiday_detail(day)
        assert on_holiday and detail == names[festival], (day, festival, detail)


def test_the_rule_for_2100():
    rule = statutory_holidays(2100)
    assert [d for d, name in rule.items() if name == "春节"] == [date(2100, 2, d) for d in (8, 9, 10, 11)]
    assert rule[date(2100, 1, 1)] == "元旦"
    assert [d for d, name in rule.items() if name == "国庆节"] == [date(2100, 10, d) for d in (1, 2, 3)]
    assert {"清明节", "端午节", "中秋节", "劳动节"} <= set(rule.values())


def test_a_provisional_year_is_weekends_plus_rule_holidays_without_make_up_days():
    cal = WorkingCalendar(provisional_years=[2100])
    assert cal.coverage(2100) == "provisional" and not cal.is_official(2100)
    assert cal.is_workday(date(2100, 2, 5)) is True      # Friday
    assert cal.is_workday(date(2100, 2, 6)) is False     # Saturday: no make-up day provisionally
    assert cal.is_workday(date(2100, 2, 8)) is False     # 除夕
    assert cal.is_workday(date(2100, 2, 11)) is False    # 初三
    assert cal.is_workday(date(2100, 2, 12)) is True
    # From Monday 2100-02-01: 02-02..05 (4), skip 02-06..02-11, 02-12 (5th), 02-15 (6th).
    assert cal.working_days_after(sh(2100, 2, 1, 10, 0), 6).astimezone(SHANGHAI).date() == date(2100, 2, 15)
    assert cal.provisional_years_between(sh(2100, 2, 1, 10, 0), sh(2100, 2, 15, 23, 59)) == [2100]
    with pytest.raises(CalendarGap, match="2101"):
        cal.is_workday(date(2101, 1, 3))


def test_a_correction_inside_a_provisional_year_wins():
    cal = WorkingCalendar({date(2100, 2, 6): True}, provisional_years=[2100])
    assert cal.is_workday(date(2100, 2, 6)) is True


def test_an_official_import_outranks_a_provisional_switch_for_the_same_year():
    cal = WorkingCalendar(official_years=[2100], provisional_years=[2100])
    assert cal.coverage(2100) == "imported"
    assert cal.is_workday(date(2100, 2, 9)) is True  # nothing listed: the import said it is worked
    assert cal.provisional_years_between(sh(2100, 1, 4), sh(2100, 3, 1)) == []


def test_how_far_the_calendar_reaches():
    last = max(y for y in range(2004, 2200) if library_covers(y))
    plain = WorkingCalendar()
    assert plain.covered_until(date(last, 11, 30)) == (date(last, 12, 31), date(last, 12, 31))
    assert plain.covered_until(date(2100, 1, 4)) == (None, None)
    extended = WorkingCalendar(official_years=[last + 1], provisional_years=[last + 2])
    assert extended.covered_until(date(last, 11, 30)) == (date(last + 1, 12, 31), date(last + 2, 12, 31))
    assert extended.is_provisional(sh(last + 2, 3, 1)) and not extended.is_provisional(date(last + 1, 3, 1))
