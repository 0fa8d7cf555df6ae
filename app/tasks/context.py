"""The task a page is about: the task, its case, its form schema (what the decision needs: decision.py).

A task that was completed a moment ago is still found (through its audit row), so that a late
submission can be answered with a conflict that shows the user's own data, not a bare 404.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from ..cases.models import AuditEntry, Case, ReadyTask, WorkflowInstance
from ..intake.duplicates import find_duplicates
from ..joint.hooks import personal_task
from ..org.models import Department
from ..supervision.models import CENTER_DEPARTMENT

EMPTY_FORM = {"type": "object", "properties": {}}


@dataclass
class TaskContext:
    id: str
    bpmn_id: str
    name: str
    role: str | None
    department: str | None
    assignee: str | None
    due_at: datetime | None
    tier: int
    case: Case
    bundle: object
    schema: dict
    completed_by: str | None = None
    completed_at: datetime | None = None
    departments: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[Case] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.completed_by is None

    @property
    def personal(self) -> bool:
        return personal_task(self.role, self.assignee)

    @property
    def department_names(self) -> dict[str, str]:
        return dict(self.departments)


def load_task(core, task_id: str, details: bool = True) -> TaskContext | None:
    """The ready task, or the just-completed one; None when neither exists."""
    if not task_id or len(task_id) > 36:
        return None
    with core.db.read() as session:
        row = session.execute(
            select(ReadyTask, Case, WorkflowInstance.process_version_id)
            .join(Case, Case.id == ReadyTask.case_id).join(WorkflowInstance, WorkflowInstance.case_id == Case.id)
            .where(ReadyTask.id == task_id)).first()
        if row is not None:
            task, case, version_id = row
            bundle = core.bundles.get(session, version_id)
            ctx = TaskContext(id=task.id, bpmn_id=task.bpmn_id, name=task.name, role=task.role,
                              department=task.department, assignee=task.assignee, due_at=task.due_at,
                              tier=task.supervision_tier or case.supervision_tier, case=case, bundle=bundle,
                              schema=bundle.form_for(task.bpmn_id) or EMPTY_FORM)
        else:
            row = session.execute(
                select(AuditEntry, Case, WorkflowInstance.process_version_id)
                .join(Case, Case.id == AuditEntry.case_id).join(WorkflowInstance, WorkflowInstance.case_id == Case.id)
                .where(AuditEntry.task_id == task_id, AuditEntry.action == "complete")).first()
            if row is None:
                return None
            done, case, version_id = row
            bundle = core.bundles.get(session, version_id)
            meta = bundle.tasks.get(done.task_bpmn_id)
            role = meta.role if meta else None
            ctx = TaskContext(id=task_id, bpmn_id=done.task_bpmn_id or "", name=done.task_name or "", role=role,
                              department=case.department if role == "handler" else None, assignee=None,
                              due_at=None, tier=case.supervision_tier, case=case, bundle=bundle,
                              schema=bundle.form_for(done.task_bpmn_id) or EMPTY_FORM,
                              completed_by=done.actor, completed_at=done.at)
        if details:
            _add_details(session, ctx)
        return ctx


def _add_details(session, ctx: TaskContext) -> None:
    # The command center supervises its own late steps as a unit, but never handles a case itself.
    ctx.departments = [tuple(r) for r in session.execute(select(Department.code, Department.name)
                                                         .where(Department.code != CENTER_DEPARTMENT)
                                                         .order_by(Department.id))]
    if "duplicate_of" in ctx.schema.get("properties", {}):
        ctx.duplicates = find_duplicates(session, ctx.case.reporter_phone, ctx.case.address,
                                         exclude=ctx.case.number, limit=5)


def conflict_details(core, task_id: str) -> tuple[str | None, datetime | None, str | None]:
    """(completed by, completed at, claimed by) for a task someone else got to first."""
    with core.db.read() as session:
        done = session.execute(select(AuditEntry.actor, AuditEntry.at).where(
            AuditEntry.task_id == task_id, AuditEntry.action == "complete")).first()
        if done is not None:
            return done[0], done[1], None
        holder = session.scalar(select(ReadyTask.assignee).where(ReadyTask.id == task_id))
        return None, None, holder
