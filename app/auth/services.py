"""Users, passwords and role checks shared by the CLI, the web app and services."""
from __future__ import annotations

from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Forbidden, Invalid, NotFound
from .models import ROLES, User, UserRole

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise NotFound(f"unknown user '{username}'")
    return user


def create_user(session: Session, username: str, password: str, roles: list[str], display_name: str = "",
                department: str | None = None, grid: str | None = None) -> User:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise Invalid(f"unknown role(s): {', '.join(unknown)}")
    if "handler" in roles and not department:
        raise Invalid("a handler must belong to a department")
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password),
                department=department, grid=grid, active=True, created_at=datetime.now(timezone.utc))
    user.role_rows = [UserRole(role=r) for r in roles]
    session.add(user)
    return user


def require_role(user: User, role: str | None, department: str | None = None) -> None:
    """Refuse unless the user holds ``role``; handlers act only for their own department."""
    if role is None or role not in user.roles:
        raise Forbidden(f"user '{user.username}' lacks the role '{role}' needed for this task")
    if role == "handler" and department is not None and user.department != department:
        raise Forbidden(f"user '{user.username}' does not belong to department '{department}'")
