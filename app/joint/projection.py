"""Mirror each co-handler's part (联动处置) into ``co_handlers``, inside the action's transaction.

Like the supervision items, rows change only from the snapshots before and after an action, so a
case that is not a joint disposal costs nothing here and no SELECT is needed to find changes.
"""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from workflows.workdays import parse_instant

from .models import CoHandler


def _instant(value):
    return parse_instant(value) if value else None


def _values(part) -> dict:
    return {"status": part.status, "dispatched_at": _instant(part.dispatched_at), "deadline": _instant(part.deadline),
            "signed_at": _instant(part.signed_at), "fed_back_at": _instant(part.fed_back_at),
            "missing_at": _instant(part.missing_at), "feedback": part.feedback,
            "people_deployed": part.people_deployed}


def sync_co_handlers(session: Session, case, before: list, after: list) -> None:
    if not after:
        return
    old = {p.unit: p for p in before}
    for position, part in enumerate(after):
        if part.unit not in old:
            session.add(CoHandler(case_id=case.id, unit=part.unit, position=position, **_values(part)))
        elif old[part.unit] != part:
            session.execute(update(CoHandler).where(CoHandler.case_id == case.id, CoHandler.unit == part.unit)
                            .values(**_values(part)))
