"""Months and ISO weeks as the office counts them: local (Asia/Shanghai) calendar days, half-open in UTC.

A month ``2026-11`` is [2026-11-01 00:00, 2026-12-01 00:00) Shanghai; a week ``2026-W45`` is Monday 00:00 to
the next Monday 00:00. Anything malformed or outside the years the office can have data for is ``Invalid``
with a message that names the value, so that pages and the CLI can say what is wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ..processes.problem_text import tr as _  # gettext in a request, the msgid elsewhere (CLI)

from ..errors import Invalid

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST_YEAR, LAST_YEAR = 2000, 2100  # no case can date from outside these; a typo like 0226-11 is refused
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(timezone.utc)


@dataclass(frozen=True)
class Period:
    key: str  # 2026-11 or 2026-W45
    first: date  # first local day
    last: date  # last local day (inclusive)

    @property
    def start(self) -> datetime:
        return _local_midnight(self.first)

    @property
    def end(self) -> datetime:
        return _local_midnight(self.last + timedelta(days=1))


def parse_month(text: str | None) -> Period:
    match = MONTH_RE.match((text or "").strip())
    if not match:
        raise Invalid(_("月份格式应为 YYYY-MM，例如 2026-11：%(value)s", value=text or ""))
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid(_("没有这个月份：%(value)s", value=text))
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return Period(f"{year:04d}-{month:02d}", first, nxt - timedelta(days=1))


def parse_week(text: str | None) -> Period:
    match = WEEK_RE.match((text or "").strip())
    if not match:
        raise Invalid(_("周次格式应为 YYYY-Www，例如 2026-W48：%(value)s", value=text or ""))
    year, week = int(match.group(1)), int(match.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid(_("没有这个周次：%(value)s", value=text))
    try:
        first = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise Invalid(_("没有这个周次：%(value)s", value=text)) from None
    return Period(f"{year:04d}-W{week:02d}", first, first + timedelta(days=6))


def week_of(day: date) -> Period:
    year, week, _weekday = day.isocalendar()
    return parse_week(f"{year:04d}-W{week:02d}")


def month_of(day: date) -> Period:
    return parse_month(f"{day.year:04d}-{day.month:02d}")


def local_date(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


def previous_week(period: Period) -> Period:
    return week_of(period.first - timedelta(days=7))


def next_week(period: Period) -> Period:
    return week_of(period.first + timedelta(days=7))
