"""The statutory public holidays of a year, computed by rule, for a *provisional* calendar.

Each December the State Council publishes the next year's schedule: which days are off and which
weekend days are worked instead (调休). Until it is published, an admin may let deadlines run into
that year on a provisional calendar: weekends plus the holidays that the 全国年节及纪念日放假办法
(as amended with effect from 2025) fixes by date, with no make-up working days:

* 元旦 1 January; 劳动节 1-2 May; 国庆节 1-3 October (solar dates);
* 春节 除夕 and the first three days of the first lunar month;
* 端午节 the 5th of the 5th lunar month; 中秋节 the 15th of the 8th lunar month;
* 清明节 the day of the 清明 solar term.

Lunar dates and solar terms come from lunar-python (6tail), a maintained library, not from our own
astronomy. The real schedule usually differs (days moved to make longer breaks, make-up days), so
deadlines computed this way are flagged 暂定 and recomputed once the official schedule is imported.
"""
from __future__ import annotations

import functools
from datetime import date, timedelta

from lunar_python import Lunar

__all__ = ["statutory_holidays"]


@functools.lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """{day: festival name} of the statutory holidays falling in ``year``, by rule."""
    days: dict[date, str] = {date(year, 1, 1): "元旦", date(year, 5, 1): "劳动节", date(year, 5, 2): "劳动节"}
    for day in range(1, 4):
        days[date(year, 10, day)] = "国庆节"
    new_year = _solar(Lunar.fromYmd(year, 1, 1))
    for offset in range(-1, 3):  # 除夕 is the day before the first of the first month, 29th or 30th
        days[new_year + timedelta(days=offset)] = "春节"
    days[_solar(Lunar.fromYmd(year, 5, 5))] = "端午节"
    days[_solar(Lunar.fromYmd(year, 8, 15))] = "中秋节"
    # The 清明 of a lunar year falls in April of the solar year that the lunar year begins in.
    qingming = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    days[date(qingming.getYear(), qingming.getMonth(), qingming.getDay())] = "清明节"
    return {day: name for day, name in sorted(days.items()) if day.year == year}


def _solar(lunar: Lunar) -> date:
    solar = lunar.getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())
