"""The case service layer: register a request, complete a task. One action, one transaction."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.exc import StaleDataError

from workflows.clock import utcnow
from workflows.engine import FormInvalid, ScriptIncident, TaskNotReady
from workflows.workdays import CalendarGap

from ..auth.models import User
from ..auth.services import find_user, require_role
from ..db import retry_transient
from ..errors import Blocked, Conflict, Forbidden, Invalid, NotFound
from ..joint import hooks as joint
from ..org.models import Department, Grid
from ..processes.services import LIFECYCLE_PROCESS, ensure_shipped_version, latest_version
from ..supervision.models import CENTER_DEPARTMENT
from ..supervision.projection import record_tier_action
from .models import CHANNELS, TYPES, AuditEntry, Case, Incident, ReadyTask, WorkflowInstance
from .numbers import next_case_number
from .projection import ADDED_READY_TASKS, EMPTY, apply, take_snapshot
from .presenters import case_detail, task_view
from .visibility import REVEAL_REPORTER, can_view_case, may_reveal_reporter

TYPE_BY_LABEL = {label: key for key, label in TYPES.items()}
# Who may register (受理) a case. Grid workers do it from the patrol page (app/intake/views.py).
REGISTER_ROLES = ("operator", "dispatcher", "grid_worker", "admin")
MAX_TEXT = 5000
# How often complete_task redoes its engine work when another action changed the case meanwhile.
OPTIMISTIC_ATTEMPTS = 5
REPLY_TASK = "handle"  # the lead department's 办理; completed with decision "reply" it sets replied_by
log = logging.getLogger(__name__)


def audit(session: Session, *, actor: str, action: str, case: Case | None, source: str, changes: dict,
          task: ReadyTask | None = None, at: datetime | None = None) -> None:
    session.add(AuditEntry(at=at or utcnow(), actor=actor, case_id=case.id if case else None, action=action,
                           task_id=task.id if task else None, task_bpmn_id=task.bpmn_id if task else None,
                           task_name=task.name if task else None, changes=changes, source=source))


def record_incident(core, case_id: int, message: str, source: str, task_bpmn_id: str | None = None,
                    block_timers: bool = False) -> None:
    """In its own transaction, after the failed action rolled back: the case and its state stay as they were."""
    with core.db.unit_of_work() as session:
        case = session.get(Case, case_id)
        number = case.number
        session.add(Incident(case_id=case_id, task_bpmn_id=task_bpmn_id, message=message[:4000], source=source,
                             created_at=utcnow()))
        case.has_incident = True
        if block_timers:
            # A timer whose script fails would fail again on every sweep; park it until an admin resolves it.
            inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == case_id)).one()
            inst.next_timer_at = None
        audit(session, actor=source, action="incident", case=case, source=source,
              changes={"message": message[:500], "task": task_bpmn_id})
    # Logged once committed, so the log names only incidents an admin will find on the case.
    log.warning("incident on case %s at task %s (%s): %s", number, task_bpmn_id or "-", source, message[:500])


class CaseService:
    def __init__(self, core):
        self.core = core

    # -- intake ------------------------------------------------------------------------
    @retry_transient()  # a failover mid-action: the whole action again, from a fresh read (app/db.py)
    def register(self, *, channel: str, type: str, text: str, category: str | None = None,
                 address: str | None = None, reporter_name: str | None = None, reporter_phone: str | None = None,
                 grid: str | None = None, urgent: bool = False, user: str | None = None,
                 source: str = "cli", detail: bool = True, attach=None, session: Session | None = None) -> dict:
        """Register (受理) a request. Returns the case as ``show`` does, or with ``detail=False``
        just its number, status and ready tasks (what a caller needs to go on).

        Bad input raises ``Invalid`` whose ``fields`` name the argument at fault, so that a form
        can put the problem at its field. ``attach(session, case, actor)`` adds records that belong
        to the registration (the attachments) inside its transaction. ``session`` (an open unit of
        work) registers inside the caller's transaction: a batch import commits all its cases or none."""
        channel = (channel or "").strip()
        if channel not in CHANNELS:
            raise Invalid(f"unknown channel '{channel}': use one of {', '.join(CHANNELS)}",
                          fields=[("channel", "unknown channel")])
        kind = TYPE_BY_LABEL.get(type, type)
        if kind not in TYPES:
            raise Invalid(f"unknown type '{type}': use one of {', '.join(TYPE_BY_LABEL)}",
                          fields=[("type", "unknown type")])
        text = (text or "").strip()
        if not text:
            raise Invalid("text is required", fields=[("text", "required")])
        if len(text) > MAX_TEXT:
            raise Invalid(f"text is longer than {MAX_TEXT} characters", fields=[("text", "too long")])
        if reporter_phone and not all(c.isdigit() or c in "+- " for c in reporter_phone):
            raise Invalid(f"invalid reporter phone '{reporter_phone}'",
                          fields=[("reporter_phone", "only digits, spaces, + and -")])
        fields = {"channel": channel, "type": kind, "category": category or None, "text": text,
                  "address": address or None, "grid": grid or None, "reporter_name": reporter_name or None,
                  "reporter_phone": (reporter_phone or "").strip() or None, "urgent": bool(urgent)}
        now = utcnow()
        if session is not None:  # inside the caller's transaction (a batch import): all in it
            actor, version, bundle = self._intake_checks(session, user, grid, deploy=True)
            number = next_case_number(session, now)
            return self._write_registration(session, number, fields, actor, version, bundle,
                                            self._start(bundle, kind, fields, number), now, source, attach, detail)
        # The engine runs outside the write transaction (see complete_task): checks in a read
        # transaction, the number reserved in a short one of its own, the engine's start in memory,
        # then one write transaction with the case and everything the start produced. A registration
        # that then fails (an incident at intake, a lost connection) leaves its number unused: a gap
        # in the day's numbers, like a sequence's, rather than a write lock held during a script.
        with self.core.db.read() as read:
            actor, version, bundle = self._intake_checks(read, user, grid, deploy=False)
        if version is None:  # a fresh install: the shipped version is deployed in the write transaction
            with self.core.db.unit_of_work() as session:
                actor, version, bundle = self._intake_checks(session, user, grid, deploy=True)
                number = next_case_number(session, now)
                return self._write_registration(session, number, fields, actor, version, bundle,
                                                self._start(bundle, kind, fields, number), now, source, attach,
                                                detail)
        with self.core.db.unit_of_work() as session:
            number = next_case_number(session, now)
        after = self._start(bundle, kind, fields, number)
        with self.core.db.unit_of_work() as session:
            return self._write_registration(session, number, fields, actor, version, bundle, after, now, source,
                                            attach, detail)

    def _intake_checks(self, session: Session, user: str | None, grid: str | None, deploy: bool):
        """(actor, version, bundle) for a registration; the version is None on a fresh install unless
        ``deploy`` (a write transaction) may deploy the shipped one."""
        actor = self._actor(session, user, REGISTER_ROLES)
        if grid and session.scalars(select(Grid).where(Grid.code == grid)).first() is None:
            raise Invalid(f"unknown grid '{grid}'", fields=[("grid", "unknown grid")])
        version = ensure_shipped_version(session) if deploy else latest_version(session)
        bundle = self.core.bundles.get(session, version.id) if version is not None else None
        return actor, version, bundle

    def _start(self, bundle, kind: str, fields: dict, number: str):
        """The process started in memory for a new case; the snapshot its registration writes."""
        data = {"type": kind, "category": fields["category"], "difficulty": "normal", "urgent": fields["urgent"],
                "department": None, "channel": fields["channel"], "case_number": number}
        try:
            wf = self.core.engine.start(bundle, LIFECYCLE_PROCESS, data)
        except ScriptIncident as exc:
            raise Blocked(f"the process failed at intake: {exc}") from None
        except CalendarGap as exc:
            raise Invalid(str(exc)) from None
        return take_snapshot(self.core.engine, bundle, wf)

    def _write_registration(self, session: Session, number: str, fields: dict, actor: str, version, bundle, after,
                            now: datetime, source: str, attach, detail: bool) -> dict:
        case = Case(number=number, **fields, status="registered", registered_at=now, registered_by=actor,
                    extensions=[], return_count=0, redo_count=0, supervision_tier=0, has_incident=False)
        session.add(case)
        session.flush()
        inst = WorkflowInstance(case_id=case.id, process_version_id=version.id, process_id=LIFECYCLE_PROCESS,
                                state=b"", updated_at=now)
        session.add(inst)
        changes = apply(session, case, inst, EMPTY, after, now)
        audit(session, actor=actor, action="register", case=case, source=source,
              changes={"channel": fields["channel"], "type": fields["type"], "category": case.category, **changes},
              at=now)
        if attach is not None:
            attach(session, case, actor)
        session.flush()
        return case_detail(session, case) if detail else self._brief(session, case, after)

    # -- tasks ---------------------------------------------------------------------------
    @retry_transient()
    def complete_task(self, task_id: str, *, user: str, data, source: str = "cli", detail: bool = True,
                      attach=None) -> dict:
        """Complete a ready user task with form data, as ``user``; one write transaction (``attach``,
        as in ``register``, also gets the task).

        The engine never runs inside the write transaction: a designer's script may take up to the
        sandbox's budget, and on SQLite a write transaction holds the whole database's write lock.
        So the task is read and checked in a read transaction, the engine completes it in memory,
        and only then does a short write transaction re-read the instance and write everything
        (state, columns, ready tasks, items, audit) together. If another action changed the case in
        between (its version moved on), the engine's result is thrown away and the action starts
        again from a fresh read, as a writer queueing behind the other would have.
        """
        if not isinstance(data, dict):
            raise Invalid("task data must be a JSON object")
        task_id = str(task_id)
        case_id = None
        raced = f"task '{task_id}' was changed by someone else at the same time; reload and retry"
        try:
            for _attempt in range(OPTIMISTIC_ATTEMPTS):
                now = utcnow()
                with self.core.db.read() as session:
                    ready, case, inst = self._ready_row(session, task_id)
                    case_id, read_version, state = case.id, inst.version, inst.state
                    person = find_user(session, user)
                    if ready.role != joint.LEADER_ROLE:  # the sign-off is the instructing person's (check_task_data)
                        require_role(person, ready.role, ready.department)
                    joint.check_task_data(session, ready, case, data, person)
                    self._check_claim(ready, person)
                    bundle = self.core.bundles.get(session, inst.process_version_id)
                wf = self.core.engine.restore(bundle, inst.process_id, state)
                before = take_snapshot(self.core.engine, bundle, wf, with_state=False)
                try:
                    done = self.core.engine.complete(bundle, wf, ready.id, data)
                except TaskNotReady as exc:
                    raise Conflict(str(exc)) from None
                except FormInvalid as exc:
                    raise Invalid(str(exc), fields=exc.errors) from None
                except CalendarGap as exc:
                    raise Invalid(str(exc)) from None
                after = take_snapshot(self.core.engine, bundle, wf)
                with self.core.db.unit_of_work() as session:
                    ready, case, inst = self._ready_row(session, task_id, with_state=False)
                    if inst.version != read_version:
                        continue  # another action came first: redo ours on its result
                    self._check_claim(ready, person)
                    result = self._write_completion(session, ready, case, inst, person, data, done, before, after,
                                                    now, source, attach, detail)
                    return result
            raise Conflict(raced)
        except StaleDataError:
            raise Conflict(raced) from None
        except IntegrityError:
            # The version check is the action's first write (projection.apply), so a concurrent writer
            # should surface above. Should one still get a row in first, the user gets the same conflict,
            # not a 500; an integrity error nobody else caused (the state is as we read it) is a bug.
            if case_id is None:
                raise
            with self.core.db.read() as session:
                current = session.scalar(select(WorkflowInstance.version).where(WorkflowInstance.case_id == case_id))
            if current == read_version:
                raise
            raise Conflict(raced) from None
        except ScriptIncident as exc:
            record_incident(self.core, case_id, str(exc), source, exc.bpmn_id)
            raise Blocked(f"the process failed and an incident was recorded: {exc}") from None

    def _ready_row(self, session: Session, task_id: str, with_state: bool = True
                   ) -> tuple[ReadyTask, Case, WorkflowInstance]:
        query = (select(ReadyTask, Case, WorkflowInstance).join(Case, Case.id == ReadyTask.case_id)
                 .join(WorkflowInstance, WorkflowInstance.case_id == Case.id).where(ReadyTask.id == task_id))
        if not with_state:  # the write half replaces the state; reading the old blob again is wasted
            query = query.options(defer(WorkflowInstance.state))
        row = session.execute(query).first()
        if row is None:
            self._raise_not_ready(session, task_id)
        return row

    @staticmethod
    def _check_claim(ready: ReadyTask, person: User) -> None:
        if ready.assignee and ready.assignee != person.username:
            raise Conflict(f"task '{ready.id}' is claimed by '{ready.assignee}'")

    def _write_completion(self, session: Session, ready: ReadyTask, case: Case, inst: WorkflowInstance,
                          person: User, data: dict, done, before, after, now: datetime, source: str, attach,
                          detail: bool) -> dict:
        """The write half of ``complete_task``: everything the completion changes, in the caller's
        unit of work, from the engine's result computed before it began."""
        if done.supervision_key:
            record_tier_action(session, case.id, done.supervision_key, ready.supervision_tier,
                               {"task": ready.bpmn_id, "name": ready.name, "by": person.username,
                                "by_name": person.display_name,
                                "at": now.isoformat(timespec="seconds"), "data": data})
        changes = apply(session, case, inst, before, after, now)
        if ready.bpmn_id == REPLY_TASK and data.get("decision", "reply") == "reply" \
                and case.replied_by != person.username:
            # 责任人: the person whose reply this is, even when a joint case's reply waits for
            # the co-handlers' feedback (replied_at then comes with the last feedback).
            changes["replied_by"] = [case.replied_by, person.username]
            case.replied_by = person.username
        self._check_references(session, case, changes)
        joint.after_task(session, case, ready, data, person, now)
        # A co-handler's task names its unit (联动处置), so the timeline says whose part it was.
        unit = {"unit": ready.department} if ready.department and ready.department != case.department else {}
        audit(session, actor=person.username, action="complete", case=case, source=source,
              task=ready, changes={"data": data, "columns": changes, **unit}, at=now)
        if attach is not None:
            attach(session, case, person.username, ready)
        session.flush()
        return case_detail(session, case) if detail else self._brief(session, case, after)

    @staticmethod
    def _brief(session: Session, case: Case, after=None) -> dict:
        """The case's number, status and ready tasks. Given the action's after-snapshot, the tasks
        come from the rows this action added (``projection.ADDED_READY_TASKS``), not from a SELECT
        of what it has just written; when a task stayed ready through the action (e.g. sign_for
        beside a 催办), its row is not in hand and the tasks are read as before."""
        tasks = None
        if after is not None:
            added = session.info.get(ADDED_READY_TASKS, {})
            if all(task_id in added for task_id in after.ready):
                tasks = sorted((added[task_id] for task_id in after.ready), key=lambda t: t.created_at)
        if tasks is None:
            tasks = session.scalars(select(ReadyTask).where(ReadyTask.case_id == case.id)
                                    .order_by(ReadyTask.created_at))
        return {"number": case.number, "status": case.status, "tasks": [task_view(t, case.number) for t in tasks]}

    @staticmethod
    def _raise_not_ready(session: Session, task_id: str) -> None:
        done = session.scalars(select(AuditEntry).where(AuditEntry.task_id == task_id,
                                                        AuditEntry.action == "complete")).first()
        if done is not None:
            raise Conflict(f"task '{task_id}' was already completed by '{done.actor}' at "
                           f"{done.at.isoformat(timespec='seconds')}")
        raise NotFound(f"task '{task_id}' not found or no longer ready")

    @staticmethod
    def _check_references(session: Session, case: Case, changes: dict) -> None:
        """Values a form or a table may name must exist; otherwise the whole action is refused."""
        if "department" in changes and case.department and session.scalars(
                select(Department).where(Department.code == case.department)).first() is None:
            raise Invalid(f"unknown department '{case.department}'", fields=[("department", "unknown department")])
        if "department" in changes and case.department == CENTER_DEPARTMENT:
            raise Invalid("the command center supervises cases; it cannot be sent one to handle",
                          fields=[("department", "not a handling department")])
        if "merged_into" in changes and case.merged_into:
            if case.merged_into == case.number or session.scalars(
                    select(Case).where(Case.number == case.merged_into)).first() is None:
                raise Invalid(f"unknown case '{case.merged_into}' to merge into",
                              fields=[("duplicate_of", "unknown case")])

    def _actor(self, session: Session, username: str | None, roles: tuple[str, ...]) -> str:
        if username is None:
            return "cli"
        person: User = find_user(session, username)
        if not person.roles.intersection(roles):
            raise Invalid(f"user '{username}' may not register cases (needs one of: {', '.join(roles)})")
        return person.username

    # -- reading ---------------------------------------------------------------------------
    def show(self, number: str, *, viewer: str | None = None, reveal_reporter: bool = False,
             source: str = "cli", for_task: str | None = None) -> dict:
        """The case as a dict, the reporter masked. With ``viewer`` (a username), only if that user
        may see the case. ``reveal_reporter`` unmasks the reporter for a viewer who may call them
        back, and records the look (``reveal_reporter`` in the audit trail) in the same transaction
        as the read: whoever asks, nobody sees the number without a row saying who did. ``for_task``
        (a ready task id of this case, e.g. 回访, whose caller must dial the number) is recorded on that row."""
        if reveal_reporter and viewer is None:
            raise Forbidden("say who is looking (viewer) to see the reporter unmasked; each look is audited")
        with (self.core.db.unit_of_work() if reveal_reporter else self.core.db.read()) as session:
            case = session.scalars(select(Case).where(Case.number == number)).first()
            if case is None:
                raise NotFound(f"unknown case '{number}'")
            if viewer is not None:
                person: User = find_user(session, viewer)
                if not can_view_case(session, person, case):
                    raise Forbidden(f"user '{person.username}' may not see case '{number}'")
                if reveal_reporter:
                    if not may_reveal_reporter(person):
                        raise Forbidden(f"user '{person.username}' may not see the reporter unmasked "
                                        f"(needs one of: {', '.join(sorted(REVEAL_REPORTER))})")
                    task = session.get(ReadyTask, for_task) if for_task else None
                    if task is not None and task.case_id != case.id:
                        raise Invalid(f"task '{for_task}' is not a task of case '{number}'")
                    audit(session, actor=person.username, action="reveal_reporter", case=case, source=source,
                          changes={}, task=task)
            return case_detail(session, case, reveal_reporter)

    def list_tasks(self, case: str | None = None, role: str | None = None, user: str | None = None) -> list[dict]:
        with self.core.db.read() as session:
            query = select(ReadyTask, Case.number).join(Case, Case.id == ReadyTask.case_id)
            if case:
                case_row = session.scalars(select(Case).where(Case.number == case)).first()
                if case_row is None:
                    raise NotFound(f"unknown case '{case}'")
                query = query.where(ReadyTask.case_id == case_row.id)
            if role:
                query = query.where(ReadyTask.role == role)
            if user:
                person = find_user(session, user)
                query = query.where(worklist_filter(person))
            rows = session.execute(query.order_by(ReadyTask.due_at.is_(None), ReadyTask.due_at, Case.number)).all()
            return [task_view(task, number) for task, number in rows]


def worklist_filter(person: User):
    """Tasks of the user's roles; handler tasks only for the user's own department; 领导签批销号
    only for the person who instructed (whatever their roles: app/joint/hooks.py)."""
    roles = sorted(person.roles - {"handler", joint.LEADER_ROLE})
    clauses = [ReadyTask.role.in_(roles)] if roles else []
    if "handler" in person.roles and person.department:
        clauses.append(and_(ReadyTask.role == "handler", ReadyTask.department == person.department))
    if person.roles & joint.INSTRUCT_ROLES:  # a released sign-off is everyone's who may instruct
        clauses.append(and_(ReadyTask.role == joint.LEADER_ROLE,
                            or_(ReadyTask.assignee == person.username, ReadyTask.assignee.is_(None))))
    else:
        clauses.append(and_(ReadyTask.role == joint.LEADER_ROLE, ReadyTask.assignee == person.username))
    return or_(*clauses)
