"""Plain-dict views of cases and tasks, shared by the CLI and the JSON API."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..supervision.models import SupervisionItem
from .models import AuditEntry, Case, Incident, ReadyTask

CASE_COLUMNS = ("number", "channel", "type", "category", "difficulty", "urgent", "text", "address", "grid",
                "reporter_name", "reporter_phone", "department", "status", "refuse_reason", "merged_into",
                "registered_at", "registered_by", "dispatched_at", "reassigned_at", "signed_at", "replied_at", "verified_at",
                "followed_up_at", "closed_at", "deadline", "extensions", "satisfaction", "return_count",
                "redo_count", "supervision_tier", "has_incident", "repeat_calls")


def iso(value):
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


def mask_phone(phone: str | None) -> str | None:
    """138****0000: enough to recognise a number, not enough to call it."""
    if not phone:
        return phone
    digits = phone.strip()
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


def mask_name(name: str | None) -> str | None:
    return name[0] + "*" * (len(name) - 1) if name else name


def case_summary(case: Case, reveal_reporter: bool = False) -> dict:
    result = {column: iso(getattr(case, column)) for column in CASE_COLUMNS}
    if not reveal_reporter:
        result["reporter_phone"] = mask_phone(case.reporter_phone)
        result["reporter_name"] = mask_name(case.reporter_name)
    return result


def task_view(task: ReadyTask, case_number: str) -> dict:
    return {"id": task.id, "case": case_number, "task": task.bpmn_id, "name": task.name, "role": task.role,
            "department": task.department, "due": iso(task.due_at), "assignee": task.assignee,
            "supervision_tier": task.supervision_tier}


def case_detail(session: Session, case: Case, reveal_reporter: bool = False) -> dict:
    result = case_summary(case, reveal_reporter)
    items = session.scalars(select(SupervisionItem).where(SupervisionItem.case_id == case.id)
                            .order_by(SupervisionItem.opened_at, SupervisionItem.tier)).all()
    result["supervision"] = [{
        "tier": i.tier, "reason": i.reason, "department": i.department, "status": i.status,
        "opened_at": iso(i.opened_at), "due": iso(i.due_at), "escalated_at": iso(i.escalated_at),
        "closed_at": iso(i.closed_at), "measure": i.measure, "accountability_decision": i.accountability_decision,
        "responsible_person": i.responsible_person, "records": i.records,
        "missed_deadline": iso(i.missed_deadline), "step": i.step, "cause_no": i.cause_no,
    } for i in items]
    tasks = session.scalars(select(ReadyTask).where(ReadyTask.case_id == case.id).order_by(ReadyTask.created_at))
    result["tasks"] = [task_view(t, case.number) for t in tasks]
    incidents = session.scalars(select(Incident).where(Incident.case_id == case.id).order_by(Incident.id))
    result["incidents"] = [{"id": i.id, "task": i.task_bpmn_id, "message": i.message, "source": i.source,
                            "at": iso(i.created_at), "resolved_at": iso(i.resolved_at)} for i in incidents]
    history = session.scalars(select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id))
    result["history"] = [{"at": iso(h.at), "actor": h.actor, "action": h.action, "task": h.task_bpmn_id,
                          "task_name": h.task_name, "changes": h.changes, "source": h.source} for h in history]
    return result
