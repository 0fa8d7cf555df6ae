"""Users, passwords and role checks shared by the CLI, the web app and services."""
from __future__ import annotations

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from workflows.clock import utcnow

from ..errors import Forbidden, Invalid, NotFound
from .models import ROLES, User, UserRole
from .passwords import hasher


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(user: User, password: str) -> bool:
    try:
        return hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_user(session: Session, username: str) -> User:
    # Every action starts here: the roles come in the same SELECT (a join) rather than the
    # relationship's own second one.
    user = session.scalars(select(User).options(joinedload(User.role_rows)).where(User.username == username)
                           ).unique().first()
    if user is None or not user.active:
        raise NotFound(f"unknown user '{username}'")
    return user


def _check_roles(roles, department: str | None) -> None:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise Invalid(f"unknown role(s): {', '.join(unknown)}")
    if "handler" in roles and not department:
        raise Invalid("a handler must belong to a department")


def create_user(session: Session, username: str, password: str, roles: list[str], display_name: str = "",
                department: str | None = None, grid: str | None = None) -> User:
    _check_roles(roles, department)
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password),
                department=department, grid=grid, active=True, created_at=utcnow())
    user.role_rows = [UserRole(role=r) for r in roles]
    session.add(user)
    return user


def update_user(user: User, *, roles: list[str], display_name: str, department: str | None,
                grid: str | None) -> dict:
    """Replace roles, name, department and grid; returns {field: [old, new]} for what changed."""
    _check_roles(roles, department)
    before = {"roles": sorted(user.roles), "display_name": user.display_name, "department": user.department,
              "grid": user.grid}
    if set(roles) != user.roles:
        keep = [row for row in user.role_rows if row.role in roles]
        user.role_rows = keep + [UserRole(role=r) for r in sorted(set(roles) - user.roles)]
    user.display_name = display_name or user.username
    user.department, user.grid = department or None, grid or None
    after = {"roles": sorted(user.roles), "display_name": user.display_name, "department": user.department,
             "grid": user.grid}
    return {key: [before[key], after[key]] for key in before if before[key] != after[key]}


def set_active(user: User, active: bool) -> None:
    """Deactivated users keep their history (audit, cases) but can no longer log in or act."""
    if user.active and not active:
        user.session_version = (user.session_version or 0) + 1  # their open sessions end now
    user.active = bool(active)


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 0) + 1  # log out everywhere


def may_act_as(roles, department: str | None, task_role: str | None, task_department: str | None) -> bool:
    """Whether someone with ``roles`` (in ``department``) may do a task of ``task_role``: they hold
    the role, and handler work belongs to their own department. Pages ask this to decide what to
    show; ``require_role`` enforces the same rule on every action."""
    if task_role is None or task_role not in roles:
        return False
    return task_role != "handler" or task_department is None or department == task_department


def require_role(user: User, role: str | None, department: str | None = None) -> None:
    """Refuse unless the user holds ``role``; handlers act only for their own department."""
    if may_act_as(user.roles, user.department, role, department):
        return
    if role is None or role not in user.roles:
        raise Forbidden(f"user '{user.username}' lacks the role '{role}' needed for this task")
    if role == "handler" and department is not None and user.department != department:
        raise Forbidden(f"user '{user.username}' does not belong to department '{department}'")
