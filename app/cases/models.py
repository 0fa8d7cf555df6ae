"""The case (诉求/工单), its workflow instance, its ready tasks, its audit trail and incidents."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text)
from sqlalchemy.orm import Mapped, mapped_column, validates

from ..db import Base, UTCDateTime
from ..privacy.crypto import EncryptedText, blind_index

CHANNELS = {"phone": "公众电话投诉", "grid": "网格员上报", "online": "网络舆情", "platform": "社会治理平台件",
            "web": "网上诉求"}
TYPES = {"inquiry": "咨询", "help": "求助", "complaint": "投诉", "report": "举报", "suggestion": "建议"}
DIFFICULTIES = {"simple": "简单", "normal": "一般", "complex": "复杂"}
STATUSES = {"registered": "已受理", "dispatched": "已派单", "returned": "已退回", "handling": "办理中",
            "replied": "已答复", "verified": "已核实", "closed": "已销号", "refused": "不予受理", "merged": "已并单"}
# Where a case ends: closed after the loop, refused at intake, or merged into an earlier case.
FINISHED_STATUSES = ("closed", "refused", "merged")


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    category: Mapped[str | None] = mapped_column(String(50), nullable=True, index=True)
    difficulty: Mapped[str | None] = mapped_column(String(20), nullable=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    grid: Mapped[str | None] = mapped_column(String(50), nullable=True)
    # Encrypted at rest (app/privacy/crypto.py); exact phone search goes through the blind index.
    reporter_name: Mapped[str | None] = mapped_column(EncryptedText("cases.reporter_name"), nullable=True)
    reporter_phone: Mapped[str | None] = mapped_column(EncryptedText("cases.reporter_phone"), nullable=True)
    reporter_phone_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    department: Mapped[str | None] = mapped_column(String(50), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    refuse_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    merged_into: Mapped[str | None] = mapped_column(String(30), nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    registered_by: Mapped[str] = mapped_column(String(50), default="")
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the first dispatch
    reassigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the latest 改派
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # 责任人 who replied: whoever completed the lead department's 办理 with 答复 (the latest reply after
    # a 重办); the ledger's and the KPI page's 按责任人 (migration 0036, app/reports/responsible.py).
    replied_by: Mapped[str | None] = mapped_column(String(50), nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    extensions: Mapped[list] = mapped_column(JSON, default=list)
    satisfaction: Mapped[str | None] = mapped_column(String(20), nullable=True)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    supervision_tier: Mapped[int] = mapped_column(Integer, default=0, index=True)
    has_incident: Mapped[bool] = mapped_column(Boolean, default=False)
    # 回头件: calls about this case attached to it at intake instead of registering a new case
    # (app/intake/repeat_calls.py); a column, so a ledger counts them without a join.
    repeat_calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A case another system handed over (the governance platform's work order): its source (the API
    # client's name) and its number there, unique per source (migration 0030, app/api/ingest.py).
    external_source: Mapped[str | None] = mapped_column(String(50), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)

    # Search by status lists newest first: walking this index stops after one page (migration 0003).
    # Set when the reporter's personal data was erased after the retention period (app/privacy/retention.py).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Ledger sorts/filters and KPI range scans (migration 0005, app/reports): every KPI selects its
    # cases by one timestamp range, every ledger page walks one of these in sort order.
    __table_args__ = (Index("ix_cases_status_registered_at", "status", "registered_at"),
                      Index("ix_cases_anonymised_at_closed_at", "anonymised_at", "closed_at"),
                      Index("ix_cases_dispatched_at", "dispatched_at"),
                      Index("ix_cases_followed_up_at", "followed_up_at"),
                      Index("ix_cases_closed_at", "closed_at"),
                      # The ledger of one status by closing date (e.g. 已销号 this month), newest first
                      # (migration 0033): without it SQLite walks every closed case and sorts.
                      Index("ix_cases_status_closed_at", "status", "closed_at"),
                      Index("ix_cases_department_registered_at", "department", "registered_at"),
                      Index("ix_cases_department_deadline", "department", "deadline"),
                      Index("ix_cases_type_registered_at", "type", "registered_at"),
                      Index("ix_cases_type_difficulty_registered_at", "type", "difficulty", "registered_at"),
                      Index("ix_cases_channel_registered_at", "channel", "registered_at"),
                      Index("ix_cases_category_registered_at", "category", "registered_at"),
                      Index("ix_cases_grid_registered_at", "grid", "registered_at"),
                      # The map's open/overdue counts per grid: ranges over the open statuses only (0025).
                      Index("ix_cases_status_grid_deadline", "status", "grid", "deadline"),
                      # The dashboard's overdue / due-today counts and most-overdue list read only
                      # open cases in deadline order (migration 0007).
                      Index("ix_cases_status_deadline", "status", "deadline"),
                      Index("uq_cases_external", "external_source", "external_id", unique=True),
                      # The ledger of one person's cases, newest first (migration 0036).
                      Index("ix_cases_replied_by_registered_at", "replied_by", "registered_at"))

    @validates("reporter_phone")
    def _index_phone(self, _key, value):
        # Whoever sets the phone sets its blind index with it: duplicate detection and phone search
        # compare indexes, never plaintext.
        self.reporter_phone_index = blind_index(value)
        return value


class WorkflowInstance(Base):
    """The engine state of one case; ``version`` is the optimistic lock."""
    __tablename__ = "workflow_instances"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Earliest waiting timer, mirrored from waiting_events(); NULL when none, when the
    # instance has finished, or while an incident blocks it. The sweep reads only this.
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The timer-sweep lease (app/scheduling/claims.py): which scheduler's sweep is firing this
    # instance, until when. An expired claim is anyone's; neither is part of the engine state.
    claimed_by: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __mapper_args__ = {"version_id_col": version}


class ReadyTask(Base):
    """A user task that can be completed now; worklists are one indexed query on this table."""
    __tablename__ = "ready_tasks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task UUID
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(40), nullable=True)
    department: Mapped[str | None] = mapped_column(String(50), nullable=True)
    form: Mapped[str | None] = mapped_column(String(200), nullable=True)
    supervision_tier: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(50), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # (role, due_at): the due-order worklist of roles without departments; PostgreSQL cannot read
    # the first index in due order under "department IS NULL" (migration 0003).
    __table_args__ = (Index("ix_ready_tasks_role_department_due", "role", "department", "due_at"),
                      Index("ix_ready_tasks_role_due", "role", "due_at"))


class AuditEntry(Base):
    """Append-only: rows are only ever inserted (triggers refuse the rest, app/audit/guard.py)."""
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(50))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True)
    action: Mapped[str] = mapped_column(String(50))
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    task_bpmn_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    task_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(50), default="")  # channel or client: cli, web, scheduler, api
    # The hash chain (app/audit/chain.py): filled in before every flush, checked by `bihuan audit verify`.
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    row_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    # 考核计分 reads one month of rows by time (migration 0006). (case_id, id) serves every read of a
    # case's rows in order, above all the hash chain's tail, read by every action (migration 0038).
    __table_args__ = (Index("ix_audit_log_at", "at"),
                      Index("ix_audit_log_case_id_id", "case_id", "id"),
                      Index("ix_audit_log_case_id_actor_id", "case_id", "actor", "id"))


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_bpmn_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(50), nullable=True)


class CaseCounter(Base):
    """Per-day sequence for human-readable case numbers (HD-YYYYMMDD-NNNN)."""
    __tablename__ = "case_counters"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
