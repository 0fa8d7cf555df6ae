"""``bihuan check``: do the tables agree with the engine state, for every case?

Every action writes the workflow state and what mirrors it (case columns, ready tasks, supervision
items, the audit row) in one transaction, so they can only disagree after a bug, a lost update, a
hand-edited row or a restore gone wrong. This reads the cases in id order, a batch at a time (one
query per table per batch, nothing held but the batch), restores each engine state, takes the same
snapshot the services take after an action (app/cases/projection.py) and compares:

- case columns: every column the workflow data sets (status, department, deadline, ...; of a finished
  case only the status, unless ``strict``), the
  supervision tier (highest open escalation), ``completed`` and ``next_timer_at`` (NULL allowed
  while an incident blocks the case's timers);
- ready tasks: a row for each task the engine has ready, and no row for a task it has not;
- supervision items: each open escalation has its item at its tier (open, or replied when the
  department answered); an item still open or replied belongs to an escalation the engine runs;
- audit: each case has its audit trail, and no task audited as completed is still ready.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from sqlalchemy import func, select

from ..cases.models import AuditEntry, Case, ReadyTask, WorkflowInstance
from ..cases.projection import COLUMNS, KEEP_FIRST, _comparable, take_snapshot
from ..supervision.models import SupervisionItem
from .models import ArchivedState

BATCH = 200
LIVE_ITEM = ("open", "replied")
# A finished case's other columns are its record: the generated demo history (app/reports/
# history_writer.py) gives its synthetic closed cases one shared finished state, so only the status
# is compared unless --strict.
FINISHED_COLUMNS = ("status",)


def check(core, batch: int = BATCH, strict: bool = False) -> Iterator[dict]:
    """Yield one finding per disagreement, case by case; nothing for a consistent database."""
    last_id = 0
    while True:
        with core.db.read() as session:
            rows = session.execute(
                select(Case, WorkflowInstance).outerjoin(WorkflowInstance, WorkflowInstance.case_id == Case.id)
                .where(Case.id > last_id).order_by(Case.id).limit(batch)).all()
            if not rows:
                return
            last_id = rows[-1][0].id
            ids = [case.id for case, _ in rows]
            tables = _batch_tables(session, ids)
            for case, inst in rows:
                yield from _check_case(core, session, case, inst, tables, strict)


def _batch_tables(session, ids: list[int]) -> dict:
    ready = defaultdict(dict)
    for task in session.scalars(select(ReadyTask).where(ReadyTask.case_id.in_(ids))):
        ready[task.case_id][task.id] = task
    items = defaultdict(list)
    for item in session.scalars(select(SupervisionItem).where(SupervisionItem.case_id.in_(ids))):
        items[item.case_id].append(item)
    audits = dict(session.execute(select(AuditEntry.case_id, func.count()).where(AuditEntry.case_id.in_(ids))
                                  .group_by(AuditEntry.case_id)).all())
    ready_ids = [task_id for tasks in ready.values() for task_id in tasks]
    completed = set()
    for offset in range(0, len(ready_ids), 500):
        completed.update(session.scalars(select(AuditEntry.task_id).where(
            AuditEntry.task_id.in_(ready_ids[offset:offset + 500]), AuditEntry.action == "complete")))
    archived = {case_id: state for case_id, state in session.execute(
        select(ArchivedState.case_id, ArchivedState.state).where(ArchivedState.case_id.in_(ids)))}
    return {"ready": ready, "items": items, "audits": audits, "completed": completed, "archived": archived}


def _finding(case: Case, kind: str, **detail) -> dict:
    return {"case": case.number, "check": kind, **detail}


def _check_case(core, session, case: Case, inst: WorkflowInstance | None, tables: dict,
                strict: bool) -> Iterator[dict]:
    if not tables["audits"].get(case.id):
        yield _finding(case, "audit_missing", detail="the case has no audit row")
    rows = tables["ready"].get(case.id, {})
    for task_id in rows:
        if task_id in tables["completed"]:
            yield _finding(case, "ready_task_already_completed", task=task_id, bpmn_id=rows[task_id].bpmn_id)
    if inst is None:
        yield _finding(case, "engine_state_missing", detail="the case has no workflow instance")
        return
    state = inst.state or tables["archived"].get(case.id)
    if not state:
        yield _finding(case, "engine_state_missing", detail="the state is neither in the instance nor archived")
        return
    try:
        bundle = core.bundles.get(session, inst.process_version_id)
        wf = core.engine.restore(bundle, inst.process_id, state)
        snap = take_snapshot(core.engine, bundle, wf, with_state=False)
    except Exception as exc:  # noqa: BLE001 - an unreadable state is itself a finding
        yield _finding(case, "engine_state_unreadable", detail=f"{type(exc).__name__}: {exc}"[:300])
        return
    yield from _columns(case, inst, snap, strict)
    for task_id, engine_task in snap.ready.items():
        row = rows.get(task_id)
        if row is None:
            yield _finding(case, "ready_task_missing", task=task_id, bpmn_id=engine_task.bpmn_id)
        elif row.bpmn_id != engine_task.bpmn_id:
            yield _finding(case, "ready_task_differs", task=task_id, table=row.bpmn_id, engine=engine_task.bpmn_id)
    for task_id, row in rows.items():
        if task_id not in snap.ready:
            yield _finding(case, "ready_task_orphan", task=task_id, bpmn_id=row.bpmn_id,
                           detail="a ready task whose engine task is not ready")
    yield from _supervision(case, snap, tables["items"].get(case.id, []))


def _columns(case: Case, inst: WorkflowInstance, snap, strict: bool) -> Iterator[dict]:
    for key, (column, convert) in COLUMNS.items():
        if key not in snap.data or (snap.completed and key not in FINISHED_COLUMNS and not strict):
            continue
        expected, actual = convert(snap.data[key]), getattr(case, column)
        if column in KEEP_FIRST:  # the first dispatch stays in the column; the engine has the latest
            if expected is not None and actual is None:
                yield _finding(case, "column_differs", column=column, table=None, engine=_text(expected))
            continue
        if _comparable(expected) != _comparable(actual):
            yield _finding(case, "column_differs", column=column, table=_text(actual), engine=_text(expected))
    tier = max((run.tier for run in snap.runs.values() if not run.completed), default=0)
    if case.supervision_tier != tier:
        yield _finding(case, "column_differs", column="supervision_tier", table=case.supervision_tier, engine=tier)
    if bool(inst.completed) != snap.completed:
        yield _finding(case, "instance_differs", column="completed", table=inst.completed, engine=snap.completed)
    if inst.next_timer_at != snap.next_timer_at and not (inst.next_timer_at is None and case.has_incident):
        yield _finding(case, "instance_differs", column="next_timer_at", table=_text(inst.next_timer_at),
                       engine=_text(snap.next_timer_at))


def _supervision(case: Case, snap, items: list[SupervisionItem]) -> Iterator[dict]:
    live = {(run.key, run.tier): run for run in snap.runs.values() if not run.completed and run.tier >= 1}
    by_key = {(item.run_key, item.tier): item for item in items}
    for (key, tier), run in live.items():
        item = by_key.get((key, tier))
        if item is None:
            yield _finding(case, "supervision_item_missing", run=key, tier=tier)
        elif item.status not in LIVE_ITEM:
            yield _finding(case, "supervision_item_differs", run=key, tier=tier, table=item.status,
                           engine="replied" if run.replied else "open")
    # A run waiting for 核实销号 may read tier 0 while its item stays "replied": the run, not the
    # tier, is what keeps an item alive.
    running = {run.key for run in snap.runs.values() if not run.completed}
    for item in items:
        if item.status in LIVE_ITEM and item.run_key not in running:
            yield _finding(case, "supervision_item_orphan", run=item.run_key, tier=item.tier, status=item.status,
                           detail="an open supervision item whose escalation the engine no longer runs")


def _text(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
