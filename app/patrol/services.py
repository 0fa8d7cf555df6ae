"""Patrol work (网格巡查): a grid worker starts a patrol, counts the households visited, files reports
from it (the 网格上报 page, linked here), and finishes it with the resident-information counts; the
督查组 sees every grid's patrols per day with missing working days flagged, and spot-checks patrols.

Every change is one transaction with its audit row (actions ``patrol_start``, ``patrol_visit``,
``patrol_finish``, ``patrol_spot_check``; no case, so each actor's own audit chain).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.clock import utcnow
from workflows.workdays import CalendarGap, WorkingCalendar

from ..auth.models import User, UserRole
from ..calendar.services import iso_day
from ..auth.services import find_user
from ..calendar.services import load_calendar
from ..cases.models import AuditEntry, Case
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..org.models import Grid
from ..processes.problem_text import N_, tr as _
from ..reports.periods import local_date
from .models import Patrol, PatrolReport, SpotCheck

WORKER_ROLE = "grid_worker"
INSPECTOR_ROLE = "inspector"
# Who reads patrols besides their own worker: the 督查组, leaders, the center and admins.
OVERSIGHT_ROLES = (INSPECTOR_ROLE, "viewer", "dispatcher", "admin")
COUNTS = {"households": N_("走访入户（户）"), "residents_updated": N_("更新居民信息（人）"),
          "residents_added": N_("新增登记（人）"), "residents_removed": N_("迁出/注销（人）")}
# More than this in one patrol is a typing slip (a grid has a few hundred households), not a round.
MAX_COUNT = 5000
MAX_NOTE = 500
RESULTS = {"pass": N_("合格"), "fail": N_("不合格")}
MAX_RANGE_DAYS = 93  # the overview's widest range: a quarter, one row per grid, one column per day
GRIDS_PER_PAGE = 50  # the overview's rows per page: its query then reads only those grids' (grid, day) ranges


def _audit(session: Session, actor: str, action: str, changes: dict) -> None:
    session.add(AuditEntry(at=utcnow(), actor=actor, case_id=None, action=action, changes=changes, source="patrol"))


def parse_count(field: str, value) -> int:
    """A count typed on a phone: a whole number 0..MAX_COUNT, else Invalid naming the field."""
    text = str(value if value is not None else "").strip()
    if text == "":
        return 0
    if len(text) > 6 or not text.lstrip("-").isdigit():
        raise Invalid(_("%(field)s 须为 0 到 %(max)s 的整数", field=_(COUNTS[field]), max=MAX_COUNT),
                      fields=[(field, "not a whole number")])
    number = int(text)
    if number < 0 or number > MAX_COUNT:
        raise Invalid(_("%(field)s 须为 0 到 %(max)s 的整数", field=_(COUNTS[field]), max=MAX_COUNT),
                      fields=[(field, "out of range")])
    return number


def _worker(session: Session, username: str) -> User:
    user = find_user(session, username)
    if WORKER_ROLE not in user.roles:
        raise Forbidden(_("只有网格员可以记录巡查"))
    if not user.grid:
        raise Invalid(_("该网格员未分配网格，不能开始巡查"))
    return user


def _own_open(session: Session, patrol_id: int, username: str) -> Patrol:
    patrol = session.get(Patrol, patrol_id, with_for_update=True)
    if patrol is None:
        raise NotFound(_("没有这次巡查：%(id)s", id=patrol_id))
    if patrol.worker != username:
        raise Forbidden(_("这不是你的巡查"))
    if patrol.finished_at is not None:
        raise Conflict(_("这次巡查已于 %(at)s 结束", at=local_date(patrol.finished_at).isoformat()))
    return patrol


def open_patrol(session: Session, worker: str) -> Patrol | None:
    return session.scalars(select(Patrol).where(Patrol.worker == worker, Patrol.finished_at.is_(None))).first()


def start_patrol(core, user: str) -> dict:
    """Open a patrol in the worker's grid now; a second open patrol is refused (409)."""
    now = utcnow()
    try:
        with core.db.unit_of_work() as session:
            worker = _worker(session, user)
            if open_patrol(session, worker.username) is not None:
                raise Conflict(_("已有一次巡查正在进行，请先结束它"))
            patrol = Patrol(worker=worker.username, grid=worker.grid, day=local_date(now), started_at=now,
                            households=0, residents_updated=0, residents_added=0, residents_removed=0, note="")
            session.add(patrol)
            session.flush()
            _audit(session, worker.username, "patrol_start", {"patrol": patrol.id, "grid": patrol.grid})
            return as_dict(patrol)
    except IntegrityError:  # two starts at once: the partial unique index let one through
        with core.db.read() as session:
            if open_patrol(session, user) is None:
                raise  # not the open-patrol index: a real fault, not the user's
        raise Conflict(_("已有一次巡查正在进行，请先结束它")) from None


def add_visit(core, patrol_id: int, user: str) -> dict:
    """走访 +1 during the patrol (the phone's one-tap counter)."""
    with core.db.unit_of_work() as session:
        patrol = _own_open(session, patrol_id, user)
        if patrol.households >= MAX_COUNT:
            raise Invalid(_("%(field)s 须为 0 到 %(max)s 的整数", field=_(COUNTS["households"]), max=MAX_COUNT),
                          fields=[("households", "out of range")])
        patrol.households += 1
        _audit(session, user, "patrol_visit", {"patrol": patrol.id, "households": patrol.households})
        return as_dict(patrol)


def finish_patrol(core, patrol_id: int, user: str, counts: dict, note: str = "") -> dict:
    """Close the patrol with its counts (each 0..MAX_COUNT; a missing one keeps what was counted)."""
    values = {field: parse_count(field, counts[field]) for field in COUNTS if counts.get(field) not in (None, "")}
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid(_("备注最多 %(max)s 字", max=MAX_NOTE), fields=[("note", "too long")])
    now = utcnow()
    with core.db.unit_of_work() as session:
        patrol = _own_open(session, patrol_id, user)
        for field, number in values.items():
            setattr(patrol, field, number)
        patrol.note, patrol.finished_at = note, now
        _audit(session, user, "patrol_finish", {"patrol": patrol.id, "grid": patrol.grid,
                                                **{f: getattr(patrol, f) for f in COUNTS}})
        session.flush()
        return as_dict(patrol, reports=_report_numbers(session, [patrol.id]).get(patrol.id, []))


def link_reports(hook=None):
    """Wrap the 网格上报 registration hook: a report filed while its worker has a patrol open is
    linked to that patrol in the registration's own transaction. ``.linked`` says whether it was."""
    def linker(session: Session, case: Case, actor: str) -> None:
        if hook is not None:
            hook(session, case, actor)
        patrol = open_patrol(session, actor)
        if patrol is not None:
            session.add(PatrolReport(patrol_id=patrol.id, case_id=case.id, linked_at=utcnow()))
            linker.linked = patrol.id
    linker.linked = None
    return linker


def record_spot_check(core, patrol_id: int, user: str, result: str, note: str = "") -> dict:
    """抽查 a finished patrol: 合格 or 不合格 with a note (required for 不合格); once per patrol."""
    if result not in RESULTS:
        raise Invalid(_("请选择抽查结果：合格或不合格"), fields=[("result", "pass or fail")])
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid(_("备注最多 %(max)s 字", max=MAX_NOTE), fields=[("note", "too long")])
    if result == "fail" and not note:
        raise Invalid(_("不合格须写明原因"), fields=[("note", "required")])
    now = utcnow()
    try:
        with core.db.unit_of_work() as session:
            inspector = find_user(session, user)
            if INSPECTOR_ROLE not in inspector.roles:
                raise Forbidden(_("只有督查组可以抽查巡查"))
            patrol = session.get(Patrol, patrol_id)
            if patrol is None:
                raise NotFound(_("没有这次巡查：%(id)s", id=patrol_id))
            if patrol.finished_at is None:
                raise Conflict(_("巡查尚未结束，不能抽查"))
            if session.scalar(select(SpotCheck.id).where(SpotCheck.patrol_id == patrol_id)) is not None:
                raise Conflict(_("这次巡查已经抽查过"))
            check = SpotCheck(patrol_id=patrol_id, inspector=inspector.username, checked_at=now, result=result,
                              note=note)
            session.add(check)
            _audit(session, inspector.username, "patrol_spot_check",
                   {"patrol": patrol_id, "worker": patrol.worker, "grid": patrol.grid, "day": patrol.day.isoformat(),
                    "result": result, "note": note})
            session.flush()
            return {"id": check.id, "patrol": patrol_id, "result": result, "note": note,
                    "inspector": inspector.username, "checked_at": now.isoformat()}
    except IntegrityError:  # two inspectors at once
        raise Conflict(_("这次巡查已经抽查过")) from None


# -- reading ---------------------------------------------------------------------------------------
def as_dict(patrol: Patrol, reports: list | None = None, check: SpotCheck | None = None) -> dict:
    out = {"id": patrol.id, "worker": patrol.worker, "grid": patrol.grid, "day": patrol.day.isoformat(),
           "started_at": patrol.started_at.isoformat(),
           "finished_at": patrol.finished_at.isoformat() if patrol.finished_at else None,
           "note": patrol.note, **{f: getattr(patrol, f) for f in COUNTS}}
    if reports is not None:
        out["reports"] = reports
    if check is not None:
        out["spot_check"] = {"result": check.result, "note": check.note, "inspector": check.inspector,
                             "checked_at": check.checked_at.isoformat()}
    return out


def _report_numbers(session: Session, patrol_ids: list[int]) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = defaultdict(list)
    if not patrol_ids:
        return found
    rows = session.execute(select(PatrolReport.patrol_id, Case.number, Case.status, Case.text)
                           .join(Case, Case.id == PatrolReport.case_id)
                           .where(PatrolReport.patrol_id.in_(patrol_ids)).order_by(PatrolReport.id))
    for patrol_id, number, status, text in rows:
        found[patrol_id].append({"number": number, "status": status, "text": text[:60]})
    return found


def _checks(session: Session, patrol_ids: list[int]) -> dict[int, SpotCheck]:
    if not patrol_ids:
        return {}
    return {c.patrol_id: c for c in session.scalars(select(SpotCheck).where(SpotCheck.patrol_id.in_(patrol_ids)))}


def worker_log(session: Session, worker: str, days: int = 14) -> list[dict]:
    """The worker's patrols of the last ``days`` days, newest first, with their reports."""
    since = local_date(utcnow()) - timedelta(days=days)
    patrols = list(session.scalars(select(Patrol).where(Patrol.worker == worker, Patrol.day >= since)
                                   .order_by(Patrol.started_at.desc())))
    ids = [p.id for p in patrols]
    reports, checks = _report_numbers(session, ids), _checks(session, ids)
    return [as_dict(p, reports.get(p.id, []), checks.get(p.id)) for p in patrols]


def may_read(viewer, patrol: Patrol) -> bool:
    """The worker reads their own patrols; the 督查组, leaders, the center and admins read all."""
    return patrol.worker == viewer.username or bool(set(viewer.roles) & set(OVERSIGHT_ROLES))


def patrol_detail(session: Session, patrol_id: int, viewer) -> dict:
    patrol = session.get(Patrol, patrol_id)
    if patrol is None:
        raise NotFound(_("没有这次巡查：%(id)s", id=patrol_id))
    if not may_read(viewer, patrol):
        raise Forbidden(_("无权查看这次巡查"))
    return as_dict(patrol, _report_numbers(session, [patrol.id]).get(patrol.id, []),
                   _checks(session, [patrol.id]).get(patrol.id))


def parse_range(start: str | None, end: str | None, default_days: int = 14) -> tuple[date, date]:
    """(from, to) inclusive local days from the query; the last ``default_days`` days by default."""
    today = local_date(utcnow())
    try:
        last = iso_day(end) if end else today
        first = iso_day(start) if start else last - timedelta(days=default_days - 1)
    except (TypeError, ValueError):
        raise Invalid(_("日期格式应为 YYYY-MM-DD")) from None
    if first > last:
        raise Invalid(_("开始日期晚于结束日期"))
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise Invalid(_("日期范围最多 %(n)s 天", n=MAX_RANGE_DAYS))
    return first, last


def day_kinds(calendar: WorkingCalendar, first: date, last: date) -> dict[date, str]:
    """workday | rest | unknown (a year the calendar has no schedule for: never flagged)."""
    kinds = {}
    day = first
    while day <= last:
        try:
            kinds[day] = "workday" if calendar.is_workday(day) else "rest"
        except CalendarGap:
            kinds[day] = "unknown"
        day += timedelta(days=1)
    return kinds


def staffed_grids(session: Session, codes: list[str]) -> dict[str, list[str]]:
    """grid code -> active grid workers (users.grid), the grids whose missing days are flagged."""
    rows = session.execute(select(User.grid, User.username).join(UserRole, UserRole.user_id == User.id)
                           .where(UserRole.role == WORKER_ROLE, User.active.is_(True), User.grid.in_(codes))
                           .order_by(User.username))
    staffed: dict[str, list[str]] = defaultdict(list)
    for grid, username in rows:
        staffed[grid].append(username)
    return staffed


def overview(session: Session, first: date, last: date, calendar: WorkingCalendar | None = None,
             grid: str | None = None, page: int = 1) -> dict:
    """The grids (``GRIDS_PER_PAGE`` a page, by code) × every day of [first, last]: patrols, households,
    spot checks, and a missing flag on each past working day without a patrol in a grid that has a
    grid worker. From the (grid, day) index, for the page's grids only."""
    calendar = calendar or load_calendar(session)
    today = local_date(utcnow())
    kinds = day_kinds(calendar, first, last)
    grids_q = select(Grid.code, Grid.name, Grid.community).order_by(Grid.code)
    if grid:
        grids_q = grids_q.where(Grid.code == grid)
    total = session.scalar(select(func.count()).select_from(grids_q.subquery()))
    pages = max(1, -(-total // GRIDS_PER_PAGE))
    if page < 1 or page > pages:
        raise NotFound(_("没有这一页：%(page)s", page=page))
    grids = session.execute(grids_q.limit(GRIDS_PER_PAGE).offset((page - 1) * GRIDS_PER_PAGE)).all()
    if grid and not grids:
        raise NotFound(_("没有这个网格：%(code)s", code=grid))
    codes = [code for code, _name, _community in grids]
    staffed = staffed_grids(session, codes)
    query = (select(Patrol.grid, Patrol.day, func.count(Patrol.id), func.coalesce(func.sum(Patrol.households), 0),
                    func.count(SpotCheck.id))
             .outerjoin(SpotCheck, SpotCheck.patrol_id == Patrol.id)
             .where(Patrol.grid.in_(codes), Patrol.day >= first, Patrol.day <= last)
             .group_by(Patrol.grid, Patrol.day))
    cells = {(g, d): {"patrols": n, "households": int(h), "checks": c} for g, d, n, h, c in session.execute(query)}
    days = sorted(kinds)
    rows = []
    for code, name, community in grids:
        row_cells, missing = [], 0
        for day in days:
            cell = dict(cells.get((code, day), {"patrols": 0, "households": 0, "checks": 0}))
            cell["day"] = day.isoformat()
            cell["kind"] = kinds[day]
            # Today is not missing yet: the worker may still go out.
            cell["missing"] = (cell["patrols"] == 0 and kinds[day] == "workday" and day < today
                               and code in staffed)
            missing += cell["missing"]
            row_cells.append(cell)
        rows.append({"grid": code, "name": name, "community": community, "workers": staffed.get(code, []),
                     "cells": row_cells, "missing": missing,
                     "patrol_days": sum(1 for c in row_cells if c["patrols"])})
    return {"from": first.isoformat(), "to": last.isoformat(), "page": page, "pages": pages, "grids": total,
            "days": [{"day": d.isoformat(), "kind": kinds[d], "weekday": d.isoweekday()} for d in days],
            "rows": rows}


def patrols_of(session: Session, grid: str, day: date) -> list[dict]:
    patrols = list(session.scalars(select(Patrol).where(Patrol.grid == grid, Patrol.day == day)
                                   .order_by(Patrol.started_at)))
    ids = [p.id for p in patrols]
    reports, checks = _report_numbers(session, ids), _checks(session, ids)
    return [as_dict(p, reports.get(p.id, []), checks.get(p.id)) for p in patrols]


def patrol_summary(session: Session, grid_code: str, start: date, end: date,
                   calendar: WorkingCalendar | None = None) -> dict:
    """One grid's patrol record over [start, end] (local days, inclusive), for the map's grid panel:
    patrols and patrol days, households visited, resident-information counts, reports filed from
    patrols, spot checks, the working days without a patrol, and the last patrol. Pass the cached
    ``core.calendar.current()`` as ``calendar`` to spare reading the calendar each time."""
    if start > end:
        raise Invalid(_("开始日期晚于结束日期"))
    if (end - start).days + 1 > 366:
        raise Invalid(_("日期范围最多 %(n)s 天", n=366))
    base = (Patrol.grid == grid_code, Patrol.day >= start, Patrol.day <= end)
    per_day = session.execute(select(Patrol.day, func.count(Patrol.id),
                                     *[func.coalesce(func.sum(getattr(Patrol, f)), 0) for f in COUNTS])
                              .where(*base).group_by(Patrol.day)).all()
    reports = session.scalar(select(func.count(PatrolReport.id)).join(Patrol, Patrol.id == PatrolReport.patrol_id)
                             .where(*base))
    checks = dict(session.execute(select(SpotCheck.result, func.count(SpotCheck.id))
                                  .join(Patrol, Patrol.id == SpotCheck.patrol_id).where(*base)
                                  .group_by(SpotCheck.result)).all())
    last = session.execute(select(Patrol.started_at, Patrol.worker).where(Patrol.grid == grid_code)
                           .order_by(Patrol.started_at.desc()).limit(1)).first()
    patrolled = {row[0] for row in per_day}
    today = local_date(utcnow())
    kinds = day_kinds(calendar or load_calendar(session), start, end)
    missing = [d.isoformat() for d, kind in sorted(kinds.items())
               if kind == "workday" and d < today and d not in patrolled]
    sums = {f: sum(int(row[2 + i]) for row in per_day) for i, f in enumerate(COUNTS)}
    return {"grid": grid_code, "from": start.isoformat(), "to": end.isoformat(),
            "patrols": sum(row[1] for row in per_day), "patrol_days": len(patrolled), **sums, "reports": reports,
            "spot_checks": {"pass": checks.get("pass", 0), "fail": checks.get("fail", 0)},
            "workdays": sum(1 for d, k in kinds.items() if k == "workday" and d < today),
            "missing_days": missing,
            "last_patrol": {"at": last[0].isoformat(), "worker": last[1]} if last else None}


MAP_RECORD_DAYS = MAX_RANGE_DAYS  # the panel links to the overview, which shows at most a quarter


def map_record(session: Session, grid_code: str, start: date, end: date) -> dict:
    """The map's grid panel (app/org/map.py ``PATROL_RECORD``, wired by app/core.py): the patrol record
    of [start, end], cut to its last ``MAP_RECORD_DAYS`` days. Missing working days are flagged only
    for a grid that has an active grid worker, as on the 督查组's overview."""
    start = max(start, end - timedelta(days=MAP_RECORD_DAYS - 1))
    summary = patrol_summary(session, grid_code, start, end)
    staffed = bool(staffed_grids(session, [grid_code]).get(grid_code))
    return {**summary, "days": summary["patrol_days"], "households_visited": summary["households"],
            "staffed": staffed, "missing_days": summary["missing_days"] if staffed else []}
