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
# Overdue = still waiting on the department's reply (签收 or 办理) past the deadline in force.
AWAITING_REPLY = ("dispatched", "returned", "handling")
LEDGER = "/ledgers"
# KPI key -> (numerator counter, denominator counter, the ledger date field both are counted by)
RATES = {
    "on_time_reply_rate": ("replied_on_time", "replied"),
    "satisfaction_rate": ("satisfied", "followed_up"),
    "closure_rate": ("due_closed", "due"),
}


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


def _sums(session, start: date, end: date, by=None):
    cols = [func.coalesce(func.sum(getattr(DailyRollup, name)), 0) for name in
            ("registered", "closed", "replied", "replied_on_time", "due", "due_closed", "followed_up",
             "satisfied", "unsatisfied")]
    names = ("registered", "closed", "replied", "replied_on_time", "due", "due_closed", "followed_up",
             "satisfied", "unsatisfied")
    query = select(*([by] if by is not None else []), *cols).where(DailyRollup.day >= start, DailyRollup.day <= end)
    if by is not None:
        query = query.group_by(by)
        return {row[0]: dict(zip(names, map(int, row[1:]))) for row in session.execute(query)}
    return dict(zip(names, map(int, session.execute(query).one())))


def rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _kpis(sums: dict, start: date, end: date) -> dict:
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
        "open": {"value": sum(open_by_status.values()), "url": ledger_url(status="open")},
        "due_today": {"value": due_today, "url": ledger_url(status="open", due="today")},
        "overdue": {"value": overdue, "url": ledger_url(overdue=1)},
        "tiers": [{"tier": t, "value": tiers.get(t, 0), "url": ledger_url(status="open", tier=t)} for t in (1, 2, 3)],
    }


def month_kpis(session, today: date) -> dict:
    this_start = month_start(today)
    last_start, last_end = prev_month(today)
    return {"this": {"from": this_start, "to": today, **_kpis(_sums(session, this_start, today), this_start, today)},
            "last": {"from": last_start, "to": last_end,
                     **_kpis(_sums(session, last_start, last_end), last_start, last_end)}}


def weekly_trend(session, today: date, weeks: int = 13) -> list[dict]:
    """Monday–Sunday weeks, the current one last (to date)."""
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    rows = session.execute(select(DailyRollup.day, func.sum(DailyRollup.registered), func.sum(DailyRollup.closed),
                                  func.sum(DailyRollup.replied), func.sum(DailyRollup.replied_on_time))
                           .where(DailyRollup.day >= first, DailyRollup.day <= today).group_by(DailyRollup.day))
    weeks_out = []
    for i in range(weeks):
        start = first + timedelta(weeks=i)
        end = min(start + timedelta(days=6), today)
        weeks_out.append({"label": start.strftime("%m-%d"), "from": start, "to": end, "registered": 0, "closed": 0,
                          "replied": 0, "replied_on_time": 0})
    for day, registered, closed, replied, on_time in rows:
        if isinstance(day, str):  # SQLite hands back text for a grouped DATE column on some drivers
            day = date.fromisoformat(day)
        week = weeks_out[(day - first).days // 7]
        week["registered"] += int(registered or 0)
        week["closed"] += int(closed or 0)
        week["replied"] += int(replied or 0)
        week["replied_on_time"] += int(on_time or 0)
    for week in weeks_out:
        span = {"from": week["from"], "to": week["to"]}
        week["on_time_rate"] = rate(week["replied_on_time"], week["replied"])
        week["registered_url"] = ledger_url(date_field="registered", **span)
        week["closed_url"] = ledger_url(date_field="closed", status="closed", **span)
        week["on_time_url"] = ledger_url(kpi="on_time_reply_rate", part="num", **span)
    return weeks_out


def channel_mix(session, start: date, end: date) -> list[dict]:
    sums = _sums(session, start, end, by=DailyRollup.channel)
    return [{"channel": code, "label": label, "value": sums.get(code, {}).get("registered", 0),
             "url": ledger_url(channel=code, date_field="registered", **{"from": start, "to": end})}
            for code, label in CHANNELS.items()]


def department_ranking(session, start: date, end: date, now: datetime) -> list[dict]:
    sums = _sums(session, start, end, by=DailyRollup.department)
    names = dict(session.execute(select(Department.code, Department.name)).all())
    overdue = dict(session.execute(select(Case.department, func.count()).where(
        Case.status.in_(AWAITING_REPLY), Case.deadline < now).group_by(Case.department)).all())
    rows = []
    span = {"from": start, "to": end}
    for code, name in names.items():
        s = sums.get(code) or {k: 0 for k in ("registered", "replied", "replied_on_time", "satisfied", "followed_up")}
        rows.append({
            "department": code, "name": name, "received": s["registered"], "replied": s["replied"],
            "on_time_rate": rate(s["replied_on_time"], s["replied"]),
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
    rows = session.execute(select(Case.number, Case.type, Case.channel, Case.category, Case.department,
                                  Case.deadline, Case.supervision_tier, Case.text)
                           .where(Case.status.in_(AWAITING_REPLY), Case.deadline < now)
                           .order_by(Case.deadline, Case.id).limit(limit))
    return [{"number": r.number, "type": r.type, "channel": r.channel, "category": r.category,
             "department": r.department, "department_name": names.get(r.department), "deadline": r.deadline, "tier": r.supervision_tier,
             "summary": (r.text or "")[:40], "days": (now - r.deadline).days} for r in rows]


def dashboard(session, now: datetime) -> dict:
    today = now.astimezone(SHANGHAI).date()
    recent = today - timedelta(days=29)
    return {"now": now, "today": today_figures(session, now), "kpis": month_kpis(session, today),
            "trend": weekly_trend(session, today), "recent": {"from": recent, "to": today},
            "channels": channel_mix(session, recent, today),
            "departments": department_ranking(session, recent, today, now),
            "overdue_cases": most_overdue(session, now)}


def chart_data(data: dict) -> tuple[list, list]:
    """The trend and the channel mix as the charts' script reads them (ISO dates, links)."""
    trend = [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in week.items()} for week in data["trend"]]
    return trend, data["channels"]
