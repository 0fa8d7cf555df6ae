"""The figures of the weekly 调度研判 专报, computed from the case columns, the audit log and the supervision items.

``weekly_figures`` returns one JSON-able dict; the HTML page, the .docx and the .xlsx are all rendered from
it, and it is stored with the report, so every format shows the same numbers and an old report never changes.

Counting, for the week [Monday 00:00, next Monday 00:00) Shanghai:

* new: registered in the week; closed: status 已销号 with ``closed_at`` in the week;
* open: registered before the week's end and not finished (closed, refused or merged) by then;
* overdue: open, not replied by the week's end, and the deadline passed before it;
* on-time reply rate: ``app/reports/kpis.py`` (the one definition of 按期回复率) over the week;
* volunteers (志愿服务): ``app/volunteers/reports.py`` ``summary`` over the week. Reports stored before this
  section existed have no ``volunteers`` key and render without it.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from workflows.workdays import CalendarGap, parse_instant

from ..cases.models import CHANNELS, DIFFICULTIES, STATUSES, TYPES, AuditEntry, Case
from ..cases.presenters import mask_phone
from ..org.models import Department
from ..processes.problem_text import N_
from ..supervision.models import SupervisionItem
from ..volunteers.reports import summary as volunteer_summary
from . import scoring
from .kpis import compute_kpis
from .periods import Period, local_date, month_of, previous_week, week_of

# The order the office reviews its channels in (调度研判: 治理平台件, 网络舆情件, 公众电话投诉件, ...).
CHANNEL_ORDER = ("platform", "online", "phone", "grid", "web")
TREND_WEEKS = 13
REPEAT_DAYS, REPEAT_MIN = 30, 3
OVERDUE_KEY_DAYS = 5  # more than this many working days overdue makes a case a key item
RISING_TOP = 5
REASONS = {
    "complex": N_("复杂件"),
    "supervision": N_("二级及以上督办未销号"),
    "repeat_phone": N_("同一电话30日内3次及以上"),
    "repeat_address": N_("同一地址30日内3次及以上"),
    "unsatisfied_after_redo": N_("重办后仍不满意"),
    "overdue_5": N_("超期5个工作日以上"),
}


def _open_at(end: datetime):
    """Cases open at ``end``: registered before it and not finished by then."""
    return and_(Case.registered_at < end, or_(Case.closed_at.is_(None), Case.closed_at >= end))


def _overdue_at(end: datetime):
    return and_(_open_at(end), Case.deadline < end, or_(Case.replied_at.is_(None), Case.replied_at >= end))


def _grouped(session: Session, column, *where) -> dict:
    return dict(session.execute(select(column, func.count()).where(*where).group_by(column)).all())


def kpi_rows(session: Session, period: Period, by: str) -> tuple[dict, dict[str, dict]]:
    """(total, {key: row}) of the KPI definitions over the week (``app/reports/kpis.py``)."""
    result = compute_kpis(session, start=period.first, end=period.last, by=by)
    return result.get("total", {}), {row["key"]: row for row in result.get("rows", [])}


def channel_figures(session: Session, period: Period) -> tuple[list[dict], dict]:
    start, end = period.start, period.end
    new = _grouped(session, Case.channel, Case.registered_at >= start, Case.registered_at < end)
    closed = _grouped(session, Case.channel, Case.status == "closed", Case.closed_at >= start, Case.closed_at < end)
    open_ = _grouped(session, Case.channel, _open_at(end))
    overdue = _grouped(session, Case.channel, _overdue_at(end))
    total_kpi, kpis = kpi_rows(session, period, "channel")
    rows = []
    for key in CHANNEL_ORDER:
        rows.append({"key": key, "label": CHANNELS[key], "new": new.get(key, 0), "closed": closed.get(key, 0),
                     "open": open_.get(key, 0), "overdue": overdue.get(key, 0),
                     "on_time_reply_rate": kpis.get(key, {}).get("on_time_reply_rate")})
    total = {"key": "total", "label": "合计", "on_time_reply_rate": total_kpi.get("on_time_reply_rate")}
    for field in ("new", "closed", "open", "overdue"):
        total[field] = sum(r[field] for r in rows)
    return rows, total


def _with_changes(rows: list[dict], before: list[dict]) -> None:
    previous = {r["key"]: r for r in before}
    for row in rows:
        prev = previous.get(row["key"], {})
        row["prev"] = {k: prev.get(k) for k in ("new", "closed", "open", "overdue", "on_time_reply_rate")}
        row["change"] = {k: row[k] - (prev.get(k) or 0) for k in ("new", "closed", "open", "overdue")}
        rate, old = row.get("on_time_reply_rate"), prev.get("on_time_reply_rate")
        row["change"]["on_time_reply_rate"] = None if rate is None or old is None else round(rate - old, 4)


def trend(session: Session, period: Period) -> list[dict]:
    weeks, week = [], period
    for _i in range(TREND_WEEKS):
        weeks.append(week)
        week = previous_week(week)
    out = []
    for w in reversed(weeks):
        out.append({"week": w.key, "from": w.first.isoformat(), "to": w.last.isoformat(),
                    "new": session.scalar(select(func.count()).select_from(Case).where(
                        Case.registered_at >= w.start, Case.registered_at < w.end)) or 0,
                    "closed": session.scalar(select(func.count()).select_from(Case).where(
                        Case.status == "closed", Case.closed_at >= w.start, Case.closed_at < w.end)) or 0})
    return out


def _working_days_late(calendar, deadline: datetime, end: datetime) -> int:
    """Working days from the deadline's day through the week's last day (Sunday: the end is Monday 00:00)."""
    end = end - timedelta(microseconds=1)
    try:
        return calendar.working_days_between(deadline, end)
    except CalendarGap:  # a year the calendar does not know: count Monday-Friday instead of failing the report
        day, last, count = local_date(deadline), local_date(end), 0
        while day < last:
            day += timedelta(days=1)
            count += day.weekday() < 5
        return count


def key_items(session: Session, period: Period, calendar) -> tuple[list[dict], list[dict]]:
    """(重点难点 cases with their reasons, the repeated phones/addresses behind some of them)."""
    start, end = period.start, period.end
    reasons: dict[int, list[str]] = defaultdict(list)
    late: dict[int, int] = {}
    for case_id, difficulty, deadline, replied_at in session.execute(
            select(Case.id, Case.difficulty, Case.deadline, Case.replied_at).where(
                _open_at(end), or_(Case.difficulty == "complex", _overdue_at(end)))):
        if difficulty == "complex":
            reasons[case_id].append("complex")
        if deadline is not None and parse_instant(deadline) < end and (replied_at is None or replied_at >= end):
            days = _working_days_late(calendar, deadline, end)
            if days > OVERDUE_KEY_DAYS:
                reasons[case_id].append("overdue_5")
                late[case_id] = days
    for (case_id,) in session.execute(select(SupervisionItem.case_id).where(
            SupervisionItem.tier >= 2, SupervisionItem.opened_at < end,
            or_(SupervisionItem.closed_at.is_(None), SupervisionItem.closed_at >= end),
            or_(SupervisionItem.escalated_at.is_(None), SupervisionItem.escalated_at >= end)).distinct()):
        if "supervision" not in reasons[case_id]:
            reasons[case_id].append("supervision")
    for (case_id,) in session.execute(select(Case.id).where(
            Case.satisfaction == "unsatisfied", Case.redo_count >= 1, Case.followed_up_at < end,
            or_(Case.followed_up_at >= start, _open_at(end)))):
        reasons[case_id].append("unsatisfied_after_redo")
    repeats = []
    since = end - timedelta(days=REPEAT_DAYS)
    # Phones are encrypted with a fresh nonce each: the same number is found by its blind index.
    for kind, column in (("phone", Case.reporter_phone_index), ("address", Case.address)):
        values = [v for (v,) in session.execute(
            select(column).where(Case.registered_at >= since, Case.registered_at < end, column.is_not(None),
                                 column != "").group_by(column).having(func.count() >= REPEAT_MIN))]
        for value in values:
            cases = session.execute(select(Case.id, Case.number, Case.registered_at).where(
                column == value, Case.registered_at >= since, Case.registered_at < end)
                .order_by(Case.registered_at, Case.number)).all()
            shown = mask_phone(session.scalar(select(Case.reporter_phone).where(Case.id == cases[0].id))) \
                if kind == "phone" else value
            repeats.append({"kind": kind, "value": shown,
                            "count": len(cases), "numbers": [c.number for c in cases]})
            for c in cases:
                if c.registered_at >= start:  # listed in the week it recurs, not every week of the 30 days
                    reasons[c.id].append(f"repeat_{kind}")
    items = _describe(session, {k: v for k, v in reasons.items() if v}, late)
    return items, repeats


def _describe(session: Session, reasons: dict[int, list[str]], late: dict[int, int]) -> list[dict]:
    names = dict(session.execute(select(Department.code, Department.name)).all())
    items = []
    ids = sorted(reasons)
    for i in range(0, len(ids), scoring.CHUNK):
        for c in session.scalars(select(Case).where(Case.id.in_(ids[i:i + scoring.CHUNK]))):
            items.append({"number": c.number, "channel": c.channel, "channel_label": CHANNELS.get(c.channel, c.channel),
                          "type": TYPES.get(c.type, c.type), "category": c.category or "",
                          "difficulty": DIFFICULTIES.get(c.difficulty or "", ""),
                          "department": c.department or "", "department_name": names.get(c.department, c.department or ""),
                          "status": STATUSES.get(c.status, c.status), "summary": (c.text or "")[:40],
                          "registered_at": parse_instant(c.registered_at).isoformat(),
                          "deadline": parse_instant(c.deadline).isoformat() if c.deadline else None,
                          "working_days_late": late.get(c.id), "supervision_tier": c.supervision_tier,
                          "reasons": reasons[c.id], "reason_labels": [REASONS[r] for r in reasons[c.id]]})
    items.sort(key=lambda it: (-len(it["reasons"]), -(it["working_days_late"] or 0), it["number"]))
    return items


def rising_categories(session: Session, period: Period) -> list[dict]:
    before = previous_week(period)
    now = _grouped(session, Case.category, Case.registered_at >= period.start, Case.registered_at < period.end)
    then = _grouped(session, Case.category, Case.registered_at >= before.start, Case.registered_at < before.end)
    rows = [{"category": cat, "this_week": now.get(cat, 0), "last_week": then.get(cat, 0),
             "increase": now.get(cat, 0) - then.get(cat, 0)} for cat in set(now) | set(then) if cat]
    rows = [r for r in rows if r["increase"] > 0]
    rows.sort(key=lambda r: (-r["increase"], -r["this_week"], r["category"]))
    return rows[:RISING_TOP]


def department_table(core, session: Session, period: Period) -> tuple[list[dict], dict]:
    start, end = period.start, period.end
    names = dict(session.execute(select(Department.code, Department.name).order_by(Department.code)).all())
    received = _grouped(session, Case.department, Case.dispatched_at >= start, Case.dispatched_at < end)
    overdue = _grouped(session, Case.department, _overdue_at(end))
    items = _grouped(session, SupervisionItem.department, SupervisionItem.opened_at >= start,
                     SupervisionItem.opened_at < end)
    _total, kpis = kpi_rows(session, period, "department")
    month = month_of(period.last)
    ranking = scoring.score(core, session, month, end=end)
    scores = {r["department"]: r["score"] for r in ranking["rows"]}
    rows = []
    for code in sorted(set(names) | {k for k in received if k}):
        kpi = kpis.get(code, {})
        rows.append({"key": code, "label": names.get(code, code), "received": received.get(code, 0),
                     "on_time": kpi.get("on_time_reply_rate_num", 0),
                     "on_time_reply_rate": kpi.get("on_time_reply_rate"),
                     "overdue": overdue.get(code, 0), "supervision_items": items.get(code, 0),
                     "score": scores.get(code)})
    rows.sort(key=lambda r: (-(r["score"] if r["score"] is not None else -10**9), r["key"]))
    meta = {"month": month.key, "rules_version": ranking["rules_version"], "rules_hash": ranking["rules_hash"]}
    return rows, meta


def follow_ups(session: Session, period: Period, previous_items: list[dict]) -> list[dict]:
    """Last meeting's key items still open at this week's end, with what happened to them this week
    (督办事项日日有进展). Three queries however many items: the cases, their actions this week, their
    last audit row."""
    reasons = {it["number"]: it.get("reason_labels", []) for it in previous_items}
    cases = []
    numbers = sorted(reasons)
    for i in range(0, len(numbers), scoring.CHUNK):
        cases += session.execute(select(Case.id, Case.number, Case.status, Case.department).where(
            Case.number.in_(numbers[i:i + scoring.CHUNK]), _open_at(period.end))).all()
    moved: dict[int, int] = {}
    last: dict[int, AuditEntry] = {}
    ids = sorted(c.id for c in cases)
    for i in range(0, len(ids), scoring.CHUNK):
        chunk = ids[i:i + scoring.CHUNK]
        moved.update(session.execute(select(AuditEntry.case_id, func.count()).where(
            AuditEntry.case_id.in_(chunk), AuditEntry.at >= period.start, AuditEntry.at < period.end,
            AuditEntry.action.in_(("complete", "timer"))).group_by(AuditEntry.case_id)).all())
        latest = select(func.max(AuditEntry.id)).where(AuditEntry.case_id.in_(chunk), AuditEntry.at < period.end) \
            .group_by(AuditEntry.case_id)
        last.update((row.case_id, row) for row in session.scalars(select(AuditEntry).where(AuditEntry.id.in_(latest))))
    out = []
    for c in sorted(cases, key=lambda c: c.number):
        row = last.get(c.id)
        out.append({"number": c.number, "status": STATUSES.get(c.status, c.status), "department": c.department or "",
                    "reason_labels": reasons[c.number],
                    "last_action": (row.task_name or row.action) if row else "",
                    "last_at": parse_instant(row.at).isoformat() if row else None,
                    "actions_this_week": moved.get(c.id, 0)})
    return out


def report_number(period: Period) -> str:
    year, week = period.key.split("-W")
    return f"调度专报〔{year}〕{int(week)}号"


def weekly_figures(core, session: Session, period: Period, previous_items: list[dict] | None = None) -> dict:
    """Everything the 专报 says about ``period``. ``previous_items``: the key items of last week's stored
    report (the decisions of the last meeting); computed afresh when last week has no stored report."""
    before = previous_week(period)
    channels, total = channel_figures(session, period)
    prev_channels, prev_total = channel_figures(session, before)
    _with_changes(channels, prev_channels)
    _with_changes([total], [prev_total])
    calendar = core.calendar.current()
    items, repeats = key_items(session, period, calendar)
    if previous_items is None:
        previous_items, _r = key_items(session, before, calendar)
    departments, meta = department_table(core, session, period)
    return {"kind": "weekly", "period": period.key, "number": report_number(period),
            "from": period.first.isoformat(), "to": period.last.isoformat(),
            "previous_period": before.key, "rules_version": meta["rules_version"], "rules_hash": meta["rules_hash"],
            "score_month": meta["month"], "channels": channels, "total": total, "trend": trend(session, period),
            "key_items": items, "repeats": repeats, "rising_categories": rising_categories(session, period),
            "departments": departments, "follow_ups": follow_ups(session, period, previous_items),
            "volunteers": volunteer_summary(session, period.start, period.end)}


def week_for_instant(instant: datetime) -> Period:
    return week_of(local_date(instant))
