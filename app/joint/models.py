"""联动处置 (joint disposal) and 批示督办 (leaders' instructions): what the case page and the
ledgers need to read without restoring a workflow.

``CoHandler`` rows mirror each co-handler's part (the multi-instance subprocess of
case_lifecycle.bpmn), written by the projection in the action's transaction; they also give a
co-handling unit sight of the case (app/cases/visibility.py) and the per-unit timeliness KPI.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

# What a unit (departments.kind) is: a department of the sub-district, a community, or an outside
# organisation registered as a unit (the sanitation company, the city-management center ...).
UNIT_KINDS = {"department": "部门", "community": "社区", "outside": "外部单位"}
CO_STATUSES = {"dispatched": "待签收", "handling": "办理中", "fed_back": "已反馈", "missing": "缺失（主办已说明）"}


class CoHandler(Base):
    __tablename__ = "co_handlers"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    unit: Mapped[str] = mapped_column(String(50))
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fed_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    missing_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    missing_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)
    people_deployed: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (Index("ix_co_handlers_case_unit", "case_id", "unit", unique=True),
                      # a unit's cases (visibility) and its timeliness over a range (KPIs)
                      Index("ix_co_handlers_unit_dispatched", "unit", "dispatched_at"))


class JointMeeting(Base):
    """专题会议: the joint meeting the command center called for the case."""
    __tablename__ = "joint_meetings"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    units: Mapped[list] = mapped_column(JSON, default=list)          # unit codes present
    decisions: Mapped[str] = mapped_column(Text)
    actions: Mapped[list] = mapped_column(JSON, default=list)        # [{"unit": code, "action": text}]
    recorded_by: Mapped[str] = mapped_column(String(50))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DisposalRecord(Base):
    """处置记录: people deployed and the quantities the case's category asks for
    (bpmn/rules/disposal_fields.dmn)."""
    __tablename__ = "disposal_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    category: Mapped[str | None] = mapped_column(String(50), nullable=True)
    people_deployed: Mapped[int] = mapped_column(Integer)
    quantities: Mapped[dict] = mapped_column(JSON, default=dict)     # {field key: number}
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(50))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LeaderInstruction(Base):
    """批示督办: a leader's instruction on a case, its tier-3 supervision item, and the sign-off."""
    __tablename__ = "leader_instructions"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_items.id", ondelete="SET NULL"), nullable=True)
    instructed_by: Mapped[str] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(Text)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sign_off_note: Mapped[str | None] = mapped_column(Text, nullable=True)
