"""Server-side control over signed-cookie sessions.

A Flask session lives in a signed cookie, so the server cannot delete it. Two checks make it
revocable anyway:

* **Session version.** The cookie names the user *and* the user's ``session_version``. Logout,
  a password change and deactivation bump the version, so every cookie issued before — including
  one copied by an attacker — stops working on the next request. The price: logging out on one
  device logs the user out on all of them.
* **Idle and absolute lifetime.** The cookie carries when the session started and when it was last
  used; a session idle for ``SESSION_IDLE_MINUTES`` (default 30) or older than
  ``SESSION_MAX_HOURS`` (default 12) ends. Both read the application clock, so tests can travel.
"""
from __future__ import annotations

from flask import Flask, session
from flask_login import current_user, logout_user
from sqlalchemy import update

from workflows.clock import utcnow

from .models import User

STARTED, SEEN = "_bihuan_started", "_bihuan_seen"
# Refreshing "last seen" at most once a minute keeps most responses free of a new Set-Cookie.
SEEN_RESOLUTION = 60


def revoke_sessions(db_session, user_id: int) -> None:
    """Every session of this user ends at its next request."""
    db_session.execute(update(User).where(User.id == user_id)
                       .values(session_version=User.session_version + 1))


def start(now: float | None = None) -> None:
    now = utcnow().timestamp() if now is None else now
    session[STARTED] = session[SEEN] = int(now)


def _expired(now: float, idle_minutes: float, max_hours: float) -> bool:
    started, seen = session.get(STARTED), session.get(SEEN)
    if not isinstance(started, int) or not isinstance(seen, int):
        return True  # a session from before these checks, or a forged one: start again
    return now - seen > idle_minutes * 60 or now - started > max_hours * 3600


def init_session_limits(app: Flask) -> None:
    idle = float(app.config.get("SESSION_IDLE_MINUTES", 30))
    absolute = float(app.config.get("SESSION_MAX_HOURS", 12))

    @app.before_request
    def _enforce_session_lifetime():
        if not current_user.is_authenticated:
            return None
        now = utcnow().timestamp()
        if _expired(now, idle, absolute):
            lang = session.get("lang")
            logout_user()
            session.clear()
            if lang:
                session["lang"] = lang
            return None  # the view now sees an anonymous user: login_required sends them to log in
        if now - session[SEEN] >= SEEN_RESOLUTION:
            session[SEEN] = int(now)
        return None
