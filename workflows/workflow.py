"""BpmnWorkflow with a cheaper engine-step loop, and a note of its provisional deadlines.

SpiffWorkflow's ``_do_engine_steps`` finds READY tasks by walking the whole task
tree (predicted branches included) with its depth-tracking iterator, several
times per step. The task map of each (sub)workflow already holds every task, so
filtering it gives the same list for a fraction of the cost. Everything else,
including which tasks run and the subprocess handling, is unchanged.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState


def _run_ready_engine_tasks(workflow) -> int:
    ready = [t for t in workflow.tasks.values() if t.state == TaskState.READY and not t.task_spec.manual]
    for task in ready:
        task.run()
    return len(ready)


class CaseWorkflow(BpmnWorkflow):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Deadlines this object computed on a provisional year since it was started or restored
        # (workflows.deadlines); not part of the stored state: the caller stores them with the action.
        self.provisional_deadlines: list = []
        self.notices: list = []  # notify(...) calls since then (workflows.notices), stored the same way

    def _do_engine_steps(self, will_complete_task=None, did_complete_task=None):
        if will_complete_task is not None or did_complete_task is not None:
            return super()._do_engine_steps(will_complete_task, did_complete_task)
        active = self.get_active_subprocesses()
        for subprocess in sorted(active, key=lambda s: s.depth, reverse=True):
            while _run_ready_engine_tasks(subprocess) > 0:
                pass
            if subprocess.parent_task_id is not None:
                task = self.get_task_from_id(subprocess.parent_task_id)
                task.task_spec._update(task)
        count = _run_ready_engine_tasks(self)
        return count > 0 or len(self.get_active_subprocesses()) > len(active)
