"""Repeat calls (回头件/催单): attach a call to the case it is about, or reopen a closed case as 重办.

Attaching counts the call on the case (``Case.repeat_calls``, a ledger column, and one
``RepeatCall`` row with who took it and what was said), audits it, and tells whoever has the
case's current tasks, all in one transaction. Reopening is the process's business: the case's
finished run is followed by a new run started at the diagram's message start event
``case_reopened`` (回头件重办 in bpmn/case_lifecycle.bpmn), which carries the case's data over,
counts a 重办, gives a new deadline and goes back to the same department's 办理. The new run
starts on the version new cases get, so a designer's change to that path applies at once.
"""
from __future__ import annotations

from sqlalchemy import select

from workflows.clock import utcnow
from workflows.engine import ScriptIncident
from workflows.workdays import CalendarGap

from ..auth.services import find_user
from ..cases.models import CHANNELS, Case, ReadyTask, WorkflowInstance
from ..cases.presenters import mask_phone
from ..cases.projection import apply, take_snapshot
from ..cases.services import MAX_TEXT, REGISTER_ROLES, audit
from ..cases.visibility import can_view_case
from ..errors import Blocked, Conflict, Forbidden, Invalid, NotFound
from ..notifications.services import notify_users, queue_of
from ..operations.archive import load_state, unarchive
from ..processes.services import LIFECYCLE_PROCESS, latest_version
from .models import RepeatCall

REOPEN_MESSAGE = "case_reopened"


def attach_call(core, number: str, *, user: str, text: str, channel: str = "phone",
                reporter_phone: str | None = None, reopen: bool = False, source: str = "cli") -> dict:
    """Count a call on case ``number``; with ``reopen``, also reopen the (closed) case as 重办.
    Returns {"number", "status", "repeat_calls", "reopened"}."""
    text = (text or "").strip()
    if not text:
        raise Invalid("text is required: say what the caller said", fields=[("text", "required")])
    if len(text) > MAX_TEXT:
        raise Invalid(f"text is longer than {MAX_TEXT} characters", fields=[("text", "too long")])
    if channel not in CHANNELS:
        raise Invalid(f"unknown channel '{channel}'", fields=[("channel", "unknown channel")])
    now = utcnow()
    reopened = None
    if reopen:  # the new run is computed with no transaction open (see CaseService.complete_task)
        with core.db.read() as session:
            _checked(session, number, user, reopen)
            reopened = _prepare_reopen(core, session, number, text)
        reopened = _run_reopen(core, *reopened)
    with core.db.unit_of_work() as session:
        person, case = _checked(session, number, user, reopen)
        session.add(RepeatCall(case_id=case.id, at=now, by=person.username, channel=channel,
                               caller_phone_masked=mask_phone((reporter_phone or "").strip() or None), text=text,
                               reopened=reopen))
        case.repeat_calls = (case.repeat_calls or 0) + 1
        changes = {"repeat_calls": [case.repeat_calls - 1, case.repeat_calls], "text": text, "channel": channel}
        if reopen:
            changes["columns"] = _reopen(session, case, reopened, now)
        else:
            # 催单: whoever holds the case now hears that the resident called again.
            tasks = session.scalars(select(ReadyTask).where(ReadyTask.case_id == case.id)).all()
            users = {u.id: u for t in tasks for u in queue_of(session, t)}
            notify_users(session, case, list(users.values()), "repeat_call", None,
                         {"case": case.number, "count": case.repeat_calls}, now)
        audit(session, actor=person.username, action="reopen" if reopen else "repeat_call", case=case,
              source=source, changes=changes, at=now)
        session.flush()
        return {"number": case.number, "status": case.status, "repeat_calls": case.repeat_calls, "reopened": reopen}


def _checked(session, number: str, user: str, reopen: bool) -> tuple:
    """(person, case) once the call may be taken on ``number``; raises why not."""
    person = find_user(session, user)
    if not person.roles.intersection(REGISTER_ROLES):
        raise Forbidden(f"user '{user}' may not take calls (needs one of: {', '.join(REGISTER_ROLES)})")
    case = session.scalars(select(Case).where(Case.number == number)).first()
    if case is None:
        raise NotFound(f"unknown case '{number}'")
    if not can_view_case(session, person, case):
        raise Forbidden(f"user '{user}' may not see case '{number}'")
    if reopen and case.status != "closed":
        raise Conflict(f"case '{number}' is {case.status}, not closed: only a closed case is reopened as 重办; "
                       f"attach the call to it instead")
    if case.status in ("refused", "merged"):
        raise Conflict(f"case '{number}' was {case.status}: register the call as a new case")
    return person, case


def _prepare_reopen(core, session, number: str, reason: str) -> tuple:
    """What the reopened run starts from, read in one read transaction."""
    inst = session.scalars(select(WorkflowInstance).join(Case, Case.id == WorkflowInstance.case_id)
                           .where(Case.number == number)).one()
    version = latest_version(session)  # a closed case exists, so a version is deployed
    return (inst.version, inst.process_id, core.bundles.get(session, inst.process_version_id),
            load_state(session, inst), version.id, core.bundles.get(session, version.id), reason)


def _run_reopen(core, read_version, process_id, old_bundle, state, version_id, bundle, reason) -> tuple:
    old = core.engine.restore(old_bundle, process_id, state)
    before = take_snapshot(core.engine, old_bundle, old, with_state=False)
    data = {**core.engine.main_path_data(old), "reopen_reason": reason}
    try:
        wf = core.engine.start_by_message(bundle, LIFECYCLE_PROCESS, REOPEN_MESSAGE, data)
    except ScriptIncident as exc:
        raise Blocked(f"the process could not reopen the case: {exc}") from None
    except CalendarGap as exc:
        raise Invalid(str(exc)) from None
    return read_version, version_id, before, take_snapshot(core.engine, bundle, wf)


def _reopen(session, case: Case, reopened: tuple, now) -> dict:
    read_version, version_id, before, after = reopened
    inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == case.id)).one()
    if inst.version != read_version:
        raise Conflict(f"case '{case.number}' was changed by someone else at the same time; reload and retry")
    unarchive(session, inst)  # the archived copy goes: the case runs again on the new state
    inst.process_version_id = version_id
    return apply(session, case, inst, before, after, now)
