"""The façade the application uses to run diagrams: start, inspect, complete, fire timers.

Everything here is pure workflow logic over SpiffWorkflow objects; persistence
and transactions belong to the caller (see ``app/cases/services.py``).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from uuid import UUID

import jsonschema
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit, StartEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import deadlines, notices, sandbox
from .clock import now_iso, utcnow
from .joint import (CO_FEEDBACK_TASK, CO_HANDLING_PROCESS, CO_OPEN, CO_WAIT_TASK, CoPart,  # noqa: F401
                    JointMixin, in_co_handling as _in_co_handling, in_side_branch as _in_escalation)
from .model import Bundle
from .state import StateCodec
from .workflow import CaseWorkflow
from .workdays import SHANGHAI, CalendarGap, WorkingCalendar, hours_before, parse_instant

SUPERVISION_PROCESS = "supervision_escalation"
# The message that answers an escalation (the department replied); see supervision_escalation.bpmn.
REPLIED_MESSAGE = "department_replied"
# The command center's own steps: an escalation opened because one of them was late is answered
# when that step is done, not when the department replies (see ``_answer_center_runs``).
CENTER_STEPS = frozenset({"dispatch", "reassign", "verify", "follow_up"})


class _ClockDatetime(datetime):
    """``datetime`` whose ``now()`` is ``clock.utcnow()``.

    SpiffWorkflow's timer definitions decide whether a timer has fired by calling ``datetime.now``
    themselves. Pointing that one module at our clock keeps the engine and the application on the
    same instant, whatever clock a test, a demo or the CLI runs on."""

    @classmethod
    def now(cls, tz=None):
        value = utcnow()
        return value.astimezone(tz) if tz is not None else value.astimezone().replace(tzinfo=None)


_spiff_timer.datetime = _ClockDatetime
_TIMER_EVENT_TYPES = {"TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition"}


class EngineError(Exception):
    """Base class for errors a user or operator can act on."""


class TaskNotReady(EngineError):
    pass


class FormInvalid(EngineError):
    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("form data is invalid: " + "; ".join(f"{f or '(form)'}: {m}" for f, m in errors))


class ScriptIncident(EngineError):
    """A script, expression or DMN table failed while the engine ran (sandbox refusal included)."""

    def __init__(self, message: str, bpmn_id: str | None = None):
        self.bpmn_id = bpmn_id
        super().__init__(message)


@dataclass(frozen=True)
class ReadyTask:
    id: str
    bpmn_id: str
    name: str
    role: str | None
    form: str | None
    supervision_key: str | None
    due: datetime | None
    data: dict
    unit: str | None = None  # a co-handler's task (联动处置): the unit whose part it is


@dataclass(frozen=True)
class SupervisionRun:
    """One escalation (one call of supervision_escalation) as the diagram currently sees it."""
    key: str
    completed: bool
    tier: int
    reason: str | None
    opened_at: str | None
    due: str | None
    replied: bool
    department: str | None = None  # whom the escalation is against, fixed when it opened
    deadline: str | None = None    # the deadline whose lapse opened it (sign-for, handling, a center step)
    step: str | None = None        # the step that was late (sign_for, handle, dispatch, ...)


def _tasks_in(wf: BpmnWorkflow, state: int):
    """Tasks in ``state`` across the workflow and its live subprocesses, in creation order.

    Scanning the task maps is much cheaper than SpiffWorkflow's tree iterator, which
    also walks every predicted branch."""
    for workflow in [wf, *(sp for sp in wf.subprocesses.values() if not sp.completed)]:
        for task in workflow.tasks.values():
            if task.state & state:
                yield task


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
        if inner is None or not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


class Engine(JointMixin):
    """Runs bundles with sandboxed scripts and working-day helpers.

    ``calendar`` returns the WorkingCalendar to use right now (the caller merges
    database overrides into it).
    """

    def __init__(self, calendar: Callable[[], WorkingCalendar]):
        self._calendar = calendar
        functions = {
            "now": now_iso,
            "working_days_after": self._working_days_after,
            "working_days_before": self._working_days_before,
            "hours_before": hours_before,
            "notify": notices.note,
            "step_due": self._step_due,
        }
        self.script_engine = sandbox.SandboxScriptEngine(functions)
        self.codec = StateCodec()

    def _working_days_after(self, start, n):
        calendar = self._calendar()
        value = calendar.working_days_after(start, n)
        years = calendar.provisional_years_between(start, value)
        if years:  # the caller stores it with the action and shows the deadline as 暂定
            deadlines.note(deadlines.ProvisionalDeadline(
                parse_instant(start).isoformat(timespec="seconds"), int(n), value.isoformat(timespec="seconds"),
                tuple(years)))
        return value.isoformat(timespec="seconds")

    def _working_days_before(self, instant, n):
        # Reminders only: not a deadline, so never noted as provisional nor recomputed on import.
        try:
            return self._calendar().working_days_before(instant, n).isoformat(timespec="seconds")
        except CalendarGap:
            # A reminder must never stop an action: a center step's deadline is counted in calendar
            # days until its year's schedule is imported (_step_due), so intake goes on; its 到期预警
            # counts calendar days back from it the same way.
            day = parse_instant(instant).astimezone(SHANGHAI) - timedelta(days=n)
            return day.replace(hour=23, minute=59, second=59, microsecond=0).astimezone(timezone.utc).isoformat(
                timespec="seconds")

    def _step_due(self, start, days, hours=None):
        """A center step's deadline: ``hours`` clock hours after ``start`` when the rule gives hours
        (urgent cases: 2 hours), else ``days`` working days (center_deadlines.dmn)."""
        if hours:
            return (parse_instant(start) + timedelta(hours=int(hours))).isoformat(timespec="seconds")
        days = int(days or 0)
        try:
            return self._working_days_after(start, days)
        except CalendarGap as gap:
            # Intake must never fail on the calendar: until the year's schedule is imported (or a
            # provisional one switched on) a center step counts calendar days, noted as provisional
            # so that the import recomputes it like any 暂定 deadline.
            begun = parse_instant(start)
            value = (begun.astimezone(SHANGHAI) + timedelta(days=days)).replace(
                hour=23, minute=59, second=59, microsecond=0).astimezone(timezone.utc)
            deadlines.note(deadlines.ProvisionalDeadline(
                begun.isoformat(timespec="seconds"), days, value.isoformat(timespec="seconds"), (gap.year,)))
            return value.isoformat(timespec="seconds")

    def recompute_deadlines(self, wf: BpmnWorkflow, entries, calendar: WorkingCalendar | None = None) -> dict:
        """Redo the ``(start, days, old value)`` computations of ``wf`` on ``calendar`` (default: the
        current one) and move every variable and waiting timer holding an old value to the new one.
        Returns {old: new} for the values that changed."""
        mapping = deadlines.recomputed(calendar or self._calendar(), entries)
        deadlines.replace_instants(wf, mapping)
        return mapping

    @staticmethod
    def reschedule_reminders(wf: BpmnWorkflow) -> dict[str, list[str]]:
        """Evaluate the expression of every waiting reminder timer (到期预警) again, on the calendar in
        force now; returns {element id: [old instant, new instant]} for those that moved.

        A reminder's instant is counted *back* from a deadline (``working_days_before(deadline, 1)``),
        so it is neither one of the noted provisional calls nor equal to a recomputed value: after a
        calendar import moves the deadline, only evaluating it again moves the warning with it (and
        a day the import made a holiday is skipped). Only reminders: a deadline timer keeps its
        instant unless a recorded computation moved it, so an official deadline never shifts."""
        moved: dict[str, list[str]] = {}
        with deadlines.recording(), notices.recording():  # nothing evaluated here is an action's record
            for workflow in [wf, *wf.subprocesses.values()]:
                for task in workflow.tasks.values():
                    definition = getattr(task.task_spec, "event_definition", None)
                    if (task.state != TaskState.WAITING or not _is_reminder(task)
                            or not isinstance(definition, _spiff_timer.TimeDateEventDefinition)):
                        continue
                    old = task._get_internal_data("event_value")
                    try:
                        new = workflow.script_engine.evaluate(task, definition.expression)
                        changed = parse_instant(new) != parse_instant(old)
                    except Exception:  # noqa: BLE001 - a warning never stops a recompute; it keeps its instant
                        continue
                    if changed:
                        task._set_internal_data(event_value=new)
                        moved[task.task_spec.bpmn_id] = [str(old), str(new)]
        return moved

    # -- lifecycle -----------------------------------------------------------------
    def start(self, bundle: Bundle, process_id: str, data: dict[str, Any]) -> BpmnWorkflow:
        spec = bundle.specs[process_id]
        wf = CaseWorkflow(spec, bundle.subprocess_specs, script_engine=self.script_engine)
        wf.get_tasks(state=TaskState.READY)[0].set_data(**data)
        self._run(wf)
        return wf

    def start_by_message(self, bundle: Bundle, process_id: str, message: str, data: dict[str, Any]) -> BpmnWorkflow:
        """Start ``process_id`` at its message start event for ``message`` instead of its none start.

        SpiffWorkflow always takes the none start of a process with several start events; a case
        that is reopened (回头件重办) starts a new run at the diagram's own start for it, so where it
        goes from there is the designer's to draw."""
        spec = bundle.specs[process_id]
        wf = CaseWorkflow(spec, bundle.subprocess_specs, script_engine=self.script_engine)
        start = wf.get_tasks(state=TaskState.READY)[0]
        start.set_data(**data)
        start.run()
        starts = [t for t in wf.tasks.values() if t.parent is not None and isinstance(t.parent.task_spec, StartEventSplit)]
        catching = [t for t in starts if isinstance(getattr(t.task_spec, "event_definition", None),
                                                    MessageEventDefinition)
                    and t.task_spec.event_definition.name == message]
        if not catching:
            raise ScriptIncident(f"the process has no message start event for '{message}'")
        for task in starts:
            if task not in catching:
                task.cancel()
        with self._noting_provisional(wf):
            wf.do_engine_steps()
            wf.catch(BpmnEvent(catching[0].task_spec.event_definition, {}))
        self._run(wf)
        return wf

    def restore(self, bundle: Bundle, process_id: str, state: bytes) -> BpmnWorkflow:
        return self.codec.load(state, bundle.specs[process_id], bundle.subprocess_specs, self.script_engine)

    def dump(self, wf: BpmnWorkflow) -> bytes:
        return self.codec.dump(wf)

    @staticmethod
    @contextmanager
    def _noting_provisional(wf: BpmnWorkflow):
        """Keep on the workflow object the provisional deadlines its engine steps compute."""
        with deadlines.recording() as log, notices.recording() as raised:
            yield
        noted = wf.provisional_deadlines
        noted.extend(entry for entry in log if entry not in noted)
        wf.notices = [*getattr(wf, "notices", ()), *raised]

    @staticmethod
    def notices(wf: BpmnWorkflow) -> list[notices.Notice]:
        """What ``notify(...)`` calls this workflow object ran since it was started or restored."""
        return list(getattr(wf, "notices", ()))

    @staticmethod
    def provisional_deadlines(wf: BpmnWorkflow) -> list[deadlines.ProvisionalDeadline]:
        """The deadlines this workflow object computed on a provisional year since it was started or
        restored (the caller stores them with the action, see ``app/calendar``)."""
        return list(getattr(wf, "provisional_deadlines", ()))

    def _run(self, wf: BpmnWorkflow, task=None) -> None:
        with self._noting_provisional(wf):
            self._run_steps(wf, task)

    def _run_steps(self, wf: BpmnWorkflow, task=None) -> None:
        try:
            if task is not None:
                task.run()
            wf.do_engine_steps()
        except (SpiffWorkflowException, sandbox.SandboxViolation, CalendarGap, NameError, TypeError,
                ValueError, KeyError, AttributeError, ZeroDivisionError) as exc:
            cause = _root_cause(exc)
            if isinstance(cause, CalendarGap):
                raise cause
            failing = getattr(exc, "task", None)
            where = f"{failing.task_spec.bpmn_id}: " if failing is not None else ""
            raise ScriptIncident(f"{where}{type(cause).__name__}: {cause}",
                                 failing.task_spec.bpmn_id if failing is not None else None) from exc
        # Messages nobody in this instance waits for (e.g. 'department_replied' with no open
        # supervision) are dropped: there is no other instance that could catch them.
        wf.get_events()

    # -- inspection ----------------------------------------------------------------
    def ready_tasks(self, bundle: Bundle, wf: BpmnWorkflow) -> list[ReadyTask]:
        return [self._describe(bundle, task) for task in _tasks_in(wf, TaskState.READY) if task.task_spec.manual]

    def _describe(self, bundle: Bundle, task) -> ReadyTask:
        bpmn_id = task.task_spec.bpmn_id
        meta = bundle.tasks.get(bpmn_id)
        supervision_key = self._supervision_key(task)
        # A co-handler's own tasks belong to its unit and fall due at its own deadline; the
        # escalations inside its part are the supervisors' (their item names the unit).
        unit = task.data.get("co_unit") if supervision_key is None and _in_co_handling(task) else None
        due = self._attached_timer_due(task)
        if due is None and unit and isinstance(task.data.get("co_deadline"), str):
            due = _as_plain(TimerEventDefinition.get_datetime(task.data["co_deadline"]))
        return ReadyTask(
            id=str(task.id), bpmn_id=bpmn_id,
            name=(meta.name if meta else None) or task.task_spec.bpmn_name or bpmn_id,
            role=meta.role if meta else None, form=meta.form if meta else None,
            supervision_key=supervision_key, due=due, data=task.data, unit=unit,
        )

    @staticmethod
    def main_path_data(wf: BpmnWorkflow) -> dict:
        """The main path's current data: the newest ready user task of the top workflow.

        Escalation branches (call activities, timers) carry a copy of the data from the
        moment they split off, so they only count when no user task is ready.
        """
        live = [t for t in wf.tasks.values()
                if t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED)]
        user_tasks = [t for t in live if t.task_spec.manual and t.state == TaskState.READY]
        # (Spiff's own bookkeeping tasks, such as the workflow's end join, have no BPMN id.)
        if not user_tasks and all(_in_escalation(t) or t.task_spec.bpmn_id is None for t in live):
            # The main path has ended (the case was closed) while an escalation may still wait for
            # its 核实销号, or finished after it: the case's data is the main path's end, not the
            # escalation's older copy (which Spiff also makes the finished workflow's data).
            ends = [t for t in wf.tasks.values() if t.state == TaskState.COMPLETED
                    and isinstance(t.task_spec, EndEvent) and not _in_escalation(t)]
            if ends:
                # Under a frozen clock several ends share an instant: the deepest is the one reached last.
                return max(ends, key=lambda t: (t.last_state_change, t.depth)).data
        if wf.completed or not live:
            return wf.data
        return max(user_tasks or live, key=lambda t: t.last_state_change).data

    @staticmethod
    def _attached_timer_due(task) -> datetime | None:
        """Due time of a timer boundary event on this task, if one is waiting."""
        parent = task.parent
        if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
            return None
        dues = []
        for sibling in parent.children:
            definition = getattr(sibling.task_spec, "event_definition", None)
            if sibling is task or not isinstance(definition, TimerEventDefinition) or _is_reminder(sibling):
                continue
            value = sibling._get_internal_data("event_value")
            # A fired non-interrupting timer still tells when the task fell due (overdue items).
            if sibling.state in (TaskState.WAITING, TaskState.COMPLETED) and isinstance(value, str):
                dues.append(_as_plain(TimerEventDefinition.get_datetime(value)))
        return min(dues, default=None)

    @staticmethod
    def _supervision_key(task) -> str | None:
        workflow = task.workflow
        while workflow is not None and workflow is not workflow.top_workflow:
            if workflow.spec.name == SUPERVISION_PROCESS:
                return str(workflow.parent_task_id)
            workflow = workflow.parent_workflow
        return None

    def waiting_timers(self, wf: BpmnWorkflow) -> list[tuple[str, datetime]]:
        """(timer element id, due instant) for every timer this instance waits on.

        The same source as ``waiting_events()``, kept per task so the element id is known."""
        timers = []
        for task in wf.event_manager.tasks.values():
            definition = task.task_spec.event_definition
            due = _timer_due(definition.details(task)) if isinstance(definition, TimerEventDefinition) else None
            if due is not None:
                timers.append((task.task_spec.bpmn_id, due))
        return timers

    @staticmethod
    def waiting_reminders(wf: BpmnWorkflow) -> set[str]:
        """Element ids of the waiting timers that are reminders (``reminder`` property), not deadlines."""
        return {task.task_spec.bpmn_id for task in wf.event_manager.tasks.values() if _is_reminder(task)}

    @staticmethod
    def next_timer_at(wf: BpmnWorkflow) -> datetime | None:
        """The earliest waiting timer, from SpiffWorkflow's own waiting_events()."""
        return min(filter(None, map(_timer_due, wf.waiting_events())), default=None)

    def supervision_runs(self, wf: BpmnWorkflow) -> list[SupervisionRun]:
        runs = []
        for parent_id, sub in wf.subprocesses.items():
            if sub.spec.name != SUPERVISION_PROCESS:
                continue
            data = self._current_data(wf, sub)
            replied = any(t.task_spec.bpmn_id == "verify_close" for t in sub.tasks.values() if t.state == TaskState.READY)
            runs.append(SupervisionRun(
                key=str(parent_id), completed=bool(sub.completed),
                tier=int(data.get("supervision_tier") or 0), reason=data.get("escalation_reason"),
                opened_at=data.get("tier_opened_at"), due=data.get("tier_due"), replied=replied,
                department=data.get("escalation_department"), deadline=data.get("escalation_deadline"),
                step=data.get("escalation_step"),
            ))
        return runs

    @staticmethod
    def path(wf: BpmnWorkflow) -> dict:
        """Where a case has been and where it stands, as BPMN ids, for drawing it on the diagram.

        ``{"completed", "ready", "waiting"}`` for the main process (ready includes started call
        activities; waiting is timers and messages), and ``"supervision"``: one such dict per
        call of supervision_escalation (its embedded subprocesses merged in, since they are
        drawn in the same file), oldest first, with the call activity's ``key`` and ``call``
        id and whether the run has ``finished``. An element passed in an earlier loop can be
        both completed and ready."""
        def collect(workflows) -> dict:
            found = {"completed": set(), "ready": set(), "waiting": set()}
            for workflow in workflows:
                for task in workflow.tasks.values():
                    bpmn_id = task.task_spec.bpmn_id
                    if not bpmn_id:  # engine-internal tasks (Start, boundary split/join) are not drawn
                        continue
                    if task.state == TaskState.COMPLETED:
                        found["completed"].add(bpmn_id)
                    elif task.state & (TaskState.READY | TaskState.STARTED):
                        found["ready"].add(bpmn_id)
                    elif task.state == TaskState.WAITING:
                        found["waiting"].add(bpmn_id)
            return {name: sorted(ids) for name, ids in found.items()}

        def run_of(sub):
            # An escalation may be started inside a co-handler's part: it is a run of its own.
            while sub.spec.name != SUPERVISION_PROCESS and sub.parent_workflow is not None \
                    and sub.parent_workflow is not wf:
                sub = sub.parent_workflow
            return sub

        runs: dict = {}
        for sub in wf.subprocesses.values():
            runs.setdefault(id(run_of(sub)), []).append(sub)
        supervision, co_parts = [], []
        for members in runs.values():
            run = run_of(members[0])
            if run.spec.name == CO_HANDLING_PROCESS:
                co_parts.append(members)
                continue
            if run.spec.name != SUPERVISION_PROCESS:
                continue
            call = wf.get_task_from_id(run.parent_task_id)
            started = min((t.last_state_change for t in run.tasks.values()), default=0.0)
            supervision.append((started, {"key": str(run.parent_task_id), "call": call.task_spec.bpmn_id,
                                          "finished": bool(run.completed), **collect(members)}))
        main = collect([wf] + [w for members in co_parts for w in members])
        units = {p.unit: p.status for p in Engine.co_parts(wf)}
        parts = []
        for members in co_parts:
            unit = members[0].parent_workflow.get_task_from_id(members[0].parent_task_id).data.get("co_unit") \
                if members[0].parent_workflow is not None else None
            parts.append({"unit": unit, "status": units.get(unit), **collect(members)})
        return {**main, "co_handling": parts,
                "supervision": [entry for _, entry in sorted(supervision, key=lambda s: s[0])]}

    @staticmethod
    def _current_data(wf: BpmnWorkflow, sub) -> dict:
        """The data of the most recently changed live task in this run (nested subprocesses included)."""
        workflows = [sub] + [s for s in wf.subprocesses.values() if s.parent_workflow is sub]
        live = [t for w in workflows for t in w.tasks.values()
                if t.state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED) and "supervision_tier" in t.data]
        if not live:
            return sub.last_task.data if sub.last_task is not None else {}
        return max(live, key=lambda t: t.last_state_change).data

    # -- actions -------------------------------------------------------------------
    def validate_form(self, bundle: Bundle, bpmn_id: str, data: Any) -> dict:
        schema = bundle.form_for(bpmn_id)
        if not isinstance(data, dict):
            raise FormInvalid([("", "data must be a JSON object")])
        if schema is None:
            return data
        validator = jsonschema.Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            raise FormInvalid([(_field_of(e), e.message) for e in errors])
        return data

    def complete(self, bundle: Bundle, wf: BpmnWorkflow, task_id: str, data: dict) -> ReadyTask:
        try:
            task = wf.get_task_from_id(UUID(str(task_id)))
        except (ValueError, KeyError, SpiffWorkflowException):
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReady(f"task {task_id} is not ready (already completed or not found)")
        ready = self._describe(bundle, task)
        clean = self.validate_form(bundle, ready.bpmn_id, data)
        if task.workflow is wf:
            self.main_path_defaults(wf, task)
        if ready.bpmn_id == CO_WAIT_TASK and ready.supervision_key is None:
            self._waive_pending(wf)  # the lead stated why their feedback is missing
        task.data.update(clean)
        self._run(wf, task)
        if ready.bpmn_id in CENTER_STEPS and ready.supervision_key is None:
            self._answer_center_runs(wf, ready.bpmn_id)
        if ready.bpmn_id == CO_FEEDBACK_TASK and ready.unit:
            self._co_fed_back(wf, ready.unit)
        return ready

    def _answer_center_runs(self, wf: BpmnWorkflow, step: str) -> None:
        """The center did the late step: its open escalations for that step go to 核实销号.

        The reply message is delivered to those runs alone; ``department_replied`` thrown by the
        main process would reach every open escalation of the case, the departments' too."""
        for sub in list(wf.subprocesses.values()):
            if sub.spec.name != SUPERVISION_PROCESS or sub.completed:
                continue
            data = self._current_data(wf, sub)
            if data.get("escalation_step") != step or data.get("escalation_department") != "command_center":
                continue
            if any(t.task_spec.bpmn_id == "verify_close" for t in sub.tasks.values() if t.state == TaskState.READY):
                continue
            # The run's own waiting catch event lends its definition (a parser subclass compares by
            # class); the event targets this run, so no other escalation hears it.
            waiting = [t for t in wf.event_manager.tasks.values() if t.workflow is sub
                       and isinstance(t.task_spec.event_definition, MessageEventDefinition)
                       and t.task_spec.event_definition.name == REPLIED_MESSAGE]
            if waiting:
                wf.catch(BpmnEvent(waiting[0].task_spec.event_definition, {}, target=sub))
                self._run(wf)

    def fire_due_timers(self, wf: BpmnWorkflow, now: datetime | None = None) -> list[str]:
        """Run every timer that is due; returns the element ids of those that were due."""
        now = now or utcnow()
        due = [name for name, at in self.waiting_timers(wf) if at <= now]
        if due:
            try:
                with self._noting_provisional(wf):
                    wf.refresh_timers()
            except (SpiffWorkflowException, sandbox.SandboxViolation, CalendarGap) as exc:
                raise ScriptIncident(f"{type(_root_cause(exc)).__name__}: {_root_cause(exc)}") from exc
            self._run(wf)
        return due


def _is_reminder(task) -> bool:
    """A boundary timer marked ``reminder`` (到期预警) only tells people; it is not the task's deadline."""
    properties = (getattr(task.task_spec, "extensions", None) or {}).get("properties") or {}
    return str(properties.get("reminder", "")).lower() in ("true", "1", "yes")


def _timer_due(event) -> datetime | None:
    """When a pending event (``PendingBpmnEvent``) is due, if it is a timer with a known time."""
    if event.event_type in _TIMER_EVENT_TYPES and isinstance(event.value, str):
        return _as_plain(TimerEventDefinition.get_datetime(event.value))
    return None


def _field_of(error: jsonschema.ValidationError) -> str:
    if error.validator == "required" and error.message.startswith("'"):
        return error.message.split("'")[1]
    if error.validator == "additionalProperties":
        return ",".join(p for p in error.message.split("'")[1::2]) if "'" in error.message else ""
    return ".".join(str(p) for p in error.absolute_path)


def _as_plain(value: datetime) -> datetime:
    """Spiff's parsed times are ``_ClockDatetime``s; callers (and database drivers) get plain ones."""
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                    value.microsecond, tzinfo=value.tzinfo)
