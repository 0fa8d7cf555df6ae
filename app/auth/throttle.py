"""Login throttling: after too many failures in a window, refuse further tries for that name or address.

Failures live in the database so that every web worker counts the same ones.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select

from workflows.clock import utcnow

from .models import LoginAttempt

WINDOW = timedelta(minutes=15)
MAX_PER_USER = 5
MAX_PER_ADDRESS = 30


def is_throttled(session, username: str, remote_addr: str, now: datetime | None = None) -> bool:
    since = (now or utcnow()) - WINDOW
    per_user = session.scalar(select(func.count()).select_from(LoginAttempt)
                              .where(LoginAttempt.username == username, LoginAttempt.at >= since))
    per_addr = session.scalar(select(func.count()).select_from(LoginAttempt)
                              .where(LoginAttempt.remote_addr == remote_addr, LoginAttempt.at >= since))
    return per_user >= MAX_PER_USER or per_addr >= MAX_PER_ADDRESS


def record_failure(session, username: str, remote_addr: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    session.add(LoginAttempt(username=username[:50], remote_addr=remote_addr[:64], at=now))
    # Old rows are useless for the window; dropping them here keeps the table small without a job.
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - WINDOW))


def clear_failures(session, username: str, remote_addr: str) -> None:
    session.execute(delete(LoginAttempt).where(or_(LoginAttempt.username == username,
                                                   LoginAttempt.remote_addr == remote_addr)))
