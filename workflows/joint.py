"""联动处置 (joint disposal) in the engine: each co-handler's part of a case and the messages that
tie the parts to the lead's reply and to the unit's own escalation. Mixed into ``Engine``.

The co-handlers' work is the multi-instance subprocess ``co_handling`` of case_lifecycle.bpmn
(one instance per unit in ``co_handlers``); the lead's reply waits at ``co_feedback_wait``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

SUPERVISION_PROCESS = "supervision_escalation"
REPLIED_MESSAGE = "department_replied"
# 联动处置 (see case_lifecycle.bpmn): the multi-instance subprocess that runs one co-handler's part,
# the task whose completion is its feedback, the lead's wait for them, and the messages between.
CO_HANDLING_PROCESS = "co_handling"
CO_FEEDBACK_TASK = "co_handle"
CO_WAIT_TASK = "co_feedback_wait"
CO_COMPLETE_MESSAGE = "co_feedback_complete"
CO_WAIVED_MESSAGE = "co_feedback_waived"
CO_ESCALATION_STEP = "co_handle"
CO_OPEN = ("dispatched", "handling")


@dataclass(frozen=True)
class CoPart:
    """One co-handler's part of a joint disposal (联动处置), as the diagram currently sees it."""
    unit: str
    status: str                     # dispatched, handling (signed), fed_back, missing (lead explained)
    dispatched_at: str | None = None
    deadline: str | None = None
    signed_at: str | None = None
    fed_back_at: str | None = None
    missing_at: str | None = None
    feedback: str | None = None
    people_deployed: int | None = None



class JointMixin:
    """Needs ``_run(wf)`` and ``_current_data(wf, sub)`` from the engine."""

    @staticmethod
    def co_parts(wf: BpmnWorkflow) -> list[CoPart]:
        """Every co-handler's part of the case, in the dispatcher's order (none for a plain case)."""
        parts = []
        for sub in wf.subprocesses.values():
            if sub.spec.name != CO_HANDLING_PROCESS:
                continue
            done: dict[str, Any] = {}
            for workflow in [sub, *(s for s in wf.subprocesses.values() if s.parent_workflow is sub
                                    and s.spec.name != SUPERVISION_PROCESS)]:
                for t in workflow.tasks.values():
                    if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id:
                        done[t.task_spec.bpmn_id] = t.data
            owner = sub.parent_workflow.get_task_from_id(sub.parent_task_id) if sub.parent_workflow else None
            if owner is None or not owner.data.get("co_unit"):
                continue
            assigned, handled = done.get("co_assign", {}), done.get(CO_FEEDBACK_TASK, {})
            status = ("missing" if "co_record_missing" in done else "fed_back" if CO_FEEDBACK_TASK in done
                      else "handling" if "co_signed" in done else "dispatched")
            people = handled.get("people_deployed")
            parts.append((owner.internal_data.get("key_or_index") or 0, CoPart(
                unit=owner.data["co_unit"], status=status, dispatched_at=assigned.get("co_dispatched_at"),
                deadline=assigned.get("co_deadline"), signed_at=done.get("co_signed", {}).get("co_signed_at"),
                fed_back_at=done.get("co_fed_back", {}).get("co_fed_back_at"),
                missing_at=done.get("co_record_missing", {}).get("co_missing_at"),
                feedback=handled.get("feedback_text"), people_deployed=people if isinstance(people, int) else None)))
        return [part for _, part in sorted(parts, key=lambda p: p[0])]

    def main_path_defaults(self, wf: BpmnWorkflow, task) -> None:
        """Before a main-path task completes: the units the lead's reply still waits for
        (co_feedback_gate), and the joint/instruction variables a case begun on a version without
        them lacks (migrated to this one), so that the gateways after it never meet a missing name."""
        for name, value in (("joint", False), ("co_handlers", []), ("co_handling_started", False),
                            ("instructed_by", None)):
            task.data.setdefault(name, value)
        task.data["co_pending"] = ([p.unit for p in self.co_parts(wf) if p.status in CO_OPEN]
                                   if task.data.get("co_handling_started") else [])

    def _deliver(self, wf: BpmnWorkflow, message: str, where) -> bool:
        """Deliver ``message`` to the catch event waiting for it in workflow ``where`` alone.

        Only when such an event waits: a targeted event nobody in ``where`` catches would travel
        up to the parent workflow and, at the top, reach every waiting catch of that name."""
        waiting = [t for t in wf.event_manager.tasks.values() if t.workflow is where
                   and isinstance(t.task_spec.event_definition, MessageEventDefinition)
                   and t.task_spec.event_definition.name == message]
        if not waiting:
            return False
        wf.catch(BpmnEvent(waiting[0].task_spec.event_definition, {}, target=where))
        self._run(wf)
        return True

    def _co_subs(self, wf: BpmnWorkflow, units) -> list:
        found = []
        for sub in list(wf.subprocesses.values()):
            if sub.spec.name != CO_HANDLING_PROCESS or sub.completed or sub.parent_workflow is None:
                continue
            owner = sub.parent_workflow.get_task_from_id(sub.parent_task_id)
            if owner is not None and owner.data.get("co_unit") in units:
                found.append(sub)
        return found

    def _waive_pending(self, wf: BpmnWorkflow) -> None:
        """End the parts of the co-handlers still working: the lead recorded why they are missing."""
        pending = {p.unit for p in self.co_parts(wf) if p.status in CO_OPEN}
        for sub in self._co_subs(wf, pending):
            self._deliver(wf, CO_WAIVED_MESSAGE, sub)

    def _co_fed_back(self, wf: BpmnWorkflow, unit: str) -> None:
        """A co-handler sent its feedback: its own escalations go to 核实销号, and once no co-handler
        is still working the lead, if it waits for them, goes on to the reply."""
        for sub in list(wf.subprocesses.values()):
            if sub.spec.name != SUPERVISION_PROCESS or sub.completed:
                continue
            data = self._current_data(wf, sub)
            if data.get("escalation_step") != CO_ESCALATION_STEP or data.get("escalation_department") != unit:
                continue
            self._deliver(wf, REPLIED_MESSAGE, sub)
        if not any(p.status in CO_OPEN for p in self.co_parts(wf)):
            self._deliver(wf, CO_COMPLETE_MESSAGE, wf)

    def set_main_data(self, wf: BpmnWorkflow, values: dict) -> None:
        """Give the case's main path new data (e.g. 批示督办's ``instructed_by``) from now on: the
        live tasks of the top workflow outside escalation branches carry it to what follows."""
        for task in wf.tasks.values():
            if task.state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED) and not in_side_branch(task):
                task.data.update(values)


def in_side_branch(task) -> bool:
    """Whether a task is an escalation call activity or lies after one (an escalation branch), or
    belongs to the co-handlers' branch of a joint disposal (multi-instance): side branches whose
    data is an older copy of the main path's."""
    while task is not None:
        if isinstance(task.task_spec, (SubWorkflowTask, MultiInstanceTask)):
            return True
        task = task.parent
    return False


def in_co_handling(task) -> bool:
    """Whether a task runs inside a co-handler's part (联动处置), at any depth."""
    workflow = task.workflow
    while workflow is not None and workflow is not workflow.top_workflow:
        if workflow.spec.name == CO_HANDLING_PROCESS:
            return True
        workflow = workflow.parent_workflow
    return False
