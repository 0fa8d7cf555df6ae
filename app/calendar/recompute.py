"""Recomputing the deadlines of open cases that were computed on a provisional year.

Runs after a year's official schedule is imported (and on demand: ``bihuan calendar recompute
YEAR``). Each case is one transaction: its workflow is restored, the engine redoes the recorded
``working_days_after`` calls on the official calendar and moves every variable and waiting timer
to the new instants (so timers are rescheduled by the engine, not by editing rows), evaluates the
waiting reminder timers (到期预警, counted back from those deadlines) again, the
projection mirrors the new deadline, ready-task due times and ``next_timer_at`` into the tables,
and one ``recompute_deadlines`` audit row says what moved. A case that changes at the same
moment keeps its records and is retried by the next recompute.
"""
from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from workflows.clock import utcnow
from workflows.deadlines import ProvisionalDeadline as Computed

from ..cases.models import AuditEntry, Case, WorkflowInstance
from ..cases.projection import apply, take_snapshot
from ..errors import Invalid
from .models import ProvisionalDeadline
from .services import record_provisional

log = logging.getLogger(__name__)


def recompute_year(core, year: int, actor: str = "") -> dict:
    """Recompute every case with a provisional deadline in ``year``, which must now be official."""
    calendar = core.calendar.current()
    if not calendar.is_official(year):
        raise Invalid(f"{year} has no official schedule yet: import it first", fields=[("year", str(year))])
    with core.db.read() as session:
        case_ids = list(session.scalars(select(ProvisionalDeadline.case_id)
                                        .where(ProvisionalDeadline.year == year).distinct()))
    result = {"cases": len(case_ids), "changed": 0, "unchanged": 0, "closed": 0, "retry": []}
    for case_id in sorted(case_ids):
        try:
            outcome = _recompute_case(core, case_id, year, actor)
        except (StaleDataError, IntegrityError):
            outcome = "retry"
        if outcome == "retry":
            with core.db.read() as session:
                result["retry"].append(session.scalar(select(Case.number).where(Case.id == case_id)))
        else:
            result[outcome] += 1
    if result["retry"]:
        log.warning("deadlines of %d case(s) changed while %s was recomputed; run 'bihuan calendar recompute %s': %s",
                    len(result["retry"]), year, year, ", ".join(result["retry"]))
    return result


def _recompute_case(core, case_id: int, year: int, actor: str) -> str:
    calendar = core.calendar.current()
    with core.db.unit_of_work() as session:
        inst, case = session.execute(select(WorkflowInstance, Case).join(Case, Case.id == WorkflowInstance.case_id)
                                     .where(Case.id == case_id)).one()
        rows = session.scalars(select(ProvisionalDeadline).where(ProvisionalDeadline.case_id == case_id)).all()
        # Every record of a year that is now official is redone; one still reaching a provisional
        # year is recorded again with its new value.
        due = [r for r in rows if calendar.is_official(r.year)]
        if inst.completed:
            # A closed case's history stays as it happened; only open deadlines are recomputed.
            session.execute(delete(ProvisionalDeadline).where(ProvisionalDeadline.id.in_([r.id for r in due])))
            return "closed"
        bundle = core.bundles.get(session, inst.process_version_id)
        wf = core.engine.restore(bundle, inst.process_id, inst.state)
        before = take_snapshot(core.engine, bundle, wf, with_state=False)
        entries = [(r.start, r.days, r.value) for r in due]
        mapping = core.engine.recompute_deadlines(wf, entries, calendar)
        # The 到期预警 counted back from those deadlines move with them (evaluated again, as the
        # timer's expression says: the designer's rule, on the calendar now in force).
        reminders = core.engine.reschedule_reminders(wf)
        session.execute(delete(ProvisionalDeadline).where(ProvisionalDeadline.id.in_([r.id for r in due])))
        still = []
        for start, days, old in entries:
            new = mapping.get(old, old)
            start = mapping.get(start, start)
            years = calendar.provisional_years_between(start, new)
            if years:
                still.append(Computed(start, days, new, tuple(years)))
        record_provisional(session, case.id, still)
        if not mapping and not reminders:
            return "unchanged"
        now = utcnow()
        after = take_snapshot(core.engine, bundle, wf)
        columns = apply(session, case, inst, before, after, now)
        session.add(AuditEntry(at=now, actor=actor or "calendar", case_id=case.id, action="recompute_deadlines",
                               source="calendar", changes={"year": year, "deadlines": mapping, "reminders": reminders,
                                        "columns": columns}))
        return "changed"
