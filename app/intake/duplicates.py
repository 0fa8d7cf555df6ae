"""Possible duplicates (重复件) of a request being registered: open cases from the same phone or address.

Both columns are indexed and the window is 30 days, so the lookup stays cheap on a large table.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..cases.models import FINISHED_STATUSES, Case
from ..privacy.crypto import blind_index

WINDOW = timedelta(days=30)
LIMIT = 10


def find_duplicates(session: Session, phone: str | None = None, address: str | None = None, *, scope=None,
                    exclude: str | None = None, now: datetime | None = None, limit: int = LIMIT) -> list[Case]:
    """Open cases registered in the last 30 days with the same reporter phone or the same address.

    ``scope`` is a WHERE clause over Case limiting what the asking user may see (``case_scope``)."""
    phone, address = (phone or "").strip(), (address or "").strip()
    matches = []
    if phone:
        matches.append(Case.reporter_phone_index == blind_index(phone))
    if address:
        matches.append(Case.address == address)
    if not matches:
        return []
    since = (now or utcnow()) - WINDOW
    query = (select(Case).where(or_(*matches), Case.registered_at >= since, Case.status.not_in(FINISHED_STATUSES))
             .order_by(Case.registered_at.desc()).limit(limit))
    if scope is not None:
        query = query.where(scope)
    if exclude:
        query = query.where(Case.number != exclude)
    return list(session.scalars(query))
