"""协办及时率: each co-handling unit's timeliness over a range (联动处置), from ``co_handlers``.

A part counts in the range its dispatch falls in. It is 按期 when the feedback came by its own
deadline, 超期 when it came later or, still missing, the deadline has passed; a part whose
deadline is still ahead is 办理中 and left out of the rate; a part the lead explained as missing
(缺失) counts as not on time. One aggregate grouped by unit, on the (unit, dispatched_at) index.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..cases.models import Case
from ..org.models import Department
from .models import CoHandler


def co_handling_timeliness(session: Session, start: date, end: date, scope=None,
                           now: datetime | None = None) -> list[dict]:
    from ..reports.kpis import in_range  # the reports domain imports this module
    now = now or utcnow()
    on_time = and_(CoHandler.fed_back_at.is_not(None), CoHandler.fed_back_at <= CoHandler.deadline)
    pending = and_(CoHandler.fed_back_at.is_(None), CoHandler.missing_at.is_(None), CoHandler.deadline > now)
    late = and_(~on_time, ~pending)
    query = (select(CoHandler.unit, func.count(), func.sum(case((on_time, 1), else_=0)),
                    func.sum(case((late, 1), else_=0)), func.sum(case((CoHandler.missing_at.is_not(None), 1), else_=0)),
                    func.sum(case((pending, 1), else_=0)))
             .where(in_range(CoHandler.dispatched_at, start, end)).group_by(CoHandler.unit))
    if scope is not None:
        query = query.join(Case, Case.id == CoHandler.case_id).where(scope)
    rows = []
    for unit, total, ok, overdue, missing, open_ in session.execute(query):
        decided = (ok or 0) + (overdue or 0)
        rows.append({"unit": unit, "parts": total, "on_time": ok or 0, "late": overdue or 0,
                     "missing": missing or 0, "open": open_ or 0,
                     "on_time_rate": round((ok or 0) / decided, 4) if decided else None})
    names = dict(session.execute(select(Department.code, Department.name)
                                 .where(Department.code.in_([r["unit"] for r in rows]))).all()) if rows else {}
    for row in rows:
        row["name"] = names.get(row["unit"], row["unit"])
    return sorted(rows, key=lambda r: r["unit"])
