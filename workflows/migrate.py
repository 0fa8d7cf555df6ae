"""Rebasing a running instance's state onto another version of its bundle, in memory.

A stored state names its tasks by element id and holds no spec (``workflows/state.py``), so
moving an instance to another version means restoring that state under the other version's spec.
What has to hold:

* every *live* task (ready, waiting, started — in the instance and in its supervision runs) exists
  in the target version with the same kind; otherwise the instance cannot move and a blocker names
  the missing or changed element ids;
* the history may mention elements the target no longer has (a renamed ``sign_for`` the case has
  already passed): those finished tasks are spliced out of the task tree, their data changes
  folded into their children, so nothing the instance knows is lost — except that a finished
  supervision run cannot be dropped, because the supervision items follow it;
* predicted tasks (what the old diagram expected to come next) that the target diagram would
  not predict are thrown away and predicted again from it, so a changed path after the current
  task is the one taken; where nothing changed the task tree stays exactly as it was.

    result = rebase(engine, old_bundle, new_bundle, "case_lifecycle", state)
    result.ok, result.blockers, result.dropped
    engine.ready_tasks(new_bundle, result.workflow)   # the workflow is for the engine only

Transactions, audit rows and the application's projections belong to the caller
(``app/processes/migration.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from SpiffWorkflow.util.task import TaskState

from .model import Bundle
from .state import state_dict

_PREDICTED = TaskState.PREDICTED_MASK | TaskState.FUTURE
_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class Rebased:
    """An instance's state restored under the target version, or why it cannot be.

    ``workflow`` is the restored workflow (None when blocked), to be handed back to the engine
    (``ready_tasks``, ``dump`` ...); ``blockers`` say in English why the instance cannot move;
    ``dropped`` are the element ids (each once) of finished history entries the target no longer has."""
    workflow: object | None = None
    blockers: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.workflow is not None and not self.blockers


def rebase(engine, old_bundle: Bundle, new_bundle: Bundle, process_id: str, state: bytes) -> Rebased:
    """Restore ``state`` (saved under ``old_bundle``) under ``new_bundle``, in memory; never raises
    for a state that cannot move (the reasons are in ``blockers``)."""
    result = Rebased()
    if process_id not in new_bundle.specs:
        result.blockers.append(f"the target version has no process '{process_id}'")
        return result
    try:
        dct = state_dict(state)
    except ValueError as exc:
        result.blockers.append(str(exc))
        return result
    repredict: set[str] = set()
    _rewrite(dct, old_bundle.specs.get(process_id), new_bundle.specs[process_id], old_bundle, new_bundle,
             dct.get("subprocesses", {}), result, repredict, "")
    if result.blockers:
        return result
    try:
        wf = engine.codec.from_dict(dct, new_bundle.specs[process_id], new_bundle.subprocess_specs,
                                    engine.script_engine)
        # Predict again from the target diagram where old predictions were dropped.
        for task_id in repredict:
            task = wf.get_task_from_id(UUID(task_id))
            task.task_spec._predict(task, mask=TaskState.NOT_FINISHED_MASK)
        engine.ready_tasks(new_bundle, wf)
        engine.next_timer_at(wf)
    except Exception as exc:  # noqa: BLE001 - any failure to restore means "cannot move", with the reason
        result.blockers.append(f"the state cannot be restored under the target version: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return result
    result.workflow = wf
    return result


def _bpmn_id(spec_name: str) -> str:
    # SpiffWorkflow's helper tasks around boundary events are named '<task>.BoundaryEventSplit'.
    return spec_name.split(".")[0]


def _splice(tasks: dict, task_id: str) -> None:
    """Remove a finished task from the tree: its children hang from its parent, with its data."""
    task = tasks.pop(task_id)
    parent_id = task["parent"]
    parent = tasks.get(parent_id) if parent_id else None
    updates = (task.get("delta") or {}).get("updates", {}) or {}
    deletions = list((task.get("delta") or {}).get("deletions", []) or [])
    for child_id in task["children"]:
        child = tasks.get(child_id)
        if child is None:
            continue
        child["parent"] = parent_id
        delta = child.get("delta") or {}
        c_updates = delta.get("updates", {}) or {}
        c_deletions = list(delta.get("deletions", []) or [])
        child["delta"] = {
            "updates": {**{k: v for k, v in updates.items() if k not in c_updates}, **c_updates},
            "deletions": sorted(set(c_deletions) | {k for k in deletions if k not in c_updates}),
        }
    if parent is not None:
        at = parent["children"].index(task_id)
        parent["children"][at:at + 1] = [c for c in task["children"] if c in tasks]


def _drop_subtree(tasks: dict, task_id: str) -> None:
    task = tasks.pop(task_id, None)
    if task is None:
        return
    for child_id in task["children"]:
        _drop_subtree(tasks, child_id)
    parent = tasks.get(task["parent"]) if task["parent"] else None
    if parent is not None and task_id in parent["children"]:
        parent["children"].remove(task_id)


def _rewrite(wf: dict, old_spec, new_spec, old_bundle: Bundle, new_bundle: Bundle, subprocesses: dict,
             result: Rebased, repredict: set[str], where: str) -> None:
    """Rewrite one (sub)workflow's task map for ``new_spec``; recurse into its subprocesses."""
    tasks = wf["tasks"]
    # 1. live tasks must exist; finished ones that do not are spliced out of the history.
    for task_id in list(tasks):
        task = tasks.get(task_id)
        if task is None or task["state"] & _PREDICTED:
            continue
        name = task["task_spec"]
        new_ts = new_spec.task_specs.get(name)
        old_ts = old_spec.task_specs.get(name) if old_spec is not None else None
        if task["state"] & _LIVE:
            if new_ts is None:
                result.blockers.append(f"{where}{_bpmn_id(name)} (current step) does not exist in the target version")
            elif old_ts is not None and type(old_ts).__name__ != type(new_ts).__name__:
                result.blockers.append(f"{where}{_bpmn_id(name)} changed from {type(old_ts).__name__} to "
                                       f"{type(new_ts).__name__}")
        elif new_ts is None:
            if task_id in subprocesses:
                result.blockers.append(f"{where}{_bpmn_id(name)} started a supervision run that the target "
                                       "version no longer has; its history would be lost")
            elif task["parent"] is None:
                result.blockers.append(f"{where}{name} is the start of the history and does not exist")
            else:
                _splice(tasks, task_id)
                if wf.get("last_task") == task_id:
                    wf["last_task"] = task["parent"]
                if _bpmn_id(name) not in result.dropped:  # a task and its boundary-event helpers
                    result.dropped.append(_bpmn_id(name))
    # 2. predictions the target diagram would not make are dropped, to be made again from it.
    for task_id in list(tasks):
        task = tasks.get(task_id)
        if task is None or not task["state"] & _PREDICTED:
            continue
        parent = tasks.get(task["parent"]) if task["parent"] else None
        new_ts = new_spec.task_specs.get(task["task_spec"])
        parent_ts = new_spec.task_specs.get(parent["task_spec"]) if parent is not None else None
        if new_ts is None or parent_ts is None or new_ts not in parent_ts.outputs:
            _drop_subtree(tasks, task_id)
            if parent is not None:
                repredict.add(task["parent"])
    for task_id, task in tasks.items():
        sub = subprocesses.get(task_id)
        if sub is None:
            continue
        ts_new = new_spec.task_specs.get(task["task_spec"])
        ts_old = old_spec.task_specs.get(task["task_spec"]) if old_spec is not None else None
        called = getattr(ts_new, "spec", None)
        sub_new = new_bundle.subprocess_specs.get(called) if called else None
        if sub_new is None:
            result.blockers.append(f"{where}{_bpmn_id(task['task_spec'])} calls '{called}', which the target "
                                   "version does not have")
            continue
        sub_old = old_bundle.subprocess_specs.get(getattr(ts_old, "spec", None)) if ts_old is not None else None
        _rewrite(sub, sub_old, sub_new, old_bundle, new_bundle, subprocesses, result, repredict,
                 f"{where}{_bpmn_id(task['task_spec'])} → ")
