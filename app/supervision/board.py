"""The supervision board (督办台): one tier's open items with the task that acts on each.

    rows = board_rows(session, tier=1, now=now)     # one query: items, cases, departments, tasks
    counts = open_counts(session)                   # {1: n, 2: n, 3: n} for the tabs
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..cases.models import Case, ReadyTask
from ..org.models import Department
from .models import TIERS, SupervisionItem

# The user task each tier's supervisor completes on an open item, and who does it.
TIER_TASKS = {1: "urge", 2: "interview_or_notice", 3: "accountability"}
TIER_ROLES = {1: "supervisor_center", 2: "supervisor_discipline", 3: "supervisor_party"}
# Anyone with these roles may look at every tier's board (read-only unless the task is theirs).
ALL_TIER_ROLES = frozenset({"viewer", "admin", "dispatcher"})


@dataclass
class BoardRow:
    item_id: int
    tier: int
    number: str
    reason: str
    department: str | None
    department_name: str | None
    opened_at: datetime
    due_at: datetime | None
    overdue_since: datetime
    days_overdue: int
    task_id: str | None
    task_name: str | None
    task_assignee: str | None


def tiers_for(user) -> list[int]:
    """The tiers whose board ``user`` may open, lowest first."""
    if user.roles & ALL_TIER_ROLES:
        return sorted(TIERS)
    return [tier for tier, role in sorted(TIER_ROLES.items()) if role in user.roles]


def overdue_start(reason: str, case_deadline: datetime | None, opened_at: datetime) -> datetime:
    """When the lapse began: the handling deadline for 拖延办理, else when the escalation opened
    (the sign-for timer or the return/redo that triggered it)."""
    if reason == "delay" and case_deadline is not None:
        return min(case_deadline, opened_at)
    return opened_at


def days_overdue(since: datetime, now: datetime) -> int:
    """Calendar days, a started day counting as one: nine hours past the deadline is day 1."""
    seconds = (now - since).total_seconds()
    return max(math.ceil(seconds / 86400), 0)


def board_rows(session: Session, tier: int | None, now: datetime, status: str = "open") -> list[BoardRow]:
    """The items of ``tier`` (None: every tier) in ``status``, longest overdue first; one query.

    Open items come with their tier's task (催办, 约谈/通报, 追责); replied items with 核实销号."""
    task_name = TIER_TASKS[tier] if status == "open" else "verify_close"
    query = (
        select(SupervisionItem.id, SupervisionItem.tier, Case.number, SupervisionItem.reason, SupervisionItem.department,
               Department.name, SupervisionItem.opened_at, SupervisionItem.due_at, Case.deadline,
               ReadyTask.id, ReadyTask.name, ReadyTask.assignee)
        .join(Case, Case.id == SupervisionItem.case_id)
        .outerjoin(Department, Department.code == SupervisionItem.department)
        .outerjoin(ReadyTask, and_(ReadyTask.case_id == SupervisionItem.case_id, ReadyTask.bpmn_id == task_name))
        .where(SupervisionItem.status == status)
        .order_by(SupervisionItem.opened_at, SupervisionItem.id))
    if tier is not None:
        query = query.where(SupervisionItem.tier == tier)
    rows, seen = [], set()
    for (item_id, item_tier, number, reason, dept, dept_name, opened, due, deadline,
         task_id, name, assignee) in session.execute(query):
        # Two escalation runs of one case at the same tier (rare) would pair each item with both
        # tasks; the item is listed once.
        if item_id in seen:
            continue
        seen.add(item_id)
        since = overdue_start(reason, deadline, opened)
        rows.append(BoardRow(item_id, item_tier, number, reason, dept, dept_name, opened, due, since,
                             days_overdue(since, now), task_id, name, assignee))
    rows.sort(key=lambda r: (r.overdue_since, r.item_id))
    return rows


def open_counts(session: Session) -> dict[int, int]:
    counts = dict(session.execute(select(SupervisionItem.tier, func.count()).where(SupervisionItem.status == "open")
                                  .group_by(SupervisionItem.tier)).all())
    return {tier: counts.get(tier, 0) for tier in TIERS}
