"""Claiming (认领) a ready task, so colleagues with the same role see that someone is on it.

A claimed task can be completed only by its assignee (CaseService.complete_task checks that).
Each claim or unclaim is one transaction: a conditional UPDATE, so two people claiming at the
same moment get one success and one conflict, plus its audit row.
"""
from __future__ import annotations

from sqlalchemy import or_, select, update

from ..auth.services import find_user, require_role
from ..cases.models import Case, ReadyTask
from ..cases.services import audit
from ..errors import Conflict, Forbidden, NotFound
from ..joint.hooks import may_instruct, personal_task, released_sign_off


class ClaimConflict(Conflict):
    """The task is claimed by someone else (``assignee``), or not claimed at all (``assignee`` None)."""

    def __init__(self, message: str, assignee: str | None):
        self.assignee = assignee
        super().__init__(message)


def _load(session, task_id: str) -> tuple[ReadyTask, Case]:
    row = session.execute(select(ReadyTask, Case).join(Case, Case.id == ReadyTask.case_id)
                          .where(ReadyTask.id == str(task_id))).first()
    if row is None:
        raise NotFound(f"task '{task_id}' not found or no longer ready")
    return row[0], row[1]


class PersonalTask(Conflict):
    """领导签批销号 is the instructing person's from the start: it is not given back, since nobody
    else could then sign it off."""


def _refuse_personal(task: ReadyTask, person) -> None:
    if personal_task(task.role, task.assignee):
        if task.assignee != person.username:
            raise Forbidden(f"task '{task.id}' is the sign-off of '{task.assignee}', not of '{person.username}'")
        raise PersonalTask(f"task '{task.id}' is the own sign-off of '{person.username}': it is not claimed "
                           "or given back")


def claim(core, task_id: str, *, user: str, source: str = "web") -> dict:
    with core.db.unit_of_work() as session:
        task, case = _load(session, task_id)
        person = find_user(session, user)
        _refuse_personal(task, person)
        if released_sign_off(task.role, task.assignee):
            if not may_instruct(person):  # a released sign-off is taken by one who may instruct
                raise Forbidden(f"task '{task.id}' is a released sign-off: only those who may instruct take it")
        else:
            require_role(person, task.role, task.department)
        previous = task.assignee
        done = session.execute(
            update(ReadyTask).where(ReadyTask.id == task.id,
                                    or_(ReadyTask.assignee.is_(None), ReadyTask.assignee == person.username))
            .values(assignee=person.username).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            holder = session.scalar(select(ReadyTask.assignee).where(ReadyTask.id == task.id))
            raise ClaimConflict(f"task '{task_id}' is claimed by '{holder}'", holder)
        if previous != person.username:
            audit(session, actor=person.username, action="claim", case=case, source=source, task=task,
                  changes={"assignee": [previous, person.username]})
        return {"case": case.number, "task": task.name, "assignee": person.username}


def unclaim(core, task_id: str, *, user: str, source: str = "web") -> dict:
    """Give a claimed task back to the pool; only its assignee can."""
    with core.db.unit_of_work() as session:
        task, case = _load(session, task_id)
        person = find_user(session, user)
        _refuse_personal(task, person)
        require_role(person, task.role, task.department)
        done = session.execute(
            update(ReadyTask).where(ReadyTask.id == task.id, ReadyTask.assignee == person.username)
            .values(assignee=None).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            holder = session.scalar(select(ReadyTask.assignee).where(ReadyTask.id == task.id))
            raise ClaimConflict(f"task '{task_id}' is not claimed by '{person.username}'", holder)
        audit(session, actor=person.username, action="unclaim", case=case, source=source, task=task,
              changes={"assignee": [person.username, None]})
        return {"case": case.number, "task": task.name, "assignee": None}
