"""Archiving: closed cases' engine state leaves the hot table; their columns, audit and KPIs stay.

``workflow_instances.state`` is most of the bytes of a case that runs for years. A closed case's
state is read again only to draw its diagram (the completed path on the case page) or to reopen it
(a repeat call, app/intake/repeat_calls.py). ``archive`` moves it to ``archived_states`` in batches,
one transaction each, and leaves an empty state behind, so the instance row (joined by task pages,
the heatmap and migrations) stays and the hot table holds only small rows. ``load_state`` reads
either place; ``unarchive`` moves one back when a closed case is reopened.
"""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..cases.models import Case, WorkflowInstance
from ..cases.services import audit
from ..errors import Invalid
from .models import ArchivedState

BATCH = 500
SHANGHAI = ZoneInfo("Asia/Shanghai")
EMPTY_STATE = b""


def parse_cutoff(text: str) -> datetime:
    """``YYYY-MM-DD``: midnight of that day in Shanghai; not later than today."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise Invalid(f"invalid date '{text}': use YYYY-MM-DD") from None
    cutoff = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    if cutoff > utcnow():
        raise Invalid(f"--closed-before {text} is in the future: only cases closed before today can be archived")
    return cutoff


def _archivable(cutoff: datetime):
    """Finished instances of cases closed before the cutoff (refused and merged ones end without
    closed_at: their registration counts), state still in the hot table."""
    return (select(WorkflowInstance.id, WorkflowInstance.case_id)
            .join(Case, Case.id == WorkflowInstance.case_id)
            .where(WorkflowInstance.completed.is_(True), WorkflowInstance.state != EMPTY_STATE,
                   or_(Case.closed_at < cutoff,
                       and_(Case.closed_at.is_(None), Case.status.in_(("refused", "merged")),
                            Case.registered_at < cutoff))))


def archive_closed(core, cutoff: datetime, actor: str = "cli", limit: int | None = None) -> dict:
    archived, batches, last_id = 0, 0, 0
    now = utcnow()
    while limit is None or archived < limit:
        size = BATCH if limit is None else min(BATCH, limit - archived)
        with core.db.unit_of_work() as session:
            rows = session.execute(_archivable(cutoff).where(WorkflowInstance.id > last_id)
                                   .order_by(WorkflowInstance.id).limit(size)).all()
            if not rows:
                break
            last_id = rows[-1][0]
            ids = [row[0] for row in rows]
            # Copied by the database itself: the blobs never travel through Python.
            session.execute(insert(ArchivedState).from_select(
                ["case_id", "process_version_id", "process_id", "state", "archived_at"],
                select(WorkflowInstance.case_id, WorkflowInstance.process_version_id, WorkflowInstance.process_id,
                       WorkflowInstance.state, literal(now, ArchivedState.archived_at.type))
                .where(WorkflowInstance.id.in_(ids))))
            # version + 1: a writer that read the instance before archiving fails its optimistic check.
            session.execute(update(WorkflowInstance).where(WorkflowInstance.id.in_(ids))
                            .values(state=EMPTY_STATE, version=WorkflowInstance.version + 1, updated_at=now),
                            execution_options={"synchronize_session": False})
            archived += len(ids)
            batches += 1
    if archived:
        with core.db.unit_of_work() as session:
            audit(session, actor=actor, action="archive", case=None, source="cli",
                  changes={"closed_before": cutoff.isoformat(), "cases": archived}, at=now)
    with core.db.read() as session:
        total = session.scalar(select(func.count()).select_from(ArchivedState))
    return {"archived": archived, "batches": batches, "closed_before": cutoff.isoformat(), "archived_total": total}


def load_state(session: Session, inst: WorkflowInstance) -> bytes:
    """The instance's engine state, from the hot table or the archive."""
    if inst.state:
        return inst.state
    state = session.scalar(select(ArchivedState.state).where(ArchivedState.case_id == inst.case_id))
    return state if state is not None else inst.state


def unarchive(session: Session, inst: WorkflowInstance) -> bool:
    """Put an archived state back into the instance (a reopened case runs again); True if it was archived."""
    if inst.state:
        return False
    row = session.get(ArchivedState, inst.case_id)
    if row is None:
        return False
    inst.state = row.state
    session.execute(delete(ArchivedState).where(ArchivedState.case_id == inst.case_id))
    return True
