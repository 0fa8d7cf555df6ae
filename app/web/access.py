"""Who is logged in, and the role check that turns a forbidden URL into a 403.

Services check roles again on every action (``require_role``); these checks decide what a
page shows and refuse before any work is done. Which cases a user may see is a rule of the
cases domain (app/cases/visibility.py), asked with the ``WebUser`` below.
"""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from ..auth.models import User
from ..cases.visibility import may_reveal_reporter


class WebUser:
    """The logged-in user as Flask-Login wants it: plain attributes, no open DB session behind it."""

    def __init__(self, id=None, username="", display_name="", roles=(), department=None, grid=None,
                 session_version=0):
        self.id, self.username, self.display_name = id, username, display_name
        self.roles = frozenset(roles)
        self.department, self.grid = department, grid
        self.session_version = session_version or 0

    @classmethod
    def anonymous(cls) -> "WebUser":
        return cls()

    @classmethod
    def of(cls, user: User) -> "WebUser":
        return cls(user.id, user.username, user.display_name, user.roles, user.department, user.grid,
                   user.session_version)

    @property
    def is_authenticated(self) -> bool:
        return self.id is not None

    is_active = is_authenticated

    @property
    def is_anonymous(self) -> bool:
        return self.id is None

    def get_id(self) -> str | None:
        # "id.version": a session names the user's session version too, so that it can be revoked
        # on the server (app/auth/sessions.py).
        return f"{self.id}.{self.session_version}" if self.id is not None else None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def may_reveal_reporter(self) -> bool:
        return may_reveal_reporter(self)


def load_web_user(core, user_id: str) -> WebUser | None:
    """The user of a session cookie, or None when the user is gone, inactive or revoked that session."""
    key, _, version = str(user_id or "").partition(".")
    if not (key.isascii() and key.isdigit() and version.isascii() and version.isdigit()) or len(user_id) > 40:
        return None
    with core.db.read() as session:
        user = session.get(User, int(key))
        if user is None or not user.active or (user.session_version or 0) != int(version):
            return None
        return WebUser.of(user)


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
