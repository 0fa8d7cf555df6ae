"""Possible duplicates (重复件) and repeat calls (回头件) of a request being registered.

Open cases registered in the last ``BIHUAN_DUPLICATE_DAYS`` days (default 30), and closed cases
closed in the last ``BIHUAN_REPEAT_CALL_DAYS`` days (default 90), with the same reporter phone or
the same address. A closed one is the resident calling back about a case the office considers
done: the operator can attach the call to it, or reopen it as 重办 (app/intake/repeat_calls.py).
Both columns are indexed and the windows are bounded, so the lookup stays cheap on a large table.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..cases.models import FINISHED_STATUSES, Case
from ..privacy.crypto import blind_index

LIMIT = 10


def _days(name: str, default: int) -> timedelta:
    try:
        return timedelta(days=max(0, int(os.environ.get(name) or default)))
    except ValueError:
        return timedelta(days=default)


def windows() -> tuple[timedelta, timedelta]:
    """(open cases' window by registration, closed cases' window by closing), from the environment."""
    return _days("BIHUAN_DUPLICATE_DAYS", 30), _days("BIHUAN_REPEAT_CALL_DAYS", 90)


def find_duplicates(session: Session, phone: str | None = None, address: str | None = None, *, scope=None,
                    exclude: str | None = None, now: datetime | None = None, limit: int = LIMIT) -> list[Case]:
    """Open cases registered within the window, and closed ones closed within theirs, with the same
    reporter phone or the same address; newest first.

    ``scope`` is a WHERE clause over Case limiting what the asking user may see (``case_scope``)."""
    phone, address = (phone or "").strip(), (address or "").strip()
    matches = []
    if phone:
        matches.append(Case.reporter_phone_index == blind_index(phone))
    if address:
        matches.append(Case.address == address)
    if not matches:
        return []
    now = now or utcnow()
    open_window, closed_window = windows()
    recent = or_(and_(Case.status.not_in(FINISHED_STATUSES), Case.registered_at >= now - open_window),
                 and_(Case.status == "closed", Case.closed_at >= now - closed_window))
    query = (select(Case).where(or_(*matches), recent).order_by(Case.registered_at.desc()).limit(limit))
    if scope is not None:
        query = query.where(scope)
    if exclude:
        query = query.where(Case.number != exclude)
    return list(session.scalars(query))
