"""The supervision board (督办台): one tier's open items with the task that acts on each.

    rows = board_rows(session, tier=1, now=now)     # two queries: items with cases, departments and
                                                    # tasks; then the escalations' latest records
    counts = open_counts(session)                   # {1: n, 2: n, 3: n} for the tabs
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from workflows.workdays import CalendarGap, WorkingCalendar, parse_instant

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..cases.models import Case, ReadyTask
from ..org.models import Department
from .models import INSTRUCTION_REASON, TIERS, SupervisionItem

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
    days_open: int = 0                   # calendar days since this tier's item opened
    cause_no: int = 1                    # 2, 3 … for a later escalation of the same cause
    step: str | None = None
    last_action: dict | None = None      # {"name", "by", "by_name", "at"}: the run's latest record
    waiting_for: str = "action"          # "action" (this tier's task) or "reply" (the department's)


def working_days_overdue(calendar: WorkingCalendar | None, deadline: datetime | None, now: datetime) -> int | None:
    """Working days from the lapsed deadline to now (today counts once started); None if unknown."""
    if calendar is None or deadline is None:
        return None
    try:
        return calendar.working_days_between(deadline, now)
    except CalendarGap:  # a year without a schedule: fall back to calendar days
        return None


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


def board_rows(session: Session, tier: int | None, now: datetime, status: str = "open",
               calendar: WorkingCalendar | None = None) -> list[BoardRow]:
    """The items of ``tier`` (None: every tier) in ``status``, longest overdue first; one query.

    Open items come with their tier's task (催办, 约谈/通报, 追责); replied items with 核实销号."""
    task_name = TIER_TASKS[tier] if status == "open" else "verify_close"
    query = (
        select(SupervisionItem.id, SupervisionItem.tier, Case.number, SupervisionItem.reason, SupervisionItem.department,
               Department.name, SupervisionItem.opened_at, SupervisionItem.due_at, Case.deadline,
               ReadyTask.id, ReadyTask.name, ReadyTask.assignee, SupervisionItem.missed_deadline,
               SupervisionItem.cause_no, SupervisionItem.step, SupervisionItem.case_id, SupervisionItem.run_key)
        .join(Case, Case.id == SupervisionItem.case_id)
        .outerjoin(Department, Department.code == SupervisionItem.department)
        .outerjoin(ReadyTask, and_(ReadyTask.case_id == SupervisionItem.case_id, ReadyTask.bpmn_id == task_name))
        .where(SupervisionItem.status == status, SupervisionItem.reason != INSTRUCTION_REASON)
        .order_by(SupervisionItem.opened_at, SupervisionItem.id))
    if tier is not None:
        query = query.where(SupervisionItem.tier == tier)
    rows, seen, runs = [], set(), {}
    for (item_id, item_tier, number, reason, dept, dept_name, opened, due, deadline,
         task_id, name, assignee, missed, cause_no, step, case_id, run_key) in session.execute(query):
        # Two escalation runs of one case at the same tier (rare) would pair each item with both
        # tasks; the item is listed once.
        if item_id in seen:
            continue
        seen.add(item_id)
        since = missed or overdue_start(reason, deadline, opened)
        overdue = working_days_overdue(calendar, missed, now)
        row = BoardRow(item_id, item_tier, number, reason, dept, dept_name, opened, due, since,
                       days_overdue(since, now) if overdue is None else overdue, task_id, name, assignee,
                       days_overdue(opened, now), cause_no or 1, step,
                       waiting_for="action" if task_id else "reply")
        rows.append(row)
        runs.setdefault((case_id, run_key), []).append(row)
    _attach_last_actions(session, runs)
    rows.sort(key=lambda r: (r.overdue_since, r.item_id))
    return rows


def _attach_last_actions(session: Session, runs: dict) -> None:
    """Each row gets its escalation's latest record (催办, 约谈/通报, 追责 …), whatever tier made it."""
    if not runs:
        return
    case_ids = {case_id for case_id, _ in runs}
    latest: dict = {}
    for case_id, run_key, records in session.execute(
            select(SupervisionItem.case_id, SupervisionItem.run_key, SupervisionItem.records)
            .where(SupervisionItem.case_id.in_(case_ids))):
        for record in records or []:
            key = (case_id, run_key)
            if key in runs and (key not in latest or record.get("at", "") >= latest[key].get("at", "")):
                latest[key] = record
    for key, record in latest.items():
        action = {"name": record.get("name") or record.get("task"), "by": record.get("by"),
                  "by_name": record.get("by_name") or record.get("by"),
                  "at": parse_instant(record["at"]) if record.get("at") else None}
        for row in runs[key]:
            row.last_action = action


def open_counts(session: Session) -> dict[int, int]:
    # 批示督办 items are counted apart (app/joint: 批示件 N, 已销号 M).
    counts = dict(session.execute(select(SupervisionItem.tier, func.count()).where(
        SupervisionItem.status == "open", SupervisionItem.reason != INSTRUCTION_REASON)
        .group_by(SupervisionItem.tier)).all())
    return {tier: counts.get(tier, 0) for tier in TIERS}
