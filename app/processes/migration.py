"""Moving running cases from one deployed version to another, with a dry run first.

A case's stored state names its tasks by element id and holds no spec (``workflows/state.py``),
so moving a case means restoring that state under the other version's spec. What has to hold:

* every *live* task (ready, waiting, started — in the case and in its supervision runs) exists in
  the target version with the same kind; otherwise the case cannot move and the reason names the
  missing or changed element ids;
* the history may mention elements the target no longer has (a renamed ``sign_for`` the case has
  already passed): those finished tasks are spliced out of the task tree, their data changes
  folded into their children, so nothing the case knows is lost — except that a finished
  supervision run cannot be dropped, because the supervision items follow it;
* predicted tasks (what the old diagram expected to come next) that the target diagram would
  not predict are thrown away and predicted again from it, so a changed path after the current
  task is the one taken; where nothing changed the task tree stays exactly as it was.

The plan restores every case in memory exactly as the migration will; ``migrate_cases`` does it
again inside each case's own transaction (the optimistic lock on the instance guards against a
task being completed at the same moment), recomputes the ready tasks' names, roles and forms,
and writes an audit row ``migrate``.
"""
from __future__ import annotations

import json
import zlib
from uuid import UUID
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from workflows.clock import utcnow
from workflows.state import FORMAT

from ..cases.models import AuditEntry, Case, WorkflowInstance
from ..cases.projection import apply, take_snapshot
from ..errors import Invalid
from .problem_text import tr as _
from .drafts import get_version

_PREDICTED = TaskState.PREDICTED_MASK | TaskState.FUTURE
_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_FINISHED = TaskState.FINISHED_MASK


@dataclass
class Rebased:
    """A case's state rewritten for the target version, or why it cannot be."""
    workflow: BpmnWorkflow | None = None
    blockers: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)      # finished elements spliced out of the history
    repredict: set[str] = field(default_factory=set)      # tasks whose predicted children were dropped

    @property
    def ok(self) -> bool:
        return self.workflow is not None and not self.blockers


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


def _rewrite(wf: dict, old_spec, new_spec, old_bundle, new_bundle, subprocesses: dict, result: Rebased,
             where: str) -> None:
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
                result.repredict.add(task["parent"])
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
        _rewrite(sub, sub_old, sub_new, old_bundle, new_bundle, subprocesses, result,
                 f"{where}{_bpmn_id(task['task_spec'])} → ")


def rebase(engine, old_bundle, new_bundle, process_id: str, state: bytes) -> Rebased:
    """Restore ``state`` (saved under ``old_bundle``) under ``new_bundle``, in memory."""
    result = Rebased()
    if process_id not in new_bundle.specs:
        result.blockers.append(f"the target version has no process '{process_id}'")
        return result
    dct = json.loads(zlib.decompress(state))
    if dct.get("format") != FORMAT:
        result.blockers.append("the stored state has an unknown format")
        return result
    _rewrite(dct, old_bundle.specs.get(process_id), new_bundle.specs[process_id], old_bundle, new_bundle,
             dct.get("subprocesses", {}), result, "")
    if result.blockers:
        return result
    # Subprocess entries whose calling task was spliced away cannot be restored; none may remain.
    try:
        wf = engine.codec.load(zlib.compress(json.dumps(dct, separators=(",", ":")).encode("utf-8")),
                               new_bundle.specs[process_id], new_bundle.subprocess_specs, engine.script_engine)
        # Predict again from the target diagram where old predictions were dropped.
        for task_id in result.repredict:
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


def _versions(session: Session, from_version: int, to_version: int):
    if int(from_version) == int(to_version):
        raise Invalid(_("源版本与目标版本相同（版本 %(n)s）。", n=int(from_version)))
    return get_version(session, int(from_version)), get_version(session, int(to_version))


def _open_instances(session: Session, version_id: int, case_numbers=None):
    query = (select(WorkflowInstance, Case).join(Case, Case.id == WorkflowInstance.case_id)
             .where(WorkflowInstance.process_version_id == version_id, WorkflowInstance.completed.is_(False)))
    if case_numbers is not None:
        query = query.where(Case.number.in_(list(case_numbers)))
    return session.execute(query.order_by(Case.number)).all()


def _reason(result: Rebased) -> str:
    if result.blockers:
        return "; ".join(result.blockers)
    if result.dropped:
        return "can move; history entries no longer in the target version: " + ", ".join(sorted(set(result.dropped)))
    return "can move"


def plan_migration(core, from_version: int, to_version: int) -> list[dict]:
    """Dry run: ``[{case_number, case_id, can_move, reason}]`` for every open case on ``from_version``.

    Each case is restored in memory under ``to_version`` exactly as ``migrate_cases`` would; the
    reason names the element ids that stop it (or the history entries that will be dropped)."""
    with core.db.read() as session:
        source, target = _versions(session, from_version, to_version)
        old_bundle = core.bundles.get(session, source.id)
        new_bundle = core.bundles.get(session, target.id)
        plan = []
        for inst, case in _open_instances(session, source.id):
            result = rebase(core.engine, old_bundle, new_bundle, inst.process_id, inst.state)
            plan.append({"case_number": case.number, "case_id": case.id, "can_move": result.ok,
                         "reason": _reason(result)})
        return plan


def migrate_cases(core, from_version: int, to_version: int, *, actor: str,
                  case_numbers: list[str] | None = None) -> list[dict]:
    """Move the open cases of ``from_version`` (or just ``case_numbers``) to ``to_version``.

    One transaction per case: the check is repeated inside it, the instance's version changes
    under its optimistic lock, ready tasks are re-projected (a task may have a new name, role or
    form) and an audit row ``migrate`` {from, to} is written. Cases that cannot move stay where they
    are. Returns ``[{case_number, moved, reason}]``."""
    with core.db.read() as session:
        source, target = _versions(session, from_version, to_version)
        numbers = [case.number for _inst, case in _open_instances(session, source.id, case_numbers)]
        source_id, target_id = source.id, target.id
    results = []
    wanted = list(dict.fromkeys(case_numbers)) if case_numbers is not None else numbers
    for number in wanted:
        if number not in numbers:
            results.append({"case_number": number, "moved": False,
                            "reason": f"not an open case on version {int(from_version)}"})
            continue
        try:
            results.append(_migrate_one(core, number, source_id, target_id, int(from_version), int(to_version),
                                        actor))
        except StaleDataError:
            results.append({"case_number": number, "moved": False,
                            "reason": "the case changed at the same moment; try again"})
    return results


def _migrate_one(core, number: str, source_id: int, target_id: int, v_from: int, v_to: int, actor: str) -> dict:
    now = utcnow()
    with core.db.unit_of_work() as session:
        inst, case = session.execute(
            select(WorkflowInstance, Case).join(Case, Case.id == WorkflowInstance.case_id)
            .where(Case.number == number)).one()
        if inst.process_version_id != source_id or inst.completed:
            return {"case_number": number, "moved": False, "reason": f"no longer an open case on version {v_from}"}
        old_bundle = core.bundles.get(session, source_id)
        new_bundle = core.bundles.get(session, target_id)
        result = rebase(core.engine, old_bundle, new_bundle, inst.process_id, inst.state)
        if not result.ok:
            return {"case_number": number, "moved": False, "reason": _reason(result)}
        before = take_snapshot(core.engine, old_bundle,
                               core.engine.restore(old_bundle, inst.process_id, inst.state), with_state=False)
        after = take_snapshot(core.engine, new_bundle, result.workflow)
        inst.process_version_id = target_id
        changes = apply(session, case, inst, before, after, now)
        session.add(AuditEntry(at=now, actor=actor or "", case_id=case.id, action="migrate", source="designer",
                               changes={"from": v_from, "to": v_to, "columns": changes,
                                        "dropped_history": sorted(set(result.dropped))}))
        session.flush()
        return {"case_number": number, "moved": True, "reason": _reason(result)}
