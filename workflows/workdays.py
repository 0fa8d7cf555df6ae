"""Working-day arithmetic for case deadlines (Chinese statutory calendar).

chinesecalendar supplies holidays and 调休 make-up days; admin overrides win over
it and also "declare" years the library does not know yet.
"""
from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar

__all__ = ["SHANGHAI", "CalendarGap", "WorkingCalendar", "parse_instant"]

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
_END_OF_DAY = time(23, 59, 59)


class CalendarGap(Exception):
    """A date lies in a year that neither chinesecalendar nor the overrides cover."""

    def __init__(self, year: int):
        self.year = year
        super().__init__(
            f"{year} 年的节假日安排尚未配置 (no working-day calendar for {year}): "
            f"add holiday/make-up-day overrides for {year}"
        )


@functools.lru_cache(maxsize=None)
def _library_covers(year: int) -> bool:
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


def _local_date(value) -> date:
    return parse_instant(value).astimezone(SHANGHAI).date()


def _end_of_local_day(d: date) -> datetime:
    return datetime.combine(d, _END_OF_DAY, tzinfo=SHANGHAI).astimezone(timezone.utc)


class WorkingCalendar:
    def __init__(self, overrides: Mapping[date, bool] | None = None):
        self._overrides: dict[date, bool] = {}
        for key, is_work in (overrides or {}).items():
            # datetime is a date subclass but hashes differently; normalise keys.
            day = key.date() if isinstance(key, datetime) else key
            if not isinstance(day, date):
                raise TypeError(f"override keys must be dates, got {key!r}")
            self._overrides[day] = bool(is_work)
        # Any override in a year means the admin has declared that year.
        self._declared_years = frozenset(d.year for d in self._overrides)

    def is_workday(self, d: date) -> bool:
        if isinstance(d, datetime):
            d = d.date()
        hit = self._overrides.get(d)
        if hit is not None:
            return hit
        if _library_covers(d.year):
            return _library_is_workday(d)
        if d.year in self._declared_years:
            return d.weekday() < 5  # declared year, no specific entry: plain Mon–Fri
        # Guessing weekends-only would silently produce wrong statutory deadlines.
        raise CalendarGap(d.year)

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
