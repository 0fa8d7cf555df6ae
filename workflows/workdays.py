"""Working-day arithmetic for case deadlines (Chinese statutory calendar), and which years it knows.

A deadline may only be computed in a year whose schedule is known; the calendar never guesses:

* **official** years: chinesecalendar covers them (its coverage is read at run time, so a new
  release that adds a year simply covers it), or an admin imported the State Council's schedule
  for the year (``bihuan calendar import``), which then replaces the library for that year;
* **provisional** years: an admin chose to let deadlines run into an unpublished year. They use
  weekends plus the statutory holidays computed by rule (``workflows.holidays``), no make-up days,
  and every deadline that reaches one is flagged (``provisional_years_between``) so it can be
  recomputed when the official schedule arrives;
* any other year raises ``CalendarGap`` naming the year.

Single day entries (``days``) correct a known year; they never make an unknown year known.
"""
from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar

from .holidays import statutory_holidays

__all__ = ["SHANGHAI", "CalendarGap", "WorkingCalendar", "hours_before", "library_covers", "parse_instant"]

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
_END_OF_DAY = time(23, 59, 59)


class CalendarGap(Exception):
    """A date lies in a year whose holiday schedule is neither known nor provisionally allowed."""

    def __init__(self, year: int):
        self.year = year
        super().__init__(
            f"{year} 年的节假日安排尚未导入，无法计算期限 (no working-day calendar for {year}): import the State "
            f"Council's {year} schedule (bihuan calendar import FILE, or 系统管理 → 工作日历), or switch on a "
            f"provisional calendar for {year}"
        )


@functools.lru_cache(maxsize=None)
def library_covers(year: int) -> bool:
    """Whether the installed chinesecalendar release has the official schedule of ``year``."""
    # The library signals unsupported years only by raising, so probe once per year.
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@functools.lru_cache(maxsize=8192)
def _library_is_workday(d: date) -> bool:
    return chinese_calendar.is_workday(d)


def parse_instant(value) -> datetime:
    """Aware datetime / naive datetime (Asia/Shanghai) / ISO-8601 string -> aware UTC."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):  # be explicit rather than rely on 3.11+ parsing
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not an ISO-8601 instant: {value!r}") from exc
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())  # a bare date means local midnight
    elif not isinstance(value, datetime):
        raise TypeError(f"expected datetime or ISO-8601 string, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=SHANGHAI)  # naive times are Shanghai wall-clock
    return value.astimezone(timezone.utc)


def hours_before(instant, n) -> str:
    """``n`` clock hours before ``instant``, as a UTC ISO instant: a reminder (到期预警) ahead of a
    deadline counted in hours (an urgent case's 派单 within 2 hours), where a working day before
    it would lie before the step began. No calendar: hours run through nights and rest days."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0 hours, got {n!r}")
    return (parse_instant(instant) - timedelta(hours=n)).isoformat(timespec="seconds")


def _local_date(value) -> date:
    return parse_instant(value).astimezone(SHANGHAI).date()


def _year_of(value) -> int:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.year
    return _local_date(value).year


def _end_of_local_day(d: date) -> datetime:
    return datetime.combine(d, _END_OF_DAY, tzinfo=SHANGHAI).astimezone(timezone.utc)


class WorkingCalendar:
    """Working days from chinesecalendar, imported official years, provisional years and day entries.

    ``days`` maps a date to True (worked) or False (off): an imported year's holidays and make-up
    days, and single corrections. ``official_years`` are years imported as complete;
    ``provisional_years`` are years an admin allowed on the rule-based calendar.
    """

    def __init__(self, days: Mapping[date, bool] | None = None, *, official_years: Iterable[int] = (),
                 provisional_years: Iterable[int] = ()):
        self._days: dict[date, bool] = {}
        for key, is_work in (days or {}).items():
            # datetime is a date subclass but hashes differently; normalise keys.
            day = key.date() if isinstance(key, datetime) else key
            if not isinstance(day, date):
                raise TypeError(f"day keys must be dates, got {key!r}")
            self._days[day] = bool(is_work)
        self.official_years = frozenset(int(y) for y in official_years)
        self.provisional_years = frozenset(int(y) for y in provisional_years) - self.official_years

    # -- which years are known -------------------------------------------------------------
    def coverage(self, year: int) -> str | None:
        """'imported', 'library' or 'provisional' for a year deadlines may reach; None otherwise."""
        if year in self.official_years:
            return "imported"
        if library_covers(year):
            return "library"
        if year in self.provisional_years:
            return "provisional"
        return None

    def is_official(self, year: int) -> bool:
        return self.coverage(year) in ("imported", "library")

    def is_provisional(self, value) -> bool:
        """Whether the (Shanghai) year of a date or instant is on the provisional calendar."""
        return self.coverage(_year_of(value)) == "provisional"

    def provisional_years_between(self, start, end) -> list[int]:
        """The provisional years that counting from ``start`` to ``end`` went through."""
        first, last = sorted((_year_of(start), _year_of(end)))
        return [year for year in range(first, last + 1) if self.coverage(year) == "provisional"]

    def covered_until(self, today: date) -> tuple[date | None, date | None]:
        """(last day of unbroken official coverage from ``today``'s year, and of official or
        provisional coverage); None when ``today``'s own year is not covered."""
        official = provisional = None
        year = today.year
        while self.is_official(year):
            official = date(year, 12, 31)
            year += 1
        while self.coverage(year) is not None:
            year += 1
        if year > today.year:
            provisional = date(year - 1, 12, 31)
        return official, provisional

    # -- days -------------------------------------------------------------------------------
    def is_workday(self, d: date) -> bool:
        if isinstance(d, datetime):
            d = d.date()
        kind = self.coverage(d.year)
        if kind is None:
            # Guessing weekends-only would silently produce wrong statutory deadlines.
            raise CalendarGap(d.year)
        hit = self._days.get(d)
        if hit is not None:
            return hit
        if kind == "library":
            return _library_is_workday(d)
        if kind == "provisional" and d in statutory_holidays(d.year):
            return False
        return d.weekday() < 5  # an imported year lists every exception; the rest is Mon–Fri

    def working_days_after(self, start, n: int) -> datetime:
        """End (23:59:59 Shanghai, returned in UTC) of the n-th working day after start."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise ValueError(f"n must be an int >= 0 working days, got {n!r}")
        if n < 0:
            raise ValueError(f"n must be >= 0 working days, got {n}")
        day = _local_date(start)
        if n == 0:  # same day, or the next working day if start falls on a rest day
            while not self.is_workday(day):
                day += timedelta(days=1)
            return _end_of_local_day(day)
        remaining = n
        while remaining:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return _end_of_local_day(day)

    def working_days_before(self, instant, n: int) -> datetime:
        """End (23:59:59 Shanghai, in UTC) of the n-th working day before instant's local day.

        ``working_days_before(deadline, 1)`` is the moment a deadline is one working day away: the
        to-the-day mirror of ``working_days_after``, for reminders (到期预警)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0 working days, got {n!r}")
        day = _local_date(instant)
        remaining = n
        while remaining:
            day -= timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return _end_of_local_day(day)

    def working_days_between(self, start, end) -> int:
        """Working days in (start's local date, end's local date]; 0 if end <= start."""
        start_i, end_i = parse_instant(start), parse_instant(end)
        if end_i <= start_i:
            return 0
        day = start_i.astimezone(SHANGHAI).date()
        last = end_i.astimezone(SHANGHAI).date()
        count = 0
        while day < last:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count
