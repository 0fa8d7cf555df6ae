"""THE one place where KPI definitions are computed (docs/kpis.md states them in words).

Every rate is ``numerator / denominator`` over cases selected by ONE timestamp falling in the
requested range of Shanghai days, ``[start 00:00, end + 1 day 00:00)``. ``DEFINITIONS`` holds,
per KPI, that timestamp and the two WHERE clauses; ``compute_kpis`` aggregates them in SQL
(``GROUP BY`` the dimension, over an indexed timestamp range: migration 0005), and the ledger's
drill-down (``kpi=<key>&part=num|den``) selects its rows with ``kpi_clause`` from the same
definitions, so a figure and the rows behind it can never disagree.

    compute_kpis(session, start=date(2026, 10, 1), end=date(2026, 10, 31), by="department")
    -> {"from": "2026-10-01", "to": "2026-10-31", "by": "department",
        "total": {"on_time_reply_rate": 0.8, "on_time_reply_rate_num": 4, "on_time_reply_rate_den": 5, ...},
        "rows": [{"key": "chengguan", "label": "城管执法中队", ...same keys...}, ...]}

Rates are floats in [0, 1], or None when the denominator is 0 (never a division error).
Figures are "as of now" (``workflows.clock.utcnow``): a case whose deadline is still ahead and
that has not been replied to yet is not decided, so it is in no denominator yet.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable

from sqlalchemy import and_, case as sql_case, exists, func, literal, not_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import True_

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI, CalendarGap

from ..calendar.services import iso_day
from ..cases.models import CHANNELS, TYPES, Case
from ..errors import Invalid
from ..org.models import Department, Grid
from ..auth.models import User
from ..supervision.models import REASONS, SupervisionItem
from . import kpi_rollup
from .responsible import person_key

def N_(text: str) -> str:
    """Marks a label for the catalog (babel -k N_); the pages translate it when they show it."""
    return text


MAX_RANGE_DAYS = 5 * 366  # "a range of more than 5 years" is refused
REACHED = ("satisfied", "mostly_satisfied", "unsatisfied")  # 联系不上 never reached the resident
SATISFIED = ("satisfied", "mostly_satisfied")

# The dimensions a KPI table is broken down by: the case column that holds the row key. ``person``
# (按责任人) is the case's 责任人 (app/reports/responsible.py), an expression, labelled so that each
# database groups by the output column rather than comparing two renderings of a subquery.
BY = {"department": Case.department, "channel": Case.channel, "type": Case.type,
      "category": Case.category, "grid": Case.grid, "person": person_key().label("person")}
# Breakdowns the rollup does not keep: always counted from the case rows over the range (docs/kpis.md).
LIVE_ONLY = ("person",)


@dataclass(frozen=True)
class Definition:
    """One rate: the timestamp that puts a case in a range, who is counted, who succeeded."""
    label: str
    timestamp: object  # a Case column
    den: Callable[[datetime], object]  # now -> WHERE clause
    num: Callable[[datetime], object]  # now -> WHERE clause, applied on top of den


def _status_is(value: str):
    """``status = value`` written so that no index on status can serve it (coalesce() hides the
    column): SQLite, which runs without statistics, would otherwise walk the (status, registered_at)
    index over 70 % of all cases instead of the KPI's narrow timestamp range."""
    return func.coalesce(Case.status, "") == value


def _sign_overdue():
    """The engine opened a 签收超时 supervision item: the department did not sign for in time."""
    return exists().where(SupervisionItem.case_id == Case.id, SupervisionItem.reason == "sign_overdue")


def _reply_decided(now):
    # Returned cases wait for 改派; the next dispatch gives them a new deadline.
    return and_(Case.deadline.is_not(None), Case.status != "returned",
                or_(Case.replied_at.is_not(None), Case.deadline <= now))


DEFINITIONS: dict[str, Definition] = {
    # 按期回复率: due in the range (deadline, approved extensions included: the deadline column is
    # the one in force), and either replied or past due now; on time = replied at or before it.
    "on_time_reply_rate": Definition(
        N_("按期回复率"), Case.deadline, _reply_decided,
        lambda now: and_(Case.replied_at.is_not(None), Case.replied_at <= Case.deadline)),
    # 及时签收率: dispatched in the range (the last dispatch, 改派 included) and signed for or
    # gone overdue; on time = signed with no 签收超时 item ever opened for the case.
    "on_time_sign_rate": Definition(
        N_("及时签收率"), Case.dispatched_at,
        lambda now: and_(Case.dispatched_at.is_not(None), or_(Case.signed_at.is_not(None), _sign_overdue())),
        lambda now: and_(Case.signed_at.is_not(None), not_(_sign_overdue()))),
    # 办结率: due in the range and either past due now or closed; closed = 已销号.
    "closure_rate": Definition(
        N_("办结率"), Case.deadline,
        lambda now: and_(Case.deadline.is_not(None), or_(Case.deadline <= now, _status_is("closed"))),
        lambda now: _status_is("closed")),
    # 满意率 / 不满意率: the (last) follow-up in the range reached the resident.
    "satisfaction_rate": Definition(
        N_("满意率"), Case.followed_up_at,
        lambda now: Case.satisfaction.in_(REACHED), lambda now: Case.satisfaction.in_(SATISFIED)),
    "dissatisfaction_rate": Definition(
        N_("不满意率"), Case.followed_up_at,
        lambda now: Case.satisfaction.in_(REACHED), lambda now: Case.satisfaction == "unsatisfied"),
    # 重办率: closed (销号) in the range, redone at least once.
    "redo_rate": Definition(
        N_("重办率"), Case.closed_at, lambda now: _status_is("closed"), lambda now: Case.redo_count > 0),
    # 回退率: dispatched in the range, returned by a department at least once.
    "return_rate": Definition(
        N_("回退率"), Case.dispatched_at, lambda now: Case.dispatched_at.is_not(None),
        lambda now: Case.return_count > 0),
}
RATES = tuple(DEFINITIONS)

# Counts, each a set of cases too (drill-down uses part=num): closed-in-range by how they ended.
COUNTS: dict[str, tuple[str, object, Callable[[datetime], object]]] = {
    "closed_count": (N_("已销号"), Case.closed_at, lambda now: _status_is("closed")),
    "refused_count": (N_("不予受理"), Case.closed_at, lambda now: _status_is("refused")),
    "merged_count": (N_("并单"), Case.closed_at, lambda now: _status_is("merged")),
}
# Supervision items opened in the range per tier, and 追责 decisions taken on tier-3 items opened
# in the range.
SUPERVISION = {"supervision_tier1": 1, "supervision_tier2": 2, "supervision_tier3": 3}
KPI_KEYS = RATES + tuple(COUNTS) + tuple(SUPERVISION) + ("accountability_count",)
KPI_LABELS = {**{k: d.label for k, d in DEFINITIONS.items()},
              **{k: v[0] for k, v in COUNTS.items()},
              "supervision_tier1": N_("一级督办"), "supervision_tier2": N_("二级督办"),
              "supervision_tier3": N_("三级督办"), "accountability_count": N_("追责"),
              "handling_days_avg": N_("平均办理工作日"), "handling_days_p90": N_("办理工作日P90")}


# -- ranges ---------------------------------------------------------------------------------------
def parse_range(start, end) -> tuple[date, date]:
    """Two YYYY-MM-DD strings (or dates) -> (start, end); Invalid with a clear message otherwise."""
    def one(value, name):
        if isinstance(value, date):
            return value
        try:
            return iso_day(str(value or ""))
        except ValueError:
            raise Invalid(f"invalid {name} date '{value}': use YYYY-MM-DD", fields=[(name, "YYYY-MM-DD")]) from None
    first, last = one(start, "from"), one(end, "to")
    if last < first:
        raise Invalid(f"the range ends ({last}) before it starts ({first})", fields=[("to", "before from")])
    if (last - first).days >= MAX_RANGE_DAYS:
        raise Invalid("the range is longer than 5 years: choose a shorter one", fields=[("to", "range > 5 years")])
    return first, last


def instants(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants bounding the Shanghai days start..end (end inclusive)."""
    return (datetime.combine(start, time(0), SHANGHAI),
            datetime.combine(end + timedelta(days=1), time(0), SHANGHAI))


def in_range(column, start: date, end: date):
    lo, hi = instants(start, end)
    return and_(column >= lo, column < hi)


# -- drill-down: the cases behind one figure ------------------------------------------------------
def kpi_clause(kpi: str, part: str, start: date, end: date, now: datetime | None = None):
    """WHERE clause over Case for the cases counted in ``kpi``'s numerator or denominator."""
    now = now or utcnow()
    if part not in ("num", "den"):
        raise Invalid(f"unknown part '{part}': use num or den", fields=[("part", "num|den")])
    if kpi in DEFINITIONS:
        d = DEFINITIONS[kpi]
        clause = and_(in_range(d.timestamp, start, end), d.den(now))
        return and_(clause, d.num(now)) if part == "num" else clause
    if kpi in COUNTS:
        _label, column, where = COUNTS[kpi]
        return and_(in_range(column, start, end), where(now))
    if kpi in SUPERVISION:
        return exists().where(SupervisionItem.case_id == Case.id, SupervisionItem.tier == SUPERVISION[kpi],
                              in_range(SupervisionItem.opened_at, start, end))
    if kpi == "accountability_count":
        return exists().where(SupervisionItem.case_id == Case.id, _accountability(start, end))
    raise Invalid(f"unknown KPI '{kpi}': use one of {', '.join(KPI_KEYS)}", fields=[("kpi", "unknown")])


def timestamp_of(kpi: str):
    """The Case column that puts a case in ``kpi``'s range (None for the supervision counts)."""
    if kpi in DEFINITIONS:
        return DEFINITIONS[kpi].timestamp
    if kpi in COUNTS:
        return COUNTS[kpi][1]
    return None


def _accountability(start, end):
    # The decision is recorded on the tier-3 item; the item stays open until 核实销号, so the
    # decision is counted with the tier-3 item it was taken on, by when that item opened.
    return and_(SupervisionItem.tier == 3, SupervisionItem.accountability_decision.is_not(None),
                in_range(SupervisionItem.opened_at, start, end))


# -- computing -----------------------------------------------------------------------------------
def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _key_column(by: str | None):
    if by is None:
        return literal("")
    if by not in BY:
        raise Invalid(f"unknown breakdown '{by}': use one of {', '.join(BY)}", fields=[("by", "unknown")])
    return BY[by]


def _scoped(query, scope):
    return query.where(scope) if scope is not None else query


def _grouped(session, key, where, scope, value_columns) -> dict:
    """{key: tuple of values} from one GROUP BY over Case."""
    query = _scoped(select(key, *value_columns).select_from(Case).where(where), scope).group_by(key)
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in session.execute(query)}


def compute_kpis(session: Session, *, start: date, end: date, by: str | None = None, scope=None) -> dict:
    """Every KPI for the range, as totals and per ``by`` (department|channel|type|category|grid|person).

    ``scope`` is a WHERE clause over Case (``case_scope(user)``), so a handler's figures cover
    only their department. The SQL never loads case rows: each KPI is one aggregate.
    """
    start, end = parse_range(start, end)
    key = _key_column(by)
    now = utcnow()
    per_key: dict = {}

    def put(k, name, value):
        per_key.setdefault(k, {})[name] = value

    if isinstance(scope, True_):
        # case_scope() of a user who sees every case (a leader, the center): no scope at all, so the
        # figures come from the rollup (reading the cases took 22 s for a year at 1 000 000 cases).
        scope = None
    if scope is None and by not in LIVE_ONLY:
        # Unscoped (leaders, the CLI, reports): the rollup kept with the cases (kpi_rollup.py).
        days = _from_rollup(session, by, key, start, end, now, per_key)
    else:
        days = _live(session, key, start, end, now, scope, put)
    _supervision(session, key, start, end, scope, put)

    totals: dict = {}
    rows = []
    for k in sorted(set(per_key) | set(days), key=lambda v: (v is None, str(v))):
        values = per_key.get(k, {})
        for name, value in values.items():
            if not isinstance(value, dict):
                totals[name] = totals.get(name, 0) + value
        for reason, count in values.get("supervision_reasons", {}).items():
            totals.setdefault("supervision_reasons", {})
            totals["supervision_reasons"][reason] = totals["supervision_reasons"].get(reason, 0) + count
        rows.append({"key": k, **_finish(values, days.get(k, {}))})
    all_days: dict[int, int] = {}
    for counts in days.values():
        for d, n in counts.items():
            all_days[d] = all_days.get(d, 0) + n
    labels = _labels(session, by, [r["key"] for r in rows])
    for row in rows:
        row["label"] = labels.get(row["key"], row["key"] if row["key"] is not None else N_("（未填）"))
    rows.sort(key=lambda r: (r["key"] is None, r["label"]))
    from ..joint.kpis import co_handling_timeliness
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by,
            "total": _finish(totals, all_days), "rows": rows if by else [],
            # 联动处置: each co-handling unit's 协办及时率 (app/joint/kpis.py)
            "co_handling": co_handling_timeliness(session, start, end, scope, now)}


def _live(session, key, start, end, now, scope, put) -> dict:
    """The figures from the case rows themselves: for a scoped user (a handler's department)."""
    for name, d in DEFINITIONS.items():
        num_sum = func.sum(sql_case((d.num(now), 1), else_=0))
        for k, (den, num) in _grouped(session, key, and_(in_range(d.timestamp, start, end), d.den(now)), scope,
                                      [func.count(), num_sum]).items():
            put(k, name + "_num", num)
            put(k, name + "_den", den)
    for name, (_label, column, where) in COUNTS.items():
        for k, (count,) in _grouped(session, key, and_(in_range(column, start, end), where(now)), scope,
                                    [func.count()]).items():
            put(k, name, count)
    return _handling_days(session, key, start, end, scope)


def _rollup_key(by: str | None, value: str):
    return value if by is None or value else None  # '' in the rollup is an unset column


def _from_rollup(session, by, key, start, end, now, per_key: dict) -> dict:
    """Rates and counts summed from report_kpi_daily, less the cases not decided yet (due later
    and not yet replied, or not yet closed): those depend on now, so they are counted live over
    the cases whose deadline is still ahead (indexed; a few days' intake)."""
    dim = by or ""
    for raw, values in kpi_rollup.sums(session, start, end, dim).items():
        if not any(values.values()):
            continue
        k = _rollup_key(by, raw)
        bucket = per_key.setdefault(k, {})
        for name, value in values.items():
            bucket[name] = bucket.get(name, 0) + value
    lo, hi = instants(start, end)
    if hi > now:
        ahead = [Case.deadline >= lo, Case.deadline < hi, Case.deadline > now]
        for name, clause in (("on_time_reply_rate_den", [Case.replied_at.is_(None), Case.status != "returned"]),
                             ("closure_rate_den", [Case.status != "closed"])):
            query = select(key, func.count()).select_from(Case).where(*ahead, *clause).group_by(key)
            for k, n in session.execute(query):
                if n and k in per_key:
                    per_key[k][name] -= int(n)
        for k in [k for k, values in per_key.items() if not any(values.values())]:
            del per_key[k]  # only undecided cases: the live path has no row for it either
    return {_rollup_key(by, raw): counts for raw, counts in kpi_rollup.handling(session, start, end, dim).items()}


def _finish(values: dict, days: dict[int, int]) -> dict:
    """The public shape of one row: each rate with its counts, then the counts, then durations."""
    out = {}
    for name in RATES:
        num, den = values.get(name + "_num", 0), values.get(name + "_den", 0)
        out[name], out[name + "_num"], out[name + "_den"] = _rate(num, den), num, den
    for name in tuple(COUNTS) + tuple(SUPERVISION) + ("accountability_count",):
        out[name] = values.get(name, 0)
    out["supervision_reasons"] = dict(sorted(values.get("supervision_reasons", {}).items()))
    total = sum(days.values())
    out["handling_count"] = total
    out["handling_days_avg"] = round(sum(d * n for d, n in days.items()) / total, 2) if total else None
    # Nearest-rank percentile: the smallest value at or above 90 % of the closed cases.
    out["handling_days_p90"] = _percentile(days, math.ceil(0.9 * total)) if total else None
    return out


def _percentile(histogram: dict[int, int], rank: int) -> int:
    """The rank-th smallest value (1-based) of a {value: count} histogram."""
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise ValueError("rank beyond the histogram")


def _supervision(session, key, start, end, scope, put) -> None:
    query = (select(key, SupervisionItem.tier, SupervisionItem.reason, func.count())
             .select_from(SupervisionItem).join(Case, Case.id == SupervisionItem.case_id)
             .where(in_range(SupervisionItem.opened_at, start, end))
             .group_by(key, SupervisionItem.tier, SupervisionItem.reason))
    per: dict = {}
    for k, tier, reason, count in session.execute(_scoped(query, scope)):
        values = per.setdefault(k, {"reasons": {}})
        name = f"supervision_tier{tier}"
        values[name] = values.get(name, 0) + count
        values["reasons"][reason] = values["reasons"].get(reason, 0) + count
    for k, values in per.items():
        for name, value in values.items():
            if name != "reasons":
                put(k, name, value)
        put(k, "supervision_reasons", values["reasons"])
    query = (select(key, func.count()).select_from(SupervisionItem).join(Case, Case.id == SupervisionItem.case_id)
             .where(_accountability(start, end)).group_by(key))
    for k, count in session.execute(_scoped(query, scope)):
        put(k, "accountability_count", count)


def local_day(session: Session, column):
    """The Shanghai calendar day of a UTC timestamp column, in SQL (China keeps no DST)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, "+8 hours")


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _handling_days(session, key, start, end, scope) -> dict:
    """{key: {working days from registration to 销号: cases}} for the cases closed in the range.

    Grouped in SQL by (key, registered day, closed day), so only distinct day pairs reach
    Python, where the statutory calendar counts the working days in (registered day, closed day].
    """
    from ..calendar.services import load_calendar
    calendar = load_calendar(session)
    reg, closed = local_day(session, Case.registered_at), local_day(session, Case.closed_at)
    query = _scoped(select(key, reg, closed, func.count()).select_from(Case)
                    .where(in_range(Case.closed_at, start, end), _status_is("closed")), scope) \
        .group_by(key, reg, closed)
    working_days = kpi_rollup.calendar_counter(calendar)  # the rollup's count, so both paths agree
    out: dict = {}
    for k, first, last, count in session.execute(query):
        try:
            n = working_days(_as_date(first), _as_date(last))
        except CalendarGap:
            continue  # a year the calendar does not know: no honest count, so none (docs/kpis.md)
        bucket = out.setdefault(k, {})
        bucket[n] = bucket.get(n, 0) + int(count)
    return out


def _labels(session, by, keys) -> dict:
    if by == "department":
        return dict(session.execute(select(Department.code, Department.name)).all())
    if by == "grid":
        return dict(session.execute(select(Grid.code, Grid.name)).all())
    if by == "person":
        return dict(session.execute(select(User.username, User.display_name)
                                    .where(User.username.in_([k for k in keys if k]))).all())
    if by == "channel":
        return dict(CHANNELS)
    if by == "type":
        return dict(TYPES)
    return {}


def reason_labels() -> dict:
    return dict(REASONS)


__all__ = ["compute_kpis", "kpi_clause", "parse_range", "in_range", "instants", "DEFINITIONS", "KPI_KEYS",
           "KPI_LABELS", "RATES", "BY", "local_day"]
