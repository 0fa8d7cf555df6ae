"""Working-day calendar = chinesecalendar + the admin overrides kept in the database."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

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

    def add_override(self, day: str | date, kind: str, note: str = "", actor: str = "") -> dict:
        """Add or replace one override in its own transaction; the next deadline computed sees it."""
        with self._db.unit_of_work() as session:
            result = self._upsert(session, day, kind, note, actor)
        self.invalidate()
        return result

    def _upsert(self, session: Session, day: str | date, kind: str, note: str, actor: str) -> dict:
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day)
            except ValueError:
                raise Invalid(f"invalid date '{day}': use YYYY-MM-DD") from None
        if kind not in ("workday", "holiday"):
            raise Invalid(f"invalid kind '{kind}': use 'workday' or 'holiday'")
        row = session.get(CalendarOverride, day)
        if row is None:
            row = CalendarOverride(day=day)
            session.add(row)
        row.workday = kind == "workday"
        row.note = note or ""
        row.updated_at = datetime.now(timezone.utc)
        row.updated_by = actor
        return {"date": day.isoformat(), "kind": kind, "note": row.note}
