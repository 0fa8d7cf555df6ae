"""The working-day calendar: chinesecalendar, plus what admins keep in the database.

* ``current()`` merges the library with the imported years, the provisional years and the day
  entries into one ``WorkingCalendar`` (cached briefly; every deadline is computed through it);
* single overrides correct a year the calendar already knows, and never declare a new one;
* ``set_provisional`` lets deadlines run into an unpublished year on the rule-based calendar;
* ``status`` says how far the calendar reaches, for /health, the CLI and the admins' banner.

Importing a year's official schedule is in ``importing.py``; recomputing the deadlines that were
computed provisionally, in ``recompute.py``.
"""
from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from datetime import date
from typing import Iterable, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow
from workflows.deadlines import ProvisionalDeadline as Computed
from workflows.workdays import SHANGHAI, WorkingCalendar, library_covers, parse_instant

from ..cases.models import AuditEntry, Case
from ..errors import Invalid
from ..processes.problem_text import tr as _  # gettext in a request, the msgid elsewhere (CLI)
from .models import CalendarOverride, CalendarYear, ProvisionalDeadline

WARN_DAYS = 60  # admins are warned this many days before the official calendar runs out


class CalendarService:
    """Caches the merged calendar briefly: day entries change rarely, deadlines are computed often.

    Several processes (web workers, schedulers) each keep their own cache, so a change made in
    one reaches the others within ``TTL_SECONDS``."""

    TTL_SECONDS = 10.0

    def __init__(self, db):
        self._db = db
        self._lock = threading.Lock()
        self._cached: WorkingCalendar | None = None
        self._loaded_at = 0.0

    def current(self) -> WorkingCalendar:
        with self._lock:
            if self._cached is None or time.monotonic() - self._loaded_at > self.TTL_SECONDS:
                with self._db.read() as session:
                    self._cached = load_calendar(session)
                self._loaded_at = time.monotonic()
            return self._cached

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    @contextmanager
    def changing(self) -> Iterator[Session]:
        """A unit of work that edits the calendar (plus whatever the caller writes, e.g. its audit row);
        the cache is dropped only once it has committed, so no reader caches a rolled-back change."""
        with self._db.unit_of_work() as session:
            yield session
        self.invalidate()

    def add_override(self, day: str | date, kind: str, note: str = "", actor: str = "") -> dict:
        """Add or replace one correction in its own transaction; the next deadline computed sees it."""
        with self.changing() as session:
            return correct_day(session, day, kind, note, actor)

    def remove_override(self, day: str | date, actor: str = "") -> dict | None:
        """Drop one correction in its own transaction; None when there was none for that day."""
        with self.changing() as session:
            return uncorrect_day(session, day, actor)

    def list_overrides(self, since: date | None = None) -> list[dict]:
        with self._db.read() as session:
            return list_overrides(session, since)

    def set_provisional(self, year: int, on: bool, actor: str = "", note: str = "") -> dict:
        with self.changing() as session:
            return set_provisional(session, year, on, actor, note)

    def status(self, today: date | None = None) -> dict:
        with self._db.read() as session:
            return calendar_status(session, self.current(), today)


def load_calendar(session: Session) -> WorkingCalendar:
    days = dict(session.execute(select(CalendarOverride.day, CalendarOverride.workday)).all())
    years = session.execute(select(CalendarYear.year, CalendarYear.status)).all()
    return WorkingCalendar(days, official_years=[y for y, s in years if s == "official"],
                           provisional_years=[y for y, s in years if s == "provisional"])


def audit_calendar(session: Session, actor: str, action: str, changes: dict, source: str = "calendar") -> None:
    session.add(AuditEntry(at=utcnow(), actor=actor or "", case_id=None, action=action, changes=changes,
                           source=source))


ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def strict_day(text: str) -> date | None:
    """The date of exactly YYYY-MM-DD, or None; date.fromisoformat alone also takes 20270101 and 2027-W01-1."""
    text = text.strip()
    if not ISO_DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def iso_day(text: str) -> date:
    """``date.fromisoformat`` for what people type: exactly YYYY-MM-DD, ValueError otherwise."""
    parsed = strict_day(str(text))
    if parsed is None:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return parsed


def parse_day(day: str | date, field: str = "day") -> date:
    if isinstance(day, str):
        parsed = strict_day(day)
        if parsed is None:
            raise Invalid(f"invalid date '{day}': use YYYY-MM-DD", fields=[(field, "YYYY-MM-DD")])
        return parsed
    return day


def _as_dict(row: CalendarOverride) -> dict:
    return {"date": row.day.isoformat(), "kind": "workday" if row.workday else "holiday", "note": row.note,
            "source": row.source, "updated_at": row.updated_at, "updated_by": row.updated_by}


def upsert_override(session: Session, day: str | date, kind: str, note: str = "", actor: str = "") -> dict:
    """Within the caller's transaction; use ``CalendarService.changing()`` so the cache follows.

    A correction is only accepted in a year the calendar knows (library, imported or provisional):
    one entry must never make a whole unknown year look like plain Monday-Friday."""
    day = parse_day(day)
    if kind not in ("workday", "holiday"):
        raise Invalid(f"invalid kind '{kind}': use 'workday' or 'holiday'", fields=[("kind", kind)])
    if load_calendar(session).coverage(day.year) is None:
        unknown = _("%(year)s 年的节假日安排尚未导入：单日调整只能修正已有安排的年份。请先导入该年官方安排，"
                     "或启用暂定日历。", year=day.year)
        raise Invalid(f"{unknown} (no calendar for {day.year} yet: import its official schedule or switch on a "
                      f"provisional calendar first)", fields=[("day", unknown)])
    row = session.get(CalendarOverride, day)
    if row is None:
        row = CalendarOverride(day=day)
        session.add(row)
    row.workday = kind == "workday"
    row.note = note or ""
    row.source = "override"
    row.updated_at = utcnow()
    row.updated_by = actor
    return {"date": day.isoformat(), "kind": kind, "note": row.note}


def correct_day(session: Session, day: str | date, kind: str, note: str = "", actor: str = "",
                source: str = "calendar") -> dict:
    """One correction and its audit row (with what it replaced), in the caller's transaction."""
    previous = session.get(CalendarOverride, parse_day(day))
    replaced = previous and {"kind": "workday" if previous.workday else "holiday", "note": previous.note}
    result = upsert_override(session, day, kind, note, actor)
    audit_calendar(session, actor, "calendar_override_add", {**result, "replaced": replaced} if replaced else result,
                   source)
    return result


def uncorrect_day(session: Session, day: str | date, actor: str = "", source: str = "calendar") -> dict | None:
    """Drop one correction and write its audit row, in the caller's transaction; None if there was none."""
    removed = delete_override(session, day)
    if removed is not None:
        audit_calendar(session, actor, "calendar_override_remove",
                       {key: removed[key] for key in ("date", "kind", "note")}, source)
    return removed


def delete_override(session: Session, day: str | date) -> dict | None:
    row = session.get(CalendarOverride, parse_day(day))
    if row is None:
        return None
    removed = _as_dict(row)
    session.delete(row)
    return removed


def list_overrides(session: Session, since: date | None = None) -> list[dict]:
    query = select(CalendarOverride).order_by(CalendarOverride.day)
    if since is not None:
        query = query.where(CalendarOverride.day >= since)
    return [_as_dict(row) for row in session.scalars(query)]


def set_provisional(session: Session, year: int, on: bool, actor: str = "", note: str = "") -> dict:
    """Switch the provisional calendar of ``year`` on or off, with an audit row."""
    if not isinstance(year, int) or not 1900 <= year <= 2200:
        raise Invalid(f"invalid year '{year}'", fields=[("year", str(year))])
    row = session.get(CalendarYear, year)
    if on:
        if (row is not None and row.status == "official") or library_covers(year):
            raise Invalid(f"{year} 年已有官方安排，无需暂定日历 ({year} already has its official schedule)",
                          fields=[("year", str(year))])
        if row is None:
            row = CalendarYear(year=year)
            session.add(row)
        row.status, row.note, row.changed_at, row.changed_by = "provisional", note or "", utcnow(), actor or ""
    else:
        if row is None or row.status != "provisional":
            raise Invalid(f"{year} 年没有启用暂定日历 (no provisional calendar for {year})",
                          fields=[("year", str(year))])
        session.delete(row)
    audit_calendar(session, actor, "calendar_provisional_on" if on else "calendar_provisional_off",
                   {"year": year, "note": note or ""})
    return {"year": year, "provisional": bool(on)}


# -- deadlines computed on a provisional year ------------------------------------------------------
def record_provisional(session: Session, case_id: int, computed: Iterable[Computed]) -> int:
    """Store, inside the action's transaction, the provisional deadlines its engine work computed."""
    computed = list(computed)
    if not computed:
        return 0
    known = set(session.execute(select(ProvisionalDeadline.start, ProvisionalDeadline.days)
                                .where(ProvisionalDeadline.case_id == case_id)).all())
    now, added = utcnow(), 0
    for entry in computed:
        if (entry.start, entry.days) in known:
            continue
        known.add((entry.start, entry.days))
        session.add(ProvisionalDeadline(case_id=case_id, year=max(entry.years), start=entry.start, days=entry.days,
                                        value=entry.value, due_at=parse_instant(entry.value), recorded_at=now))
        added += 1
    return added


def list_provisional(session: Session, year: int | None = None, limit: int = 200) -> list[dict]:
    """Open and closed cases' provisional deadlines, earliest first (for the admin page and the CLI)."""
    query = (select(ProvisionalDeadline, Case.number, Case.status, Case.department)
             .join(Case, Case.id == ProvisionalDeadline.case_id)
             .order_by(ProvisionalDeadline.due_at, ProvisionalDeadline.id).limit(limit))
    if year is not None:
        query = query.where(ProvisionalDeadline.year == year)
    return [{"case": number, "status": status, "department": department, "year": row.year, "start": row.start,
             "days": row.days, "deadline": row.value}
            for row, number, status, department in session.execute(query)]


def coverage(calendar: WorkingCalendar, today: date) -> dict:
    """How far ``calendar`` reaches from ``today`` (Shanghai): the last officially covered day, the
    days left until then, how far a provisional calendar stretches it, and whether to warn."""
    official, reach = calendar.covered_until(today)
    days_left = (official - today).days if official else -1
    return {
        "today": today.isoformat(),
        "covered_until": official.isoformat() if official else None,
        "days_left": days_left,
        "provisional_until": reach.isoformat() if reach and reach != official else None,
        "warning": days_left <= WARN_DAYS,
        "next_year": (official.year + 1) if official else today.year,
    }


def calendar_status(session: Session, calendar: WorkingCalendar, today: date | None = None) -> dict:
    """``coverage``, plus each year around today with where its schedule comes from and how many
    deadlines were computed on it provisionally."""
    today = today or utcnow().astimezone(SHANGHAI).date()
    counts = dict(session.execute(select(ProvisionalDeadline.year, func.count())
                                  .group_by(ProvisionalDeadline.year)).all())
    years = sorted({today.year - 1, today.year, today.year + 1, today.year + 2,
                    *calendar.official_years, *calendar.provisional_years, *counts})
    return {**coverage(calendar, today),
            "years": [{"year": y, "coverage": calendar.coverage(y), "provisional_deadlines": counts.get(y, 0)}
                      for y in years]}
