"""网格员考核: each grid worker's month, priced by the ``grid_scoring`` DMN table of the deployed bundle.

The figures (docs/grid_scoring.md has the definitions with a worked example):

=================  =================================================================================
figure             counted from
=================  =================================================================================
report_filed       cases of channel ``grid`` registered by the worker in the month (网格上报)
report_valid       of those, the ones the center dispatched (``dispatched_at`` set) and that are not
                   refused (不予受理) or merged (并单): the flow's own record that the report was a
                   real matter for a department
patrol_day         local days of the month with at least one finished patrol of the worker
household          households visited (走访入户) over the worker's finished patrols of the month
missing_day        working days of the month (the calendar service), before today, without a
                   finished patrol of the worker
spot_check_pass    the 督查组's spot checks of the worker's patrols of the month: 合格
spot_check_fail    … 不合格
=================  =================================================================================

Each figure is an event with a count; the table gives ``points`` per unit for ``{event, count}`` (so a
rule may depend on the month's count, e.g. a higher rate from 20 patrol days on); the figure scores
count × points. Queries run on the (channel, registered_at) index of cases and the (worker, day) index
of patrols: no scan of the cases.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import and_, case as when, func, select
from sqlalchemy.orm import Session

from workflows.bundle import read_directory
from workflows.clock import utcnow
from workflows.model import Bundle, hash_files
from workflows.rules import DecisionError, evaluate

from ..auth.models import User, UserRole
from ..calendar.services import load_calendar
from ..cases.models import Case
from ..errors import Invalid
from ..processes.problem_text import N_, tr as _
from ..processes.services import SHIPPED_BUNDLE, latest_version
from ..reports.periods import Period, local_date, parse_month
from .models import Patrol, SpotCheck
from .services import WORKER_ROLE, day_kinds

DECISION = "grid_scoring"
EVENTS = {
    "report_filed": N_("上报件数"),
    "report_valid": N_("核实有效件数"),
    "patrol_day": N_("巡查天数"),
    "household": N_("走访入户（户）"),
    "missing_day": N_("工作日缺巡（天）"),
    "spot_check_pass": N_("抽查合格"),
    "spot_check_fail": N_("抽查不合格"),
}
NOT_VALID = ("refused", "merged")


def current_rules(core, session: Session) -> tuple[Bundle, int | None]:
    """The grid scoring table of the latest deployed version, or the shipped one when that version
    predates the table (an install deployed before it existed)."""
    row = latest_version(session)
    if row is not None:
        bundle = core.bundles.get(session, row.id)
        if any(name.endswith(".dmn") and f'id="{DECISION}"' in content.decode("utf-8", "replace")
               for name, content in bundle.files.items()):
            return bundle, row.version
    files = {n: c for n, c in read_directory(SHIPPED_BUNDLE).items() if n.endswith(".dmn")}
    return Bundle(files=files, content_hash=hash_files(files)), None


def month_figures(session: Session, period: Period) -> dict[str, dict]:
    """worker -> the figures of ``period`` (up to now for the running month)."""
    now = utcnow()
    today = local_date(now)
    workers = {u: {"name": n, "grid": g} for u, n, g in session.execute(
        select(User.username, User.display_name, User.grid).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == WORKER_ROLE, User.active.is_(True)))}
    figures: dict[str, dict] = defaultdict(lambda: {event: 0 for event in EVENTS})

    valid = and_(Case.dispatched_at.is_not(None), Case.status.not_in(NOT_VALID))
    for worker, filed, good in session.execute(
            select(Case.registered_by, func.count(Case.id), func.sum(when((valid, 1), else_=0)))
            .where(Case.channel == "grid", Case.registered_at >= period.start, Case.registered_at < period.end)
            .group_by(Case.registered_by)):
        figures[worker]["report_filed"] = filed
        figures[worker]["report_valid"] = int(good or 0)

    # Working days already behind us (today may still get its patrol).
    until = min(period.last, today - timedelta(days=1))
    kinds = day_kinds(load_calendar(session), period.first, until) if until >= period.first else {}
    workdays = sorted(d for d, kind in kinds.items() if kind == "workday")
    finished = (Patrol.day >= period.first, Patrol.day <= period.last, Patrol.finished_at.is_not(None))
    patrolled: dict[str, tuple[int, int]] = {}  # worker -> (patrol days, of which working days so far)
    # One row per worker: the days and the working days patrolled are counted by the database.
    for worker, n_days, n_workdays, households in session.execute(
            select(Patrol.worker, func.count(func.distinct(Patrol.day)),
                   func.count(func.distinct(when((Patrol.day.in_(workdays), Patrol.day), else_=None))),
                   func.sum(Patrol.households)).where(*finished).group_by(Patrol.worker)):
        patrolled[worker] = (n_days, n_workdays)
        figures[worker]["household"] = int(households or 0)
    for worker, result, n in session.execute(
            select(Patrol.worker, SpotCheck.result, func.count(SpotCheck.id))
            .join(SpotCheck, SpotCheck.patrol_id == Patrol.id)
            .where(Patrol.day >= period.first, Patrol.day <= period.last).group_by(Patrol.worker, SpotCheck.result)):
        figures[worker][f"spot_check_{result}"] = n

    for worker in set(workers) | set(figures) | set(patrolled):
        mine = figures[worker]
        n_days, n_workdays = patrolled.get(worker, (0, 0))
        mine["patrol_day"] = n_days
        mine["missing_day"] = len(workdays) - n_workdays if worker in workers else 0
    # Grid workers, and whoever patrolled in the month (a worker deactivated since); not an operator
    # who happened to register a case on the grid channel.
    return {w: dict(f, name=workers.get(w, {}).get("name", w), grid=workers.get(w, {}).get("grid"))
            for w, f in figures.items() if w in workers or w in patrolled}


def _points(bundle: Bundle, event: str, count: int, script_engine, cache: dict) -> float:
    key = (event, count)
    if key not in cache:
        try:
            result = evaluate(bundle, DECISION, {"event": event, "count": count}, script_engine)
        except DecisionError as exc:
            raise Invalid(_("网格员考核规则无法计算：%(error)s", error=str(exc))) from None
        points = result.get("points") or 0
        if isinstance(points, bool) or not isinstance(points, (int, float)):
            raise Invalid(_("网格员考核规则的分值不是数字：%(event)s", event=event))
        cache[key] = points
    return cache[key]


def _number(value: float):
    value = round(value, 2)
    return int(value) if float(value).is_integer() else value


def grid_scores(core, session: Session, month: str) -> dict:
    """The month's ranking of grid workers: figures, points per figure (count × the table's points),
    score and rank (equal scores share a rank)."""
    period = parse_month(month)
    now = utcnow()
    if period.start > now:
        raise Invalid(_("%(month)s 尚未开始", month=period.key))
    bundle, version = current_rules(core, session)
    cache: dict = {}
    rows = []
    for worker, figures in month_figures(session, period).items():
        points = {e: _number(figures[e] * _points(bundle, e, figures[e], core.engine.script_engine, cache))
                  for e in EVENTS}
        rows.append({"worker": worker, "name": figures["name"], "grid": figures["grid"],
                     "figures": {e: figures[e] for e in EVENTS}, "points": points,
                     "score": _number(sum(points.values()))})
    rows.sort(key=lambda r: (-r["score"], r["worker"]))
    for i, row in enumerate(rows):
        row["rank"] = rows[i - 1]["rank"] if i and rows[i - 1]["score"] == row["score"] else i + 1
    return {"month": period.key, "from": period.first.isoformat(), "to": period.last.isoformat(),
            "until": min(period.end, now).isoformat(), "rules_version": version,
            "rules_hash": bundle.content_hash, "rows": rows}
