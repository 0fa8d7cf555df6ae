"""Copy what the workflow knows into real columns and tables, inside the caller's transaction.

The diagrams own the business data while a case runs (scripts set ``status``,
``deadline``, ``signed_at`` ...). After every engine action this module mirrors
that data into the case row, the case's ready tasks, its supervision items and
the instance's ``next_timer_at``. Queries (worklists, KPIs, the timer sweep)
then never need to deserialize a workflow.

It works in two steps so that the expensive part needs no database:
``take_snapshot`` reads everything off a workflow (no I/O), and ``apply``
writes the difference between the snapshot before the action and the one after
it. Because rows are only ever written from snapshots in the same transaction
as the state, the "before" snapshot is exactly what the tables hold, and no
SELECT is needed to find what changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from workflows.engine import Engine, ReadyTask as EngineTask, SupervisionRun
from workflows.workdays import parse_instant

from ..api.webhooks import queue_events
from ..calendar.services import record_provisional
from ..joint.hooks import SIGN_OFF_RELEASED, sign_off_holder
from ..joint.projection import sync_co_handlers
from ..notifications.services import notify_action
from ..reports import kpi_rollup
from ..org.services import direct_assignee
from ..reports.rollups import case_changed, facts
from ..supervision.projection import sync_supervision_items
from .models import AuditEntry, Case, ReadyTask, WorkflowInstance


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
    "reassigned_at": ("reassigned_at", _instant),
    "signed_at": ("signed_at", _instant),
    "replied_at": ("replied_at", _instant),
    "verified_at": ("verified_at", _instant),
    "followed_up_at": ("followed_up_at", _instant),
    "closed_at": ("closed_at", _instant),
}

# The process's ``dispatched_at`` is when the current department got the case (its 签收 timer runs
# from there); the case's 派单时间 is the first dispatch, and a 改派 has its own ``reassigned_at``.
KEEP_FIRST = frozenset({"dispatched_at"})


@dataclass
class Snapshot:
    """Everything the tables mirror about one workflow, read without touching the database."""
    ready: dict[str, EngineTask] = field(default_factory=dict)
    runs: dict[str, SupervisionRun] = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    completed: bool = False
    next_timer_at: datetime | None = None
    state: bytes | None = None
    provisional: list = field(default_factory=list)  # deadlines computed on a provisional year
    notices: list = field(default_factory=list)  # notify(...) calls of the diagram (reminder timers)
    # The version's bundle and the script engine, for decisions taken outside the diagram
    # (the grid field table, app/org/services.py direct_assignee).
    bundle: Any = None
    script_engine: Any = None
    co_parts: list = field(default_factory=list)  # 联动处置: each co-handler's part (CoPart)


EMPTY = Snapshot()


def take_snapshot(engine: Engine, bundle, wf, with_state: bool = True) -> Snapshot:
    return Snapshot(
        ready={t.id: t for t in engine.ready_tasks(bundle, wf)},
        runs={r.key: r for r in engine.supervision_runs(wf)},
        data=engine.main_path_data(wf),
        completed=bool(wf.completed),
        next_timer_at=None if wf.completed else engine.next_timer_at(wf),
        state=engine.dump(wf) if with_state else None,
        provisional=engine.provisional_deadlines(wf),
        notices=engine.notices(wf),
        bundle=bundle, script_engine=engine.script_engine,
        co_parts=engine.co_parts(wf),
    )


def project_case(case: Case, data: dict) -> dict[str, list]:
    """Update case columns from workflow data; return {column: [old, new]} for the audit row."""
    changes = {}
    for key, (column, convert) in COLUMNS.items():
        if key not in data:
            continue
        new = convert(data[key])
        old = getattr(case, column)
        if column in KEEP_FIRST and old is not None:
            continue
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


def _row_values(task: EngineTask, department: str | None) -> dict:
    return {
        "bpmn_id": task.bpmn_id, "name": task.name, "role": task.role, "form": task.form,
        # Handler work belongs to the case's department (a co-handler's part to its unit); every
        # other role works across departments.
        "department": (task.unit or department) if task.role == "handler" else None,
        "supervision_tier": int(task.data.get("supervision_tier") or 0) if task.supervision_key else 0,
        "due_at": task.due or (_instant(task.data.get("tier_due")) if task.supervision_key else None),
    }


# session.info: task id -> the ReadyTask row the session's latest action added (one action's only:
# a sweep or an import writes many cases in one session, and nothing else needs the older ones).
ADDED_READY_TASKS = "bihuan_added_ready_tasks"


def sync_ready_tasks(session: Session, case: Case, before: Snapshot, after: Snapshot,
                     department_before: str | None, now: datetime) -> None:
    """Insert and update the ready-task rows; the ones gone were deleted by ``apply``."""
    added = session.info[ADDED_READY_TASKS] = {}
    for task_id, task in after.ready.items():
        values = _row_values(task, case.department)
        if task_id not in before.ready:
            if task.role == "leader":
                # 批示督办: the leader's sign-off is the instructing leader's own task (claimed for them);
                # released to everyone who may instruct when that account was deactivated meanwhile.
                assignee = sign_off_holder(session, task.data.get("instructed_by"))
                if assignee is None:
                    session.add(AuditEntry(at=now, actor="system", case_id=case.id, action=SIGN_OFF_RELEASED,
                                           task_id=task_id, task_bpmn_id=task.bpmn_id, task_name=task.name,
                                           source="system", changes={"assignee": [task.data.get("instructed_by"), None],
                                                                     "reason": "user_inactive"}))
            elif task.unit:
                assignee = None  # a co-handler's part (联动处置) goes to its unit's pool
            else:
                # A case with a grid goes straight to the grid's professional of its field (直接责任人).
                assignee = direct_assignee(session, case, after, task.role)
            row = ReadyTask(id=task_id, case_id=case.id, created_at=now, assignee=assignee, **values)
            session.add(row)
            # Held for the action's answer (CaseService._brief): the session's identity map holds
            # rows weakly, so once flushed they would be gone and have to be read back.
            added[task_id] = row
        elif values != _row_values(before.ready[task_id], department_before):
            session.execute(update(ReadyTask).where(ReadyTask.id == task_id).values(**values))


def write_state(inst: WorkflowInstance, after: Snapshot, now: datetime) -> None:
    inst.state = after.state
    inst.completed = after.completed
    inst.next_timer_at = after.next_timer_at
    inst.updated_at = now


def apply(session: Session, case: Case, inst: WorkflowInstance, before: Snapshot, after: Snapshot,
          now: datetime) -> dict[str, list]:
    """Write the state and everything that mirrors it; returns the case column changes.

    The instance is written first, on its own, so that its version check (the optimistic lock)
    is the action's first write to the case's rows. A writer that read the same version as a
    concurrent one then waits on, and fails at, that UPDATE (StaleDataError, a clear conflict)
    instead of first deleting and inserting ready tasks: the ready tasks a state predicts have
    fixed ids, so the loser would collide with the winner's rows (IntegrityError) before ever
    reaching its version check.
    """
    write_state(inst, after, now)
    if session.is_modified(inst):  # unless written already: the timer sweep flushes its chunk's first
        session.flush([inst])
    department_before = case.department
    # The dashboard's rollup and the heatmap's dwell times move in the same transaction (app/reports/rollups.py).
    facts_before = None if before is EMPTY else facts(case)
    kpi_before = None if before is EMPTY else kpi_rollup.facts(case, False)  # the flag: see action_changed
    gone = [task_id for task_id in before.ready if task_id not in after.ready]
    # The tasks left are deleted here, returning what the heatmap's dwell times need (one statement).
    left = session.execute(delete(ReadyTask).where(ReadyTask.id.in_(gone))
                           .returning(ReadyTask.bpmn_id, ReadyTask.created_at)).all() if gone else []
    changes = project_case(case, after.data)
    # The rest is flushed once, at commit: nothing here needs to read back what it wrote.
    with session.no_autoflush:
        sync_ready_tasks(session, case, before, after, department_before, now)
        opened: list = []  # the supervision items this action opens, for the notifications below
        tier = sync_supervision_items(session, case, before.runs, after.runs, now, opened=opened)
        sync_co_handlers(session, case, before.co_parts, after.co_parts)
    if tier != case.supervision_tier:
        changes["supervision_tier"] = [case.supervision_tier, tier]
        case.supervision_tier = tier
    # Flagged in the same transaction, so every 暂定 deadline can be listed and later recomputed.
    record_provisional(session, case.id, after.provisional)
    case_changed(session, facts_before, case, [tuple(row) for row in left], now)
    kpi_rollup.action_changed(session, case, kpi_before, opened)
    # Who is told what (and the outbox rows for email, robots, SMS) commits with the action, too.
    notify_action(session, case, before, after, changes,
                  [n for n in after.notices if n not in before.notices], now, opened=opened)
    # And the webhook deliveries to client systems (app/api/webhooks.py): sent later, by the scheduler.
    queue_events(session, case, registered=before is EMPTY, changes=changes, opened=opened, data=after.data, now=now)
    return changes
