"""Patrols (网格巡查), the reports filed from them, and the 督查组's spot checks (抽查)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class Patrol(Base):
    """One patrol of one grid worker in their grid: started, then finished with the counts of the round."""
    __tablename__ = "patrols"
    id: Mapped[int] = mapped_column(primary_key=True)
    worker: Mapped[str] = mapped_column(String(50))  # users.username
    grid: Mapped[str] = mapped_column(String(50))  # grids.code, the worker's grid when the patrol started
    # The Shanghai day the patrol started: what the overview and the assessment count by, indexed.
    day: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    households: Mapped[int] = mapped_column(Integer, default=0)  # 走访入户（户）
    residents_updated: Mapped[int] = mapped_column(Integer, default=0)  # 更新居民信息（人）
    residents_added: Mapped[int] = mapped_column(Integer, default=0)  # 新增登记（人）
    residents_removed: Mapped[int] = mapped_column(Integer, default=0)  # 迁出/注销（人）
    note: Mapped[str] = mapped_column(String(500), default="")

    __table_args__ = (
        Index("ix_patrols_grid_day", "grid", "day"),
        Index("ix_patrols_worker_day", "worker", "day"),
        Index("ix_patrols_day", "day"),
        # At most one open patrol per worker, held by the database against two tabs starting at once.
        Index("uq_patrols_open_worker", "worker", unique=True,
              sqlite_where=text("finished_at IS NULL"), postgresql_where=text("finished_at IS NULL")),
    )


class PatrolReport(Base):
    """A 网格上报 case filed while the patrol was open (the case itself stays in ``cases``)."""
    __tablename__ = "patrol_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SpotCheck(Base):
    """抽查: the 督查组's verdict on one patrol (合格 / 不合格) with a note; one per patrol."""
    __tablename__ = "patrol_spot_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), unique=True)
    inspector: Mapped[str] = mapped_column(String(50))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[str] = mapped_column(String(10))  # pass | fail
    note: Mapped[str] = mapped_column(String(500), default="")
