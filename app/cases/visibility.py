"""Who may see a case, and who may see its reporter unmasked: rules of the cases domain.

They take any user with ``.roles``, ``.department``, ``.grid`` and ``.username``: the logged-in
``WebUser`` of the pages and the ``User`` row the services load, so a page and a service asking
the same question get the same answer.

    session.scalars(select(Case).where(case_scope(user)))   # the cases user may open
    can_view_case(session, user, case)
    may_reveal_reporter(user)
"""
from __future__ import annotations

from sqlalchemy import false, or_, select, true

from ..joint.models import CoHandler
from .models import Case

# Roles that see every case (read-only unless a task is theirs). The 督查组 (inspector) reads the
# reports behind the patrols it spot-checks, reporters masked.
SEE_ALL_CASES = frozenset({"admin", "operator", "dispatcher", "supervisor_center", "supervisor_discipline",
                           "supervisor_party", "viewer", "designer", "inspector"})
# Roles that must be able to call the reporter back, so they see the phone unmasked (each look is audited).
REVEAL_REPORTER = frozenset({"operator", "dispatcher"})


def case_scope(user):
    """``case_scope_parts`` as one clause (their OR)."""
    parts = case_scope_parts(user)
    return parts[0] if len(parts) == 1 else or_(*parts)


def case_scope_parts(user) -> list:
    """The WHERE clauses over ``Case`` whose OR is the cases ``user`` may open. A page sorted down an
    index runs one query per part and merges them (app/reports/ledger.py): an OR of a department
    and its co-handled cases made the database sort the whole department.

    Handlers see their department's cases. That covers the cases waiting on their department
    (a dispatch they have not signed for yet): a handler task's department is always the case's
    department, copied in the same write (app/cases/projection.py), so no clause over the ready
    tasks is needed. Grid workers see the cases of their grid and the ones they reported.
    """
    roles = set(user.roles)
    if roles & SEE_ALL_CASES:
        return [true()]
    clauses = []
    if "handler" in roles and user.department:
        clauses.append(Case.department == user.department)
        # A co-handling unit (联动处置) sees the cases it has a part in (indexed by unit).
        clauses.append(Case.id.in_(select(CoHandler.case_id).where(CoHandler.unit == user.department)))
    if "grid_worker" in roles:
        clauses.append(Case.registered_by == user.username)
        if user.grid:
            clauses.append(Case.grid == user.grid)
    return clauses or [false()]


def can_view_case(session, user, case: Case) -> bool:
    return session.scalar(select(Case.id).where(Case.id == case.id, case_scope(user))) is not None


def may_reveal_reporter(user) -> bool:
    return bool(set(user.roles) & REVEAL_REPORTER)
