"""The leaders' dashboard (领导驾驶舱): every figure, with the ledger link behind it.

Reads only the daily rollup (``report_daily``) for anything over a range, and indexed counts of
open cases for "now" (open cases are a few percent of all; ``ix_cases_status_deadline`` gives the
overdue and due-today counts and the most overdue cases without touching closed ones).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from sqlalchemy import func, select

from workflows.workdays import SHANGHAI

from ..cases.models import CHANNELS, FINISHED_STATUSES, STATUSES, Case
from ..org.models import Department
from .rollup_models import DailyRollup

OPEN_STATUSES = tuple(s for s in STATUSES if s not in FINISHED_STATUSES)
# Overdue = the department still owes the reply past the deadline in force: the ledger's overdue=1.
from .ledger import OWED_REPLY as AWAITING_REPLY, merge_limited  # noqa: E402
LEDGER = "/ledgers"
# KPI key -> (numerator counter, denominator counter): the same sets of cases as
# app/reports/kpis.py DEFINITIONS (tests/test_dashboard.py proves the figures equal compute_kpis).
RATES = {
    "on_time_reply_rate": ("due_reply_on_time", "due_reply"),
    "satisfaction_rate": ("satisfied", "followed_up"),
    "closure_rate": ("due_closed", "due"),
}
NAMES = ("registered", "closed", "replied", "due_reply", "due_reply_on_time", "due", "due_closed", "followed_up",
         "satisfied", "unsatisfied")


def ledger_url(**params) -> str:
    clean = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items() if v not in (None, "")}
    return f"{LEDGER}?{urlencode(clean)}" if clean else LEDGER


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def month_start(day: date) -> date:
    return day.replace(day=1)


def prev_month(day: date) -> tuple[date, date]:
    end = month_start(day) - timedelta(days=1)
    return end.replace(day=1), end


def _sums(session, start: date, end: date, now: datetime, by: str | None = None):
    """Rollup sums over the Shanghai days start..end, optionally per ``by`` (department or channel).

    kpis.py counts a case due in the range only once it is decided (replied, closed, or its deadline
    has passed); the rollup counts it by its deadline day regardless. The difference is the cases
    whose deadline is still ahead and that are undecided: a live count over those few cases."""
    column = getattr(DailyRollup, by) if by else None
    query = select(*([column] if by else []), *[func.coalesce(func.sum(getattr(DailyRollup, n)), 0) for n in NAMES]
                   ).where(DailyRollup.day >= start, DailyRollup.day <= end)
    if by:
        out = {row[0]: dict(zip(NAMES, map(int, row[1:]))) for row in session.execute(query.group_by(column))}
    else:
        out = {None: dict(zip(NAMES, map(int, session.execute(query).one())))}
    end_at = local_midnight(end + timedelta(days=1))
    if end_at > now:
        lower = max(local_midnight(start), now)
        key = func.coalesce(getattr(Case, by), "") if by else None
        ahead = [Case.deadline > lower, Case.deadline < end_at] if lower == now else [
            Case.deadline >= lower, Case.deadline < end_at, Case.deadline > now]
        for counter, clause in (("due_reply", [Case.replied_at.is_(None), Case.status != "returned"]),
                                ("due", [Case.status != "closed"])):
            q = select(*([key] if by else []), func.count()).where(*ahead, *clause)
            rows = session.execute(q.group_by(key)).all() if by else [(None, session.scalar(q))]
            for k, n in rows:
                if k in out and n:
                    out[k][counter] -= int(n)
    return out if by else out[None]


def rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _kpis(sums: dict, start: date, end: date) -> dict:
    """The three month figures with their drill-down links (numerator and denominator rows)."""
    out = {}
    for key, (num, den) in RATES.items():
        out[key] = {"value": rate(sums[num], sums[den]), "num": sums[num], "den": sums[den],
                    "num_url": ledger_url(kpi=key, part="num", **{"from": start, "to": end}),
                    "den_url": ledger_url(kpi=key, part="den", **{"from": start, "to": end})}
    return out


def today_figures(session, now: datetime) -> dict:
    today = now.astimezone(SHANGHAI).date()
    start, tomorrow = local_midnight(today), local_midnight(today + timedelta(days=1))
    new = session.scalar(select(func.count()).select_from(Case).where(Case.registered_at >= start,
                                                                     Case.registered_at < tomorrow))
    open_by_status = dict(session.execute(select(Case.status, func.count()).where(Case.status.in_(OPEN_STATUSES))
                                          .group_by(Case.status)).all())
    due_today = session.scalar(select(func.count()).select_from(Case).where(
        Case.status.in_(AWAITING_REPLY), Case.deadline >= max(start, now), Case.deadline < tomorrow))
    overdue = session.scalar(select(func.count()).select_from(Case).where(
        Case.status.in_(AWAITING_REPLY), Case.deadline < now))
    tiers = dict(session.execute(select(Case.supervision_tier, func.count()).where(
        Case.status.in_(OPEN_STATUSES), Case.supervision_tier > 0).group_by(Case.supervision_tier)).all())
    day = {"from": today, "to": today}
    return {
        "day": today,
        "new": {"value": new, "url": ledger_url(date_field="registered", **day)},
        # The ledger has no "open" or "due today" filter: these open it in deadline order.
        "open": {"value": sum(open_by_status.values()), "url": ledger_url(sort="deadline")},
        "due_today": {"value": due_today, "url": ledger_url(sort="deadline")},
        "overdue": {"value": overdue, "url": ledger_url(overdue=1)},
        "tiers": [{"tier": t, "value": tiers.get(t, 0), "url": ledger_url(tier=t)} for t in (1, 2, 3)],
    }


def month_kpis(session, today: date, now: datetime) -> dict:
    this_start = month_start(today)
    last_start, last_end = prev_month(today)
    return {"this": {"from": this_start, "to": today,
                     **_kpis(_sums(session, this_start, today, now), this_start, today)},
            "last": {"from": last_start, "to": last_end,
                     **_kpis(_sums(session, last_start, last_end, now), last_start, last_end)}}


def weekly_trend(session, today: date, now: datetime, weeks: int = 13) -> list[dict]:
    """Monday–Sunday weeks, the current one last (to date): received, closed, on-time reply rate."""
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    rows = session.execute(select(DailyRollup.day, *[func.sum(getattr(DailyRollup, n)) for n in NAMES])
                           .where(DailyRollup.day >= first, DailyRollup.day <= today).group_by(DailyRollup.day))
    out = []
    for i in range(weeks):
        start = first + timedelta(weeks=i)
        out.append({"label": start.strftime("%m-%d"), "from": start, "to": min(start + timedelta(days=6), today),
                    **{n: 0 for n in NAMES}})
    for row in rows:
        day = row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0]))
        week = out[(day - first).days // 7]
        for name, value in zip(NAMES, row[1:]):
            week[name] += int(value or 0)
    # Only the current week can hold cases due later today that are not decided yet.
    out[-1].update(_sums(session, out[-1]["from"], out[-1]["to"], now))
    for week in out:
        span = {"from": week["from"], "to": week["to"]}
        week["on_time_rate"] = rate(week["due_reply_on_time"], week["due_reply"])
        week["registered_url"] = ledger_url(date_field="registered", **span)
        week["closed_url"] = ledger_url(date_field="closed", status="closed", **span)
        week["on_time_url"] = ledger_url(kpi="on_time_reply_rate", part="num", **span)
    return out


def channel_mix(session, start: date, end: date, now: datetime) -> list[dict]:
    sums = _sums(session, start, end, now, by="channel")
    return [{"channel": code, "label": label, "value": sums.get(code, {}).get("registered", 0),
             "url": ledger_url(channel=code, date_field="registered", **{"from": start, "to": end})}
            for code, label in CHANNELS.items()]


def department_ranking(session, start: date, end: date, now: datetime) -> list[dict]:
    sums = _sums(session, start, end, now, by="department")
    names = dict(session.execute(select(Department.code, Department.name)).all())
    overdue = dict(session.execute(select(Case.department, func.count()).where(
        Case.status.in_(AWAITING_REPLY), Case.deadline < now).group_by(Case.department)).all())
    rows = []
    span = {"from": start, "to": end}
    for code, name in names.items():
        s = sums.get(code) or {k: 0 for k in NAMES}
        rows.append({
            "department": code, "name": name, "received": s["registered"], "replied": s["due_reply"],
            "on_time_rate": rate(s["due_reply_on_time"], s["due_reply"]),
            "satisfaction_rate": rate(s["satisfied"], s["followed_up"]),
            "overdue": overdue.get(code, 0),
            "received_url": ledger_url(department=code, date_field="registered", **span),
            "on_time_url": ledger_url(department=code, kpi="on_time_reply_rate", part="num", **span),
            "replied_url": ledger_url(department=code, kpi="on_time_reply_rate", part="den", **span),
            "overdue_url": ledger_url(department=code, overdue=1)})
    # Best first: on-time rate (no replies yet ranks last), then fewer overdue, then more work done.
    rows.sort(key=lambda r: (r["on_time_rate"] is None, -(r["on_time_rate"] or 0), r["overdue"], -r["replied"]))
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    return rows


def most_overdue(session, now: datetime, limit: int = 5) -> list[dict]:
    names = dict(session.execute(select(Department.code, Department.name)).all())
    # One query per status down (status, deadline), merged here. With ``status IN (…)`` PostgreSQL
    # walked the deadline index through every closed case for the five (635 ms at 1 000 000 cases).
    rows = merge_limited(session, [select(Case.id, Case.number, Case.type, Case.channel, Case.category,
                                          Case.department, Case.deadline, Case.supervision_tier, Case.text)
                                   .where(Case.status == status, Case.deadline < now)
                                   .order_by(Case.deadline, Case.id) for status in AWAITING_REPLY],
                         limit, key=lambda r: (r.deadline, r.id))
    return [{"number": r.number, "type": r.type, "channel": r.channel, "category": r.category,
             "department": r.department, "department_name": names.get(r.department), "deadline": r.deadline, "tier": r.supervision_tier,
             "summary": (r.text or "")[:40], "days": (now - r.deadline).days} for r in rows]


def volunteer_figures(session, today: date) -> dict:
    """志愿服务 this month to date and last month: app/volunteers/reports.py ``summary``, a handful of indexed
    range queries (the ledger only within the month), so the page stays fast however long the ledger grows."""
    from ..volunteers.reports import summary
    this_start = month_start(today)
    last_start, last_end = prev_month(today)
    return {part: {"from": start, "to": end, **summary(session, local_midnight(start),
                                                       local_midnight(end + timedelta(days=1)))}
            for part, start, end in (("this", this_start, today), ("last", last_start, last_end))}


def dashboard(session, now: datetime) -> dict:
    today = now.astimezone(SHANGHAI).date()
    recent = today - timedelta(days=29)
    return {"now": now, "today": today_figures(session, now), "kpis": month_kpis(session, today, now),
            "trend": weekly_trend(session, today, now), "recent": {"from": recent, "to": today},
            "channels": channel_mix(session, recent, today, now),
            "departments": department_ranking(session, recent, today, now),
            "overdue_cases": most_overdue(session, now), "volunteers": volunteer_figures(session, today)}


def chart_data(data: dict) -> tuple[list, list]:
    """The trend and the channel mix as the charts' script reads them (ISO dates, links)."""
    trend = [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in week.items()} for week in data["trend"]]
    return trend, data["channels"]
