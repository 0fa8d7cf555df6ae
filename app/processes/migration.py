"""Moving running cases from one deployed version to another, with a dry run first.

How one case's state is rebased onto the target version — what blocks a move, which history
entries are dropped — is the engine's business (``workflows.migrate.rebase``). Here: the plan
restores every case in memory exactly as the migration will; ``migrate_cases`` does it again
inside each case's own transaction (the optimistic lock on the instance guards against a task
being completed at the same moment), recomputes the ready tasks' names, roles and forms, and
writes an audit row ``migrate``.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflows.clock import utcnow
from workflows.migrate import Rebased, rebase

from ..cases.models import AuditEntry, Case, WorkflowInstance
from ..cases.projection import apply, take_snapshot
from ..errors import Invalid
from .problem_text import tr as _
from .drafts import get_version


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
