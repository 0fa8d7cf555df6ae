"""The working-day calendar kept in the database: day entries, the years it knows, and the
deadlines that were computed on a provisional year."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

DAY_SOURCES = ("override", "official")   # a single correction, or a day of an imported schedule
YEAR_STATUSES = ("official", "provisional")


class CalendarOverride(Base):
    """One day's entry: off (holiday) or worked (调休上班), from an imported schedule or a correction."""
    __tablename__ = "calendar_overrides"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(20), default="override")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(50), default="")


class CalendarYear(Base):
    """A year an admin declared: its official schedule was imported, or it runs provisionally.

    Years that chinesecalendar itself covers need no row."""
    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(200), default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(50), default="")


class ProvisionalDeadline(Base):
    """``working_days_after(start, days) = value`` was computed for a case on a provisional year.

    Written in the same transaction as the action that computed it; deleted when the official
    schedule is imported and the case's deadlines are recomputed."""
    __tablename__ = "provisional_deadlines"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    start: Mapped[str] = mapped_column(String(40))
    days: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("case_id", "start", "days", name="uq_provisional_deadlines_computation"),
                      Index("ix_provisional_deadlines_year_due", "year", "due_at"))
