"""Supervision items (督办事项): one escalation of one case at one tier."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

TIERS = {1: "社会治理中心督办", 2: "纪工委督办", 3: "党工委督办"}
REASONS = {"sign_overdue": "签收超时", "delay": "拖延办理", "buck_passing": "推诿扯皮",
           "unsatisfied_after_redo": "重办后仍不满意", "center_overdue": "指挥中心环节超时",
           "leader_instruction": "领导批示督办"}
# The step whose deadline lapsed (center steps are shown with 指挥中心环节超时).
STEPS = {"sign_for": "签收", "handle": "办理", "dispatch": "派单", "reassign": "改派", "verify": "核实",
         "follow_up": "回访", "co_handle": "协办"}
# The command center's own unit: escalations of its late steps (派单, 改派, 核实, 回访) are against it.
CENTER_DEPARTMENT = "command_center"
# 批示督办 items (app/joint) sit on tier 3 but are listed and counted apart on the 督办台.
INSTRUCTION_REASON = "leader_instruction"
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
    # The deadline whose lapse opened the escalation (sign-for, handling, a center step), fixed
    # at opening like the department: 超期天数 counts working days from it, at every tier.
    missed_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    step: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # The n-th escalation of this case for this reason and department (a later delay is n + 1).
    cause_no: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __table_args__ = (Index("ix_supervision_items_tier_status", "tier", "status"),
                      Index("ix_supervision_items_case_run_tier", "case_id", "run_key", "tier", unique=True),
                      # KPI ranges: items opened per tier, 追责 decisions by the time they closed (0005).
                      Index("ix_supervision_items_opened_at", "opened_at"),
                      Index("ix_supervision_items_closed_at", "closed_at"),
                      # 批示督办 (app/joint): its items listed and counted apart on the 督办台 (0027).
                      Index("ix_supervision_items_reason_closed", "reason", "closed_at"))
