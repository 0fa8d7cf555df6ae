"""The checks and records 联动处置 and 批示督办 add to completing a task (called by
app/cases/services.py inside the task's transaction; nothing here imports the case service)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..auth.services import may_act_as
from ..errors import Forbidden, Invalid
from ..org.models import Department
from ..supervision.models import CENTER_DEPARTMENT, SupervisionItem
from .models import CoHandler, LeaderInstruction

DISPATCH_TASK = "dispatch"
WAIT_TASK = "co_feedback_wait"
SIGN_OFF_TASK = "leader_sign_off"
LEADER_ROLE = "leader"
# Who may mark a case 批示督办 (and so ever hold a sign-off): the party committee's tier and the leaders.
INSTRUCT_ROLES = frozenset({"supervisor_party", LEADER_ROLE})


SIGN_OFF_RELEASED = "sign_off_released"  # audit action (签批销号转交)


def released_sign_off(role: str | None, assignee: str | None) -> bool:
    """A 领导签批销号 whose instructing person was deactivated (or was already when it arrived): it
    is released to everyone who may instruct, since otherwise nobody could ever close the case."""
    return role == LEADER_ROLE and not assignee


def may_instruct(person) -> bool:
    return bool(set(person.roles) & INSTRUCT_ROLES)


def may_do_leader_task(ready, person) -> bool:
    """The leader's sign-off is the instructing leader's own, whatever tier role instructed it; a
    released one is anyone's who may instruct."""
    return ready.role == LEADER_ROLE and may_do_task(person, ready.role, None, ready.assignee)


def may_do_task(person, role: str | None, department: str | None, assignee: str | None) -> bool:
    """Whether ``person`` may do a ready task of ``role``: the role's rule (``may_act_as``), except
    that 领导签批销号 is only the instructing person's, who may hold any instructing role (the
    party tier's supervisor as well as a leader) and whom no other leader stands in for — until it
    is released (``released_sign_off``), when anyone who may instruct takes it."""
    if role == LEADER_ROLE:
        if released_sign_off(role, assignee):
            return may_instruct(person)
        return assignee == person.username
    return may_act_as(person.roles, person.department, role, department)


def personal_task(role: str | None, assignee: str | None) -> bool:
    """A task that belongs to one person: it is not claimed or given back. A released sign-off
    (no assignee) is claimed like pool work by whoever takes it on, and is theirs from then on."""
    return role == LEADER_ROLE and bool(assignee)


def sign_off_holder(session: Session, username: str | None) -> str | None:
    """Who a new sign-off goes to: the instructing person while their account is active, else
    nobody (released: ``released_sign_off``)."""
    from ..auth.models import User
    if not username:
        return None
    return session.scalar(select(User.username).where(User.username == username, User.active.is_(True)))


def check_task_data(session: Session, ready, case, data: dict, person) -> None:
    """Refuse, at its field, what the form's JSON Schema cannot say (it compares fields)."""
    if ready.role == LEADER_ROLE and not may_do_leader_task(ready, person):
        raise Forbidden(f"only the instructing leader '{ready.assignee}' may sign off case '{case.number}'")
    if ready.bpmn_id == DISPATCH_TASK and data.get("decision", "dispatch") == "dispatch":
        validate_joint_dispatch(session, data)


def validate_joint_dispatch(session: Session, data: dict) -> None:
    joint = data.get("joint") is True
    co_handlers = data.get("co_handlers")
    if not joint:
        if co_handlers:
            raise Invalid("co-handling units are given only with 联动处置 (joint)",
                          fields=[("co_handlers", "协办单位仅用于联动处置：请勾选联动处置或清空协办单位")])
        return
    lead = data.get("department")
    if not isinstance(lead, str) or not lead.strip():
        raise Invalid("联动处置 needs a lead department (主办)", fields=[("department", "联动处置须指定主办部门")])
    if not isinstance(co_handlers, list) or not co_handlers:
        raise Invalid("联动处置 needs at least one co-handling unit (协办)",
                      fields=[("co_handlers", "联动处置须至少指定一个协办单位")])
    if lead in co_handlers:
        raise Invalid(f"the lead department '{lead}' is also among the co-handling units",
                      fields=[("co_handlers", f"主办部门 {lead} 不能同时作为协办单位")])
    if CENTER_DEPARTMENT in co_handlers:
        # the command center dispatches and supervises; it is not a unit that handles a part
        raise Invalid("the command center cannot co-handle a case",
                      fields=[("co_handlers", "指挥中心不能作为协办单位")])
    if len(set(co_handlers)) != len(co_handlers):
        raise Invalid("a co-handling unit is named twice", fields=[("co_handlers", "协办单位重复")])
    known = dict(session.execute(select(Department.code, Department.active)
                                 .where(Department.code.in_([lead, *co_handlers]))).all())
    unknown = [code for code in [lead, *co_handlers] if code not in known]
    if unknown:
        field = "department" if lead in unknown else "co_handlers"
        raise Invalid(f"unknown unit '{unknown[0]}'", fields=[(field, f"单位 {unknown[0]} 不存在")])
    inactive = [code for code in co_handlers if not known[code]]
    if inactive:  # deactivated on /admin/units: its running parts go on, it takes no new one
        raise Invalid(f"unit '{inactive[0]}' is deactivated", fields=[("co_handlers", f"单位 {inactive[0]} 已停用")])


def after_task(session: Session, case, ready, data: dict, person, now: datetime) -> None:
    """Records that follow a completed task: the lead's reason for missing feedback, and the
    leader's sign-off closing the 批示督办 item."""
    if ready.bpmn_id == WAIT_TASK:
        session.execute(update(CoHandler).where(CoHandler.case_id == case.id, CoHandler.status == "missing",
                                                CoHandler.missing_reason.is_(None))
                        .values(missing_reason=data.get("missing_reason")))
    elif ready.bpmn_id == SIGN_OFF_TASK:
        for instruction in session.scalars(select(LeaderInstruction).where(
                LeaderInstruction.case_id == case.id, LeaderInstruction.signed_off_at.is_(None))):
            instruction.signed_off_at = now
            instruction.sign_off_note = data.get("sign_off_note")
            if instruction.item_id:
                item = session.get(SupervisionItem, instruction.item_id)
                item.status, item.closed_at = "closed", now
                item.records = list(item.records or []) + [{
                    "task": ready.bpmn_id, "name": ready.name, "by": person.username, "by_name": person.display_name,
                    "at": now.isoformat(timespec="seconds"), "data": data}]
