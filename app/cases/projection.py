"""Copy what the workflow knows into real columns and tables, inside the caller's transaction.

The diagrams own the business data while a case runs (scripts set ``status``,
``deadline``, ``signed_at`` ...). After every engine action this module
mirrors that data into the case row, rewrites the case's ready tasks, syncs
its supervision items and the instance's ``next_timer_at``. Queries (worklists,
KPIs, the timer sweep) then never need to deserialize a workflow.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.util.task import TaskState

from workflows.engine import Engine
from workflows.workdays import parse_instant

from ..supervision.projection import sync_supervision_items
from .models import Case, ReadyTask, WorkflowInstance


def _instant(value: Any) -> datetime | None:
    return parse_instant(value) if value else None


def _int(value: Any) -> int:
    return int(value or 0)


# workflow data key -> (case column, converter)
COLUMNS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "status": ("status", str),
    "department": ("department", lambda v: v or None),
    "category": ("category", lambda v: v or None),
    "difficulty": ("difficulty", lambda v: v or None),
    "urgent": ("urgent", bool),
    "satisfaction": ("satisfaction", lambda v: v or None),
    "return_count": ("return_count", _int),
    "redo_count": ("redo_count", _int),
    "extensions": ("extensions", lambda v: list(v or [])),
    "refuse_reason": ("refuse_reason", lambda v: v or None),
    "duplicate_of": ("merged_into", lambda v: v or None),
    "deadline": ("deadline", _instant),
    "dispatched_at": ("dispatched_at", _instant),
    "signed_at": ("signed_at", _instant),
    "replied_at": ("replied_at", _instant),
    "verified_at": ("verified_at", _instant),
    "followed_up_at": ("followed_up_at", _instant),
    "closed_at": ("closed_at", _instant),
}


def lifecycle_data(wf) -> dict:
    """The main path's current data: the newest ready user task of the top workflow.

    Escalation branches (call activities, timers) carry a copy of the data from the
    moment they split off, so they only count when no user task is ready.
    """
    if wf.completed:
        return wf.data
    live = [t for t in wf.tasks.values()
            if t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED)]
    if not live:
        return wf.data
    user_tasks = [t for t in live if t.task_spec.manual and t.state == TaskState.READY]
    return max(user_tasks or live, key=lambda t: t.last_state_change).data


def project_case(case: Case, data: dict) -> dict[str, list]:
    """Update case columns from workflow data; return {column: [old, new]} for the audit row."""
    changes = {}
    for key, (column, convert) in COLUMNS.items():
        if key not in data:
            continue
        new = convert(data[key])
        old = getattr(case, column)
        if _comparable(old) != _comparable(new):
            setattr(case, column, new)
            changes[column] = [_jsonable(old), _jsonable(new)]
    return changes


def _comparable(value):
    if isinstance(value, datetime):
        return parse_instant(value).isoformat()
    return value


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def sync_ready_tasks(session: Session, engine: Engine, bundle, case: Case, wf, now: datetime) -> None:
    existing = {rt.id: rt for rt in session.scalars(select(ReadyTask).where(ReadyTask.case_id == case.id))}
    current = engine.ready_tasks(bundle, wf)
    for task in current:
        row = existing.pop(task.id, None)
        if row is None:
            row = ReadyTask(id=task.id, case_id=case.id, created_at=now, assignee=None)
            session.add(row)
        row.bpmn_id = task.bpmn_id
        row.name = task.name
        row.role = task.role
        row.form = task.form
        # Handler work belongs to the case's department; every other role works across departments.
        row.department = case.department if task.role == "handler" else None
        row.supervision_tier = int(task.data.get("supervision_tier") or 0) if task.supervision_key else 0
        row.due_at = task.due or (_instant(task.data.get("tier_due")) if task.supervision_key else None)
    for row in existing.values():
        session.delete(row)


def project_all(session: Session, engine: Engine, bundle, case: Case, inst: WorkflowInstance, wf,
                now: datetime) -> dict[str, list]:
    """Everything that must change together with the workflow state, in one call."""
    inst.state = engine.dump(wf)
    inst.completed = bool(wf.completed)
    timers = engine.waiting_timers(wf)
    inst.next_timer_at = None if wf.completed else engine.next_timer_at(timers)
    inst.updated_at = now
    changes = project_case(case, lifecycle_data(wf))
    session.flush()  # the case's department must be current before ready tasks copy it
    sync_ready_tasks(session, engine, bundle, case, wf, now)
    tier_before = case.supervision_tier
    case.supervision_tier = sync_supervision_items(session, engine, case, wf, now)
    if case.supervision_tier != tier_before:
        changes["supervision_tier"] = [tier_before, case.supervision_tier]
    return changes
