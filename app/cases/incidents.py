"""Incidents: a script, table or expression failed on a case; an admin looks, fixes, resolves."""
from __future__ import annotations

from sqlalchemy import func, select

from workflows.clock import utcnow

from ..auth.services import find_user
from ..errors import Forbidden, Invalid, NotFound
from .models import Case, Incident, WorkflowInstance
from .presenters import iso
from .services import audit


def list_incidents(core, include_resolved: bool = False) -> list[dict]:
    with core.db.read() as session:
        query = select(Incident, Case.number).join(Case, Case.id == Incident.case_id).order_by(Incident.id)
        if not include_resolved:
            query = query.where(Incident.resolved_at.is_(None))
        return [{"id": i.id, "case": number, "task": i.task_bpmn_id, "message": i.message, "source": i.source,
                 "at": iso(i.created_at), "resolved_at": iso(i.resolved_at), "resolved_by": i.resolved_by}
                for i, number in session.execute(query)]


def resolve_incident(core, incident_id: int, user: str, note: str = "") -> dict:
    """Mark resolved and let the case's timers run again (the next sweep retries what failed)."""
    with core.db.unit_of_work() as session:
        person = find_user(session, user)
        if "admin" not in person.roles:
            raise Forbidden(f"user '{user}' is not an admin")
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"unknown incident {incident_id}")
        if incident.resolved_at is not None:
            raise Invalid(f"incident {incident_id} is already resolved")
        now = utcnow()
        incident.resolved_at, incident.resolved_by = now, person.username
        case = session.get(Case, incident.case_id)
        inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == case.id)).one()
        bundle = core.bundles.get(session, inst.process_version_id)
        inst.next_timer_at = None if inst.completed else core.engine.next_timer_at(
            core.engine.restore(bundle, inst.process_id, inst.state))
        still_open = session.scalar(select(func.count()).select_from(Incident).where(
            Incident.case_id == case.id, Incident.resolved_at.is_(None), Incident.id != incident.id))
        case.has_incident = bool(still_open)
        audit(session, actor=person.username, action="resolve_incident", case=case, source="cli",
              changes={"incident": incident_id, "note": note}, at=now)
        return {"id": incident_id, "case": case.number, "resolved_at": iso(now), "next_timer_at": iso(inst.next_timer_at)}
