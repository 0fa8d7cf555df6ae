"""Working-day calendar = chinesecalendar + the admin overrides kept in the database."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import date
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.clock import utcnow
from workflows.workdays import WorkingCalendar

from ..errors import Invalid
from .models import CalendarOverride


class CalendarService:
    """Caches the merged calendar briefly: overrides change rarely, deadlines are computed often."""

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
                    rows = session.execute(select(CalendarOverride.day, CalendarOverride.workday)).all()
                self._cached = WorkingCalendar({day: workday for day, workday in rows})
                self._loaded_at = time.monotonic()
            return self._cached

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    @contextmanager
    def changing(self) -> Iterator[Session]:
        """A unit of work that edits overrides (plus whatever the caller writes, e.g. its audit row);
        the cache is dropped only once it has committed, so no reader caches a rolled-back change."""
        with self._db.unit_of_work() as session:
            yield session
        self.invalidate()

    def add_override(self, day: str | date, kind: str, note: str = "", actor: str = "") -> dict:
        """Add or replace one override in its own transaction; the next deadline computed sees it."""
        with self.changing() as session:
            return upsert_override(session, day, kind, note, actor)

    def remove_override(self, day: str | date) -> dict | None:
        """Drop one override in its own transaction; None when there was none for that day."""
        with self.changing() as session:
            return delete_override(session, day)

    def list_overrides(self, since: date | None = None) -> list[dict]:
        with self._db.read() as session:
            return list_overrides(session, since)


def _parse_day(day: str | date) -> date:
    if isinstance(day, str):
        try:
            return date.fromisoformat(day)
        except ValueError:
            raise Invalid(f"invalid date '{day}': use YYYY-MM-DD") from None
    return day


def _as_dict(row: CalendarOverride) -> dict:
    return {"date": row.day.isoformat(), "kind": "workday" if row.workday else "holiday", "note": row.note,
            "updated_at": row.updated_at, "updated_by": row.updated_by}


def upsert_override(session: Session, day: str | date, kind: str, note: str = "", actor: str = "") -> dict:
    """Within the caller's transaction; use ``CalendarService.changing()`` so the cache follows."""
    day = _parse_day(day)
    if kind not in ("workday", "holiday"):
        raise Invalid(f"invalid kind '{kind}': use 'workday' or 'holiday'")
    row = session.get(CalendarOverride, day)
    if row is None:
        row = CalendarOverride(day=day)
        session.add(row)
    row.workday = kind == "workday"
    row.note = note or ""
    row.updated_at = utcnow()
    row.updated_by = actor
    return {"date": day.isoformat(), "kind": kind, "note": row.note}


def delete_override(session: Session, day: str | date) -> dict | None:
    row = session.get(CalendarOverride, _parse_day(day))
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
