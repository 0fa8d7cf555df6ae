"""Precomputed aggregates behind the leaders' dashboard and the diagram heatmap.

Both tables are *derived*: every row is a sum of per-case contributions (``rollups.contributions``)
or of task exits, kept in step inside the transaction that changes the case (a hook in
``app/cases/projection.py``), and rebuilt from scratch by ``bihuan reports rebuild``.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class DailyRollup(Base):
    """Counts per Shanghai day × department × channel. Finer keys (type, category, grid) would
    give about one row per case at a million cases a year and make the rollup no cheaper to read
    than the cases themselves; the dashboard only splits by department and channel."""
    __tablename__ = "report_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    department: Mapped[str] = mapped_column(String(50), primary_key=True)  # '' before dispatch
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    registered: Mapped[int] = mapped_column(Integer, default=0)      # by registered_at
    closed: Mapped[int] = mapped_column(Integer, default=0)          # status closed, by closed_at
    refused: Mapped[int] = mapped_column(Integer, default=0)         # by closed_at
    merged: Mapped[int] = mapped_column(Integer, default=0)          # by closed_at
    replied: Mapped[int] = mapped_column(Integer, default=0)         # by replied_at
    # By deadline day, as kpis.py counts 按期回复率 and 办结率; the dashboard subtracts the cases
    # whose deadline is still ahead and undecided (a small live count over open cases).
    due_reply: Mapped[int] = mapped_column(Integer, default=0)       # deadline set, not 已退回
    due_reply_on_time: Mapped[int] = mapped_column(Integer, default=0)  # of those, replied_at <= deadline
    due: Mapped[int] = mapped_column(Integer, default=0)             # deadline set
    due_closed: Mapped[int] = mapped_column(Integer, default=0)      # of those, 已销号
    followed_up: Mapped[int] = mapped_column(Integer, default=0)     # reached the resident, by followed_up_at
    satisfied: Mapped[int] = mapped_column(Integer, default=0)       # 满意 + 基本满意
    unsatisfied: Mapped[int] = mapped_column(Integer, default=0)


class TaskDwell(Base):
    """Per Shanghai day (of leaving) × diagram node: how many tokens left the node and their
    summed dwell in seconds; the heatmap's mean dwell over a range is sum(seconds) / sum(exits)."""
    __tablename__ = "report_task_dwell"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bpmn_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    exits: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)
