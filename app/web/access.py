"""Who may see and do what in the browser: the logged-in user, role checks, department scoping.

Services check roles again on every action (``require_role``); these checks decide what a
page shows and turn a forbidden URL into a 403 before any work is done.
"""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import false, or_, select, true

from ..auth.models import User
from ..cases.models import Case, ReadyTask

# Roles that see every case (read-only unless a task is theirs).
SEE_ALL_CASES = frozenset({"admin", "operator", "dispatcher", "supervisor_center", "supervisor_discipline",
                           "supervisor_party", "viewer", "designer"})
# Roles that must be able to call the reporter back, so they see the phone unmasked (each look is audited).
REVEAL_REPORTER = frozenset({"operator", "dispatcher"})


class WebUser:
    """The logged-in user as Flask-Login wants it: plain attributes, no open DB session behind it."""

    def __init__(self, id=None, username="", display_name="", roles=(), department=None, grid=None):
        self.id, self.username, self.display_name = id, username, display_name
        self.roles = frozenset(roles)
        self.department, self.grid = department, grid

    @classmethod
    def anonymous(cls) -> "WebUser":
        return cls()

    @classmethod
    def of(cls, user: User) -> "WebUser":
        return cls(user.id, user.username, user.display_name, user.roles, user.department, user.grid)

    @property
    def is_authenticated(self) -> bool:
        return self.id is not None

    is_active = is_authenticated

    @property
    def is_anonymous(self) -> bool:
        return self.id is None

    def get_id(self) -> str | None:
        return str(self.id) if self.id is not None else None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def may_reveal_reporter(self) -> bool:
        return bool(self.roles & REVEAL_REPORTER)


def load_web_user(core, user_id: str) -> WebUser | None:
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    with core.db.read() as session:
        user = session.get(User, key)
        return WebUser.of(user) if user is not None and user.active else None


def roles_required(*roles: str):
    """Logged in and holding one of ``roles``; otherwise the login page or a 403."""
    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.has(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def case_scope(user: WebUser):
    """A WHERE clause over ``Case`` for the cases ``user`` may open.

    Handlers see their department's cases and cases that wait on their department right now
    (a dispatch they have not signed for yet); grid workers see the cases of their grid.
    """
    if user.roles & SEE_ALL_CASES:
        return true()
    clauses = []
    if "handler" in user.roles and user.department:
        clauses.append(Case.department == user.department)
        clauses.append(Case.id.in_(select(ReadyTask.case_id).where(ReadyTask.department == user.department)))
    if "grid_worker" in user.roles:
        clauses.append(Case.registered_by == user.username)
        if user.grid:
            clauses.append(Case.grid == user.grid)
    return or_(*clauses) if clauses else false()


def can_view_case(session, user: WebUser, case: Case) -> bool:
    return session.scalar(select(Case.id).where(Case.id == case.id, case_scope(user))) is not None
