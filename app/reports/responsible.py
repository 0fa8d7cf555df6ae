"""责任人: the one person a case is down to, for the ledger's person filter and the KPI page's 按责任人.

The person is whom the lead department's handler task (签收 or 办理) is assigned to now — claimed,
or sent straight to the grid's professional (直接责任人, app/org/services.py) — and, with no such
task assigned, the person who replied (``cases.replied_by``: who completed 办理 with 答复). So an
open case is down to whoever holds it, a replied or closed case to whoever answered it, and a case
sent back for 重办 to whoever holds it again. A case nobody has claimed or answered has no person.

One expression (``person_key``) is both the KPI breakdown key and, through ``person_is``, the
ledger's filter, so a KPI figure by person and the ledger rows behind it cannot disagree.
"""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from ..cases.models import Case, ReadyTask

HANDLER_ROLE = "handler"


def current_assignee():
    """The person the lead department's handler task of the case is assigned to (None when in the pool).
    A co-handler's part (联动处置) is its unit's task (another department) and does not count."""
    return (select(func.max(ReadyTask.assignee))
            .where(ReadyTask.case_id == Case.id, ReadyTask.role == HANDLER_ROLE,
                   ReadyTask.department == Case.department)
            .correlate(Case).scalar_subquery())


def person_key():
    """The KPI breakdown's key: the current assignee, else who replied."""
    return func.coalesce(current_assignee(), Case.replied_by)


def person_is(username: str):
    """Cases whose 责任人 is ``username``. The first clause lets the database start from the person's
    ready tasks (ix ready_tasks.assignee) and replies (ix_cases_replied_by_registered_at) instead of
    every case; the second is the exact definition, checked on those few rows."""
    assigned = select(ReadyTask.case_id).where(ReadyTask.assignee == username)
    return and_(or_(Case.id.in_(assigned), Case.replied_by == username), person_key() == username)
