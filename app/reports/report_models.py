"""Stored reports (the weekly 调度研判 专报) and the runs of periodic jobs."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class Report(Base):
    """A generated report with its figures and rendered files, kept as generated: it never changes."""
    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # weekly
    period: Mapped[str] = mapped_column(String(20))  # 2026-W45
    number: Mapped[str] = mapped_column(String(50))  # 专报 number, e.g. 〔2026〕45期
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    generated_by: Mapped[str] = mapped_column(String(50), default="")
    rules_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rules_hash: Mapped[str] = mapped_column(String(64), default="")
    figures: Mapped[dict] = mapped_column(JSON)
    html: Mapped[str] = mapped_column(Text)
    docx: Mapped[bytes] = mapped_column(LargeBinary)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (UniqueConstraint("kind", "period"),)


class JobRun(Base):
    """One run of a periodic job for one period. The UNIQUE (job, period) key is what makes a job run
    exactly once per period however many schedulers race for it: the loser's insert fails."""
    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(20))
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
    runner: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (UniqueConstraint("job", "period"),)
