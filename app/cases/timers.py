"""The escalation sweep: fire every due timer, reading only instances whose mirror says they are due.

``next_timer_at`` is indexed, so a sweep with nothing due is one index probe
whatever the number of open cases. Each due instance is fired in its own
transaction with the optimistic lock, so two schedulers never fire the same
timer twice and one failing case never stops the others.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from workflows.engine import ScriptIncident
from workflows.workdays import CalendarGap

from .models import Case, WorkflowInstance
from .projection import project_all
from .services import audit, record_incident

log = logging.getLogger(__name__)
BATCH = 500


def due_timers(core, now: datetime | None = None) -> list[dict]:
    now = now or datetime.now(timezone.utc)
    with core.db.read() as session:
        rows = session.execute(
            select(Case.number, WorkflowInstance).join(Case, Case.id == WorkflowInstance.case_id)
            .where(WorkflowInstance.next_timer_at <= now).order_by(WorkflowInstance.next_timer_at)).all()
        result = []
        for number, inst in rows:
            bundle = core.bundles.get(session, inst.process_version_id)
            wf = core.engine.restore(bundle, inst.process_id, inst.state)
            for name, due in core.engine.waiting_timers(wf):
                if due <= now:
                    result.append({"case": number, "timer": name, "due": due.isoformat(timespec="seconds")})
        return result


def fire_due(core, now: datetime | None = None) -> int:
    """Fire everything due at ``now``; returns the number of timers fired."""
    now = now or datetime.now(timezone.utc)
    fired, seen = 0, set()
    while True:
        with core.db.read() as session:
            query = (select(WorkflowInstance.id).where(WorkflowInstance.next_timer_at <= now)
                     .order_by(WorkflowInstance.next_timer_at).limit(BATCH + len(seen)))
            # Each instance is visited once per sweep; whatever is still due waits for the next one.
            ids = [i for i in session.scalars(query) if i not in seen][:BATCH]
        if not ids:
            return fired
        for inst_id in ids:
            seen.add(inst_id)
            try:
                fired += _fire_one(core, inst_id, now)
            except StaleDataError:
                pass  # another scheduler fired it first
            except (ScriptIncident, CalendarGap) as exc:
                _park(core, inst_id, str(exc))
            except Exception as exc:  # noqa: BLE001 - one broken case must not stop the sweep
                log.exception("timer sweep failed on instance %s", inst_id)
                _park(core, inst_id, f"{type(exc).__name__}: {exc}")


def _fire_one(core, inst_id: int, now: datetime) -> int:
    with core.db.unit_of_work() as session:
        inst = session.get(WorkflowInstance, inst_id)
        if inst is None or inst.next_timer_at is None or inst.next_timer_at > now:
            return 0
        case = session.get(Case, inst.case_id)
        bundle = core.bundles.get(session, inst.process_version_id)
        wf = core.engine.restore(bundle, inst.process_id, inst.state)
        due = [name for name, at in core.engine.waiting_timers(wf) if at <= now]
        count = core.engine.fire_due_timers(wf, now)
        changes = project_all(session, core.engine, bundle, case, inst, wf, now)
        audit(session, actor="scheduler", action="timer", case=case, source="scheduler",
              changes={"timers": due, "columns": changes}, at=now)
        return count


def _park(core, inst_id: int, message: str) -> None:
    with core.db.read() as session:
        inst = session.get(WorkflowInstance, inst_id)
        case_id = inst.case_id if inst else None
    if case_id is not None:
        record_incident(core, case_id, message, "scheduler", block_timers=True)
