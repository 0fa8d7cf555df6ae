"""The grid map's figures: open cases, overdue cases or reports per 100 households, per grid.

Every figure is one GROUP BY whose WHERE names the grids and the open statuses (or a registration
range), so each database reads index ranges of ``ix_cases_status_grid_deadline`` or
``ix_cases_grid_registered_at``: only the open cases, or only the cases of the range, never all
cases. The polygons come from ``grids.geometry``.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from workflows.workdays import SHANGHAI

from ..cases.models import FINISHED_STATUSES, STATUSES, Case
from .models import Grid

METRICS = ("open", "overdue", "reports")
OPEN_STATUSES = tuple(s for s in STATUSES if s not in FINISHED_STATUSES)
CASE_LIST_LIMIT = 20

# The grid panel's patrol record (网格巡查): a callable ``(session, grid_code, start: date, end: date)
# -> dict | None``, set by the composition root (app/core.py) to app/patrol/services.py ``map_record``,
# so this module need not import the patrol domain (which imports the org models). Its dict has
# "from", "to", "days" (patrol days), "patrols", "households_visited", "reports", "workdays",
# "missing_days" (ISO days), "staffed", "spot_checks" and "last_patrol". None: no patrol record shown.
PATROL_RECORD = None


def grid_shapes(session) -> list[dict]:
    """The grids that have a polygon; ``geometry`` is the stored GeoJSON text (checked on import)."""
    rows = session.execute(select(Grid.code, Grid.name, Grid.community, Grid.households, Grid.residents,
                                  Grid.geometry).where(Grid.geometry.is_not(None)).order_by(Grid.code)).all()
    return [{"code": code, "name": name, "community": community or "", "households": households,
             "residents": residents, "geometry": geometry} for code, name, community, households, residents, geometry
            in rows if geometry]


def feature_collection(shapes: list[dict]) -> str:
    """The GeoJSON FeatureCollection ECharts registers, built from the stored texts without parsing
    them again (a thousand polygons would otherwise be decoded and encoded on every page view).
    ``<`` is escaped so that the text can sit inside a <script> element."""
    features = ",".join('{"type":"Feature","properties":{"name":%s},"geometry":%s}'
                        % (json.dumps(s["code"]), s["geometry"]) for s in shapes)
    return ('{"type":"FeatureCollection","features":[' + features + "]}").replace("<", "\\u003c")


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Shanghai days [start, end] as UTC instants [from, to)."""
    return (datetime.combine(start, time(), SHANGHAI),
            datetime.combine(end + timedelta(days=1), time(), SHANGHAI))


def figures(session, metric: str, codes: list[str], now: datetime, start: date, end: date,
            households: dict[str, int | None]) -> dict[str, float]:
    """{grid code: value} for the grids ``codes``; grids without cases are 0."""
    if metric not in METRICS:
        raise ValueError(metric)
    if not codes:
        return {}
    # Grouped by ``grid || ''`` for the open figures: with statistics, a planner would otherwise walk
    # the whole (grid, registered_at) index to get the groups in order instead of the open ranges.
    grid = Case.grid.concat("") if metric != "reports" else Case.grid
    query = select(grid, func.count()).group_by(grid)
    if metric == "open":  # ranges of (status, grid) over the open statuses: no closed case is read
        query = query.where(Case.status.in_(OPEN_STATUSES), Case.grid.is_not(None))
    elif metric == "overdue":
        # coalesce(deadline, deadline): the same value, but no planner walks (status, deadline) for it
        # and then looks every open case up for its grid; the covering (status, grid, deadline) ranges win.
        query = query.where(Case.status.in_(OPEN_STATUSES), Case.grid.is_not(None),
                            func.coalesce(Case.deadline, Case.deadline) < now)
    else:  # one range of (grid, registered_at) per grid
        lo, hi = _bounds(start, end)
        query = query.where(Case.grid.in_(codes), Case.registered_at >= lo, Case.registered_at < hi)
    counts = dict(session.execute(query).all())
    if metric != "reports":
        return {code: counts.get(code, 0) for code in codes}
    # Reports per 100 households: comparable between a large grid and a small one.
    return {code: round(100 * counts.get(code, 0) / households[code], 2) if households.get(code) else 0
            for code in codes}


def grid_detail(session, code: str, now: datetime, start: date, end: date) -> dict | None:
    grid = session.scalars(select(Grid).where(Grid.code == code)).first()
    if grid is None:
        return None
    from .services import team
    cases = session.execute(
        select(Case.number, Case.category, Case.status, Case.deadline, Case.department, func.substr(Case.text, 1, 40))
        .where(Case.grid == code, Case.status.in_(OPEN_STATUSES))
        .order_by(Case.deadline.is_(None), Case.deadline).limit(CASE_LIST_LIMIT)).all()
    open_count = session.scalar(select(func.count()).select_from(Case)
                                .where(Case.grid == code, Case.status.in_(OPEN_STATUSES))) or 0
    patrol = PATROL_RECORD(session, code, start, end) if PATROL_RECORD is not None else None
    return {"code": grid.code, "name": grid.name, "community": grid.community, "households": grid.households,
            "residents": grid.residents, "team": team(session, code), "open_count": open_count,
            "cases": [{"number": n, "category": c, "status": s, "deadline": d, "department": dep, "text": t,
                       "overdue": d is not None and d < now} for n, c, s, d, dep, t in cases],
            "patrol": patrol}
