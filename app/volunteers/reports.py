"""Volunteer totals for any range, by community and by team; the .xlsx export; the yearly honour list.

Every figure is an aggregate query over indexed columns (registered_at, starts_at, ledger at,
redemptions finished_at), grouped in the database: no page reads rows one by one.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from io import BytesIO

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from ..cases.presenters import mask_name
from ..reports.periods import SHANGHAI
from .models import Activity, LedgerEntry, Redemption, Signup, Team, Volunteer

FIGURES = {"registered": "新注册志愿者", "active": "参加服务的志愿者", "teams": "志愿服务队", "activities": "开展活动",
           "hours": "服务时长（小时）", "issued": "发放积分", "redeemed": "兑换积分", "expired": "过期积分",
           "money": "兑换奖励价值（元）"}
ISSUED = ("service", "recruit", "correction")


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) Shanghai, as UTC instants."""
    return (datetime.combine(start, time(0), tzinfo=SHANGHAI),
            datetime.combine(end + timedelta(days=1), time(0), tzinfo=SHANGHAI))


def _grouped(session: Session, query, key) -> dict:
    return {k: (v or 0) for k, v in session.execute(query.group_by(key)).all()}


def totals(session: Session, start: date, end: date, community: str | None = None) -> dict:
    """{"total": {figure: value}, "communities": {name: {...}}, "teams": {name: {...}}} for the range."""
    lo, hi = bounds(start, end)

    def scoped(query, column):
        return query.where(column == community) if community else query

    by = {"community": {}, "team": {}}

    def put(level, figure, values):
        for key, value in values.items():
            by[level].setdefault(key or "（未分队）", {f: 0 for f in FIGURES})[figure] = value

    held = (Activity.starts_at >= lo, Activity.starts_at < hi, Activity.status == "published")
    for level, key, team_join in (("community", Volunteer.community, False), ("team", Team.name, True)):
        def base(query, join_team=team_join):
            return query.outerjoin(Team, Team.id == Volunteer.team_id) if join_team else query
        put(level, "registered", _grouped(session, scoped(base(select(key, func.count(Volunteer.id)).select_from(
            Volunteer)).where(Volunteer.registered_at >= lo, Volunteer.registered_at < hi), Volunteer.community), key))
        served = (select(key, func.count(distinct(Signup.volunteer_id)), func.sum(Signup.hours)).select_from(Signup)
                  .join(Activity, Activity.id == Signup.activity_id).join(Volunteer, Volunteer.id == Signup.volunteer_id))
        rows = session.execute(scoped(base(served), Volunteer.community)
                               .where(*held, Signup.confirmed_at.is_not(None), Signup.hours > 0).group_by(key)).all()
        put(level, "active", {k: n for k, n, _h in rows})
        put(level, "hours", {k: round(h or 0, 2) for k, _n, h in rows})
        points = (select(key, LedgerEntry.reason, func.sum(LedgerEntry.points)).select_from(LedgerEntry)
                  .join(Volunteer, Volunteer.id == LedgerEntry.volunteer_id))
        sums: dict = {}
        for k, reason, value in session.execute(scoped(base(points), Volunteer.community)
                                                .where(LedgerEntry.at >= lo, LedgerEntry.at < hi)
                                                .group_by(key, LedgerEntry.reason)).all():
            figure = "issued" if reason in ISSUED else "expired" if reason == "expiry" else None
            if figure:
                sums.setdefault(figure, {}).setdefault(k, 0)
                sums[figure][k] += value if figure == "issued" else -value
        for figure, values in sums.items():
            put(level, figure, values)
        done = (select(key, func.sum(Redemption.points), func.sum(Redemption.money_value)).select_from(Redemption)
                .join(Volunteer, Volunteer.id == Redemption.volunteer_id))
        rows = session.execute(scoped(base(done), Volunteer.community)
                               .where(Redemption.status == "handed_over", Redemption.finished_at >= lo,
                                      Redemption.finished_at < hi).group_by(key)).all()
        put(level, "redeemed", {k: p for k, p, _m in rows})
        put(level, "money", {k: m for k, _p, m in rows})
    teams = _grouped(session, scoped(select(Team.community, func.count(Team.id)).where(
        Team.active.is_(True), Team.created_at < hi), Team.community), Team.community)
    put("community", "teams", teams)
    acts = _grouped(session, scoped(select(Activity.community, func.count(Activity.id)).where(*held),
                                    Activity.community), Activity.community)
    put("community", "activities", acts)
    team_acts = _grouped(session, scoped(select(Team.name, func.count(Activity.id)).select_from(Activity)
                                         .join(Team, Team.id == Activity.team_id).where(*held),
                                         Activity.community), Team.name)
    put("team", "activities", team_acts)
    total = {f: round(sum(row[f] for row in by["community"].values()), 2) for f in FIGURES}
    return {"from": start.isoformat(), "to": end.isoformat(), "total": total,
            "communities": dict(sorted(by["community"].items())), "teams": dict(sorted(by["team"].items()))}


SUMMARY = {"registered_total": "注册志愿者", "registered": "新注册志愿者", "active": "参加服务的志愿者",
           "activities": "开展活动", "hours": "服务时长（小时）", "issued": "发放积分", "redeemed": "兑换积分",
           "expired": "过期积分", "money": "兑换奖励价值（元）"}


def summary(session: Session, lo: datetime, hi: datetime) -> dict:
    """The whole sub-district's figures for [lo, hi) (UTC instants), for the leaders' dashboard and the weekly
    专报: the same definitions as ``totals`` but ungrouped, so each is one indexed range query (volunteers by
    registered_at, activities by starts_at then their sign-ups, ledger entries by ``at``, handed-over
    redemptions by (status, finished_at)). The ledger is read only within the range, never whole."""
    new, total = session.execute(select(
        func.count(Volunteer.id).filter(Volunteer.registered_at >= lo), func.count(Volunteer.id))
        .where(Volunteer.registered_at < hi)).one()
    held = (Activity.starts_at >= lo, Activity.starts_at < hi, Activity.status == "published")
    activities = session.scalar(select(func.count(Activity.id)).where(*held)) or 0
    active, hours = session.execute(
        select(func.count(distinct(Signup.volunteer_id)), func.coalesce(func.sum(Signup.hours), 0.0))
        .select_from(Signup).join(Activity, Activity.id == Signup.activity_id)
        .where(*held, Signup.confirmed_at.is_not(None), Signup.hours > 0)).one()
    issued = expired = 0.0
    for reason, value in session.execute(select(LedgerEntry.reason, func.sum(LedgerEntry.points)).where(
            LedgerEntry.at >= lo, LedgerEntry.at < hi, LedgerEntry.reason.in_(ISSUED + ("expiry",)))
            .group_by(LedgerEntry.reason)).all():
        if reason == "expiry":
            expired -= value or 0
        else:
            issued += value or 0
    redeemed, money = session.execute(
        select(func.coalesce(func.sum(Redemption.points), 0.0), func.coalesce(func.sum(Redemption.money_value), 0.0))
        .where(Redemption.status == "handed_over", Redemption.finished_at >= lo, Redemption.finished_at < hi)).one()
    return {"registered_total": int(total or 0), "registered": int(new or 0), "active": int(active or 0),
            "activities": int(activities), "hours": round(float(hours), 2), "issued": round(issued, 2),
            "redeemed": round(float(redeemed), 2), "expired": round(expired, 2), "money": round(float(money), 2)}


def honour_list(session: Session, year: int, limit: int = 20, community: str | None = None) -> list[dict]:
    """The year's volunteers by confirmed service hours (names masked: the list is shown publicly)."""
    lo, hi = bounds(date(year, 1, 1), date(year, 12, 31))
    query = (select(Volunteer, func.sum(Signup.hours).label("hours"), func.count(Signup.id))
             .join(Signup, Signup.volunteer_id == Volunteer.id).join(Activity, Activity.id == Signup.activity_id)
             .where(Activity.starts_at >= lo, Activity.starts_at < hi, Signup.confirmed_at.is_not(None),
                    Signup.hours > 0))
    if community:
        query = query.where(Volunteer.community == community)
    rows = session.execute(query.group_by(Volunteer.id).order_by(func.sum(Signup.hours).desc(), Volunteer.id)
                           .limit(limit)).all()
    return [{"rank": i + 1, "name": mask_name(v.name), "community": v.community, "hours": round(h, 2),
             "activities": n} for i, (v, h, n) in enumerate(rows)]


def xlsx(report: dict, honour: list[dict]) -> bytes:
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.title = "总计"
    sheet.append([f"志愿服务统计 {report['from']} 至 {report['to']}"])
    sheet.append(list(FIGURES.values()))
    sheet.append([report["total"][f] for f in FIGURES])
    for title, key, label in (("按社区", "communities", "社区"), ("按服务队", "teams", "服务队")):
        part = book.create_sheet(title)
        part.append([label, *FIGURES.values()])
        for name, values in report[key].items():
            part.append([name, *(values[f] for f in FIGURES)])
    honours = book.create_sheet("光荣榜")
    honours.append(["名次", "姓名", "社区", "服务时长（小时）", "活动次数"])
    for row in honour:
        honours.append([row["rank"], row["name"], row["community"], row["hours"], row["activities"]])
    out = BytesIO()
    book.save(out)
    return out.getvalue()
