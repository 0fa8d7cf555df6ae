"""Supervision items (督办事项): one escalation of one case at one tier."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

TIERS = {1: "社会治理中心督办", 2: "纪工委督办", 3: "党工委督办"}
REASONS = {"sign_overdue": "签收超时", "delay": "拖延办理", "buck_passing": "推诿扯皮",
           "unsatisfied_after_redo": "重办后仍不满意"}
ITEM_STATUSES = {"open": "督办中", "escalated": "已升级", "replied": "已答复待核实", "closed": "已核实销号"}


class SupervisionItem(Base):
    __tablename__ = "supervision_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    run_key: Mapped[str] = mapped_column(String(36))  # the call activity task that started this escalation
    tier: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40))
    department: Mapped[str | None] = mapped_column(String(50), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    measure: Mapped[str | None] = mapped_column(String(40), nullable=True)  # interview / notice
    accountability_decision: Mapped[str | None] = mapped_column(String(40), nullable=True)
    responsible_person: Mapped[str | None] = mapped_column(String(50), nullable=True)
    records: Mapped[list] = mapped_column(JSON, default=list)

    __table_args__ = (Index("ix_supervision_items_tier_status", "tier", "status"),
                      Index("ix_supervision_items_case_run_tier", "case_id", "run_key", "tier", unique=True),
                      # KPI ranges: items opened per tier, 追责 decisions by the time they closed (0005).
                      Index("ix_supervision_items_opened_at", "opened_at"),
                      Index("ix_supervision_items_closed_at", "closed_at"))
