"""The KPI rollup: the KPI page's counts per Shanghai day × breakdown, kept with the cases.

Why: at a million cases a year, the KPI page for a year by department would aggregate about a
million case rows per KPI (tens of seconds on SQLite). The same figures summed from this table
read about 365 × (departments) rows.

Design, as the dashboard's rollup (app/reports/rollups.py):
* A pure function of the case row: ``contributions(facts)`` says which counters of which
  (day, dim, key) bucket one case adds 1 to, each on the day of the timestamp kpis.py ranges that
  KPI by. ``dim`` is one of the KPI page's breakdowns (department, channel, type, category, grid),
  or '' for the totals; ``key`` the case's value ('' when unset).
* The hook in ``app/cases/projection.apply`` subtracts the case's contributions before the action
  and adds those after, in the action's transaction (written at commit, in key order).
* What depends on *now* is not stored: a case due later and not yet decided is in no denominator
  yet (docs/kpis.md), so the reader subtracts those few open cases with a live, indexed count.
* Handling days (registration → 销号 in working days) are a histogram per (day, dim, key, days),
  so the average and the 90th percentile come out exact.

``bihuan reports rebuild`` recomputes it from the cases (and after a calendar import, whose
working days the handling-day histogram depends on).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import Date, Integer, String, delete, event, exists, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflows.workdays import CalendarGap

from ..db import Base, adding_upsert
from .rollups import local_day

DIMS = ("department", "channel", "type", "category", "grid")
RATE_NAMES = ("on_time_reply_rate", "on_time_sign_rate", "closure_rate", "satisfaction_rate",
              "dissatisfaction_rate", "redo_rate", "return_rate")
COUNT_NAMES = ("closed_count", "refused_count", "merged_count")
COUNTERS = tuple(f"{n}_{p}" for n in RATE_NAMES for p in ("num", "den")) + COUNT_NAMES
REACHED = ("satisfied", "mostly_satisfied", "unsatisfied")
SATISFIED = ("satisfied", "mostly_satisfied")
FIELDS = ("status", "department", "channel", "type", "category", "grid", "registered_at", "closed_at",
          "replied_at", "deadline", "followed_up_at", "satisfaction", "dispatched_at", "signed_at", "redo_count",
          "return_count")


def _counter_columns() -> dict:
    return {name: mapped_column(Integer, default=0, nullable=False) for name in COUNTERS}


# Declared from COUNTERS, so that the columns, the hook and the reader cannot drift apart.
KpiDaily = type("KpiDaily", (Base,), {
    "__tablename__": "report_kpi_daily",
    "__doc__": "Per Shanghai day × breakdown value: the KPI page's numerators, denominators and counts.",
    "__annotations__": {"dim": Mapped[str], "day": Mapped[date], "key": Mapped[str],
                        **{name: Mapped[int] for name in COUNTERS}},
    # (dim, day, key): the reader asks for one breakdown over a range of days.
    "dim": mapped_column(String(12), primary_key=True),
    "day": mapped_column(Date, primary_key=True),
    "key": mapped_column(String(100), primary_key=True),
    **_counter_columns(),
})


class KpiHandling(Base):
    """Cases closed (销号) per Shanghai day × breakdown value × working days it took."""
    __tablename__ = "report_kpi_handling"
    dim: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, primary_key=True)
    cases: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


# -- one case's contributions ------------------------------------------------------------------
def facts(case, sign_overdue: bool) -> tuple:
    return tuple(getattr(case, name) for name in FIELDS) + (bool(sign_overdue),)


# The fields the 及时签收率 contributions read besides the flag: their day and their buckets' keys.
SIGN_FIELDS = tuple(FIELDS.index(name) for name in ("dispatched_at", "signed_at", "department", "channel", "type",
                                                   "category", "grid"))


def has_sign_overdue(session: Session, case, exclude: list = ()) -> bool:
    """Whether a 签收超时 item was opened on the case before this action (``exclude``: its own)."""
    from ..supervision.models import SupervisionItem
    from ..supervision.projection import read_ahead_of
    if case.id is None or case.dispatched_at is None:
        return False
    written = read_ahead_of(session, case.id)  # the timer sweep reads a chunk's items at once
    if written is not None:  # read before this action: its own items are not among them
        return any(row.reason == "sign_overdue" for row in written)
    query = exists().where(SupervisionItem.case_id == case.id, SupervisionItem.reason == "sign_overdue")
    own = [item.id for item in exclude if item.id is not None]
    if own:
        query = query.where(SupervisionItem.id.not_in(own))
    with session.no_autoflush:
        return bool(session.scalar(select(query)))


def action_changed(session: Session, case, before: tuple | None, opened: list) -> None:
    """The projection's hook: ``before`` is ``facts(case, False)`` taken before the action, ``opened``
    the supervision items the action opened.

    The 签收超时 flag enters only the 及时签收率 contributions, together with SIGN_FIELDS. When none
    of those moves and no such item opens, those contributions are the same before and after
    whatever the flag is, so the query for it is spent only on the actions that can change them
    (派单, 改派, 签收, the sign-for timer), not on every action and timer of the case."""
    after = facts(case, False)
    opened_now = any(item.reason == "sign_overdue" for item in opened)
    flag = False
    if before is not None and (opened_now or any(before[i] != after[i] for i in SIGN_FIELDS)):
        flag = has_sign_overdue(session, case, exclude=opened)
    case_changed(session, None if before is None else before[:-1] + (flag,), after[:-1] + (flag or opened_now,))


def contributions(values: tuple | None, working_days) -> tuple[dict, dict]:
    """(counters, handling) one case adds: {(day, dim, key): {counter: 1}} and
    {(day, dim, key, days): 1}. ``working_days(first, last)`` counts (first, last]."""
    counters: dict = defaultdict(lambda: defaultdict(int))
    handling: dict = defaultdict(int)
    if values is None:
        return counters, handling
    (status, department, channel, type_, category, grid, registered_at, closed_at, replied_at, deadline,
     followed_up_at, satisfaction, dispatched_at, signed_at, redo_count, return_count, sign_overdue) = values
    keys = (("", ""), ("department", department or ""), ("channel", channel or ""), ("type", type_ or ""),
            ("category", category or ""), ("grid", grid or ""))

    def add(instant, name):
        day = local_day(instant)
        for dim, key in keys:
            counters[(day, dim, key)][name] += 1

    if deadline is not None:
        if status != "returned":
            add(deadline, "on_time_reply_rate_den")
            if replied_at is not None and replied_at <= deadline:
                add(deadline, "on_time_reply_rate_num")
        add(deadline, "closure_rate_den")
        if status == "closed":
            add(deadline, "closure_rate_num")
    if dispatched_at is not None:
        if signed_at is not None or sign_overdue:
            add(dispatched_at, "on_time_sign_rate_den")
            if signed_at is not None and not sign_overdue:
                add(dispatched_at, "on_time_sign_rate_num")
        add(dispatched_at, "return_rate_den")
        if (return_count or 0) > 0:
            add(dispatched_at, "return_rate_num")
    if followed_up_at is not None and satisfaction in REACHED:
        add(followed_up_at, "satisfaction_rate_den")
        add(followed_up_at, "dissatisfaction_rate_den")
        add(followed_up_at, "satisfaction_rate_num" if satisfaction in SATISFIED else "dissatisfaction_rate_num")
    if closed_at is not None and status in ("closed", "refused", "merged"):
        add(closed_at, f"{status}_count")
        if status == "closed":
            add(closed_at, "redo_rate_den")
            if (redo_count or 0) > 0:
                add(closed_at, "redo_rate_num")
            try:
                days = working_days(local_day(registered_at), local_day(closed_at))
            except CalendarGap:
                days = None  # a year the calendar does not know: no honest count (docs/kpis.md)
            if days is not None:
                day = local_day(closed_at)
                for dim, key in keys:
                    handling[(day, dim, key, days)] += 1
    return counters, handling


def delta(before: tuple | None, after: tuple | None, working_days) -> tuple[dict, dict]:
    if before == after:
        return {}, {}
    counters: dict = defaultdict(lambda: defaultdict(int))
    handling: dict = defaultdict(int)
    for sign, values in ((-1, before), (1, after)):
        c, h = contributions(values, working_days)
        for key, names in c.items():
            for name, n in names.items():
                counters[key][name] += sign * n
        for key, n in h.items():
            handling[key] += sign * n
    return ({k: {n: v for n, v in c.items() if v} for k, c in counters.items() if any(c.values())},
            {k: v for k, v in handling.items() if v})


def calendar_counter(calendar):
    cache: dict[date, int] = {}

    def working_days(first: date, last: date) -> int:
        count, day = 0, first
        while day < last:
            day += timedelta(days=1)
            hit = cache.get(day)
            if hit is None:
                hit = cache[day] = int(calendar.is_workday(day))
            count += hit
        return count
    return working_days


# -- the hook ----------------------------------------------------------------------------------
PENDING = "bihuan_kpi_rollup_pending"


def case_changed(session: Session, before: tuple | None, after: tuple) -> None:
    """Collect one action's change; written once at commit (see rollups.case_changed for why)."""
    if before == after:
        return
    pending = session.info.get(PENDING)
    if pending is None:
        pending = session.info[PENDING] = {"counters": defaultdict(lambda: defaultdict(int)),
                                           "handling": defaultdict(int), "calendar": None}

    def working_days(first, last):
        if pending["calendar"] is None:
            from ..calendar.services import load_calendar
            pending["calendar"] = calendar_counter(load_calendar(session))
        return pending["calendar"](first, last)

    counters, handling = delta(before, after, working_days)
    for key, names in counters.items():
        for name, n in names.items():
            pending["counters"][key][name] += n
    for key, n in handling.items():
        pending["handling"][key] += n


def write(session: Session, counters: dict, handling: dict) -> None:
    """Upsert the changes in key order, as one executemany per table."""
    if counters:
        session.execute(adding_upsert(KpiDaily.__table__, ("day", "dim", "key"), COUNTERS),
                        [{"day": d, "dim": dim, "key": key, **{n: c.get(n, 0) for n in COUNTERS}}
                         for (d, dim, key), c in sorted(counters.items())])
    if handling:
        session.execute(adding_upsert(KpiHandling.__table__, ("day", "dim", "key", "days"), ("cases",)),
                        [{"day": d, "dim": dim, "key": key, "days": days, "cases": n}
                         for (d, dim, key, days), n in sorted(handling.items())])


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if pending:
        write(session, {k: {n: v for n, v in c.items() if v} for k, c in pending["counters"].items()
                        if any(c.values())}, {k: v for k, v in pending["handling"].items() if v})


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING, None)


# -- rebuild -----------------------------------------------------------------------------------
def rebuild(session: Session, batch: int = 20000) -> dict:
    from ..calendar.services import load_calendar
    from ..cases.models import Case
    from ..supervision.models import SupervisionItem
    session.execute(delete(KpiDaily))
    session.execute(delete(KpiHandling))
    working_days = calendar_counter(load_calendar(session))
    overdue = exists().where(SupervisionItem.case_id == Case.id, SupervisionItem.reason == "sign_overdue")
    query = select(*[getattr(Case, n) for n in FIELDS], overdue).execution_options(yield_per=batch)
    counters: dict = defaultdict(lambda: defaultdict(int))
    handling: dict = defaultdict(int)
    for row in session.execute(query):
        c, h = contributions(tuple(row[:-1]) + (bool(row[-1]),), working_days)
        for key, names in c.items():
            for name, n in names.items():
                counters[key][name] += n
        for key, n in h.items():
            handling[key] += n
    rows = [{"day": d, "dim": dim, "key": key, **{n: c.get(n, 0) for n in COUNTERS}}
            for (d, dim, key), c in counters.items()]
    for i in range(0, len(rows), 5000):
        session.execute(KpiDaily.__table__.insert(), rows[i:i + 5000])
    hrows = [{"day": d, "dim": dim, "key": key, "days": days, "cases": n}
             for (d, dim, key, days), n in handling.items()]
    for i in range(0, len(hrows), 5000):
        session.execute(KpiHandling.__table__.insert(), hrows[i:i + 5000])
    return {"kpi_rows": len(rows), "handling_rows": len(hrows)}


# -- reading -----------------------------------------------------------------------------------
def sums(session: Session, start: date, end: date, dim: str) -> dict:
    """{key: {counter: sum}} over the days start..end for one breakdown ('' = totals)."""
    query = (select(KpiDaily.key, *[func.coalesce(func.sum(getattr(KpiDaily, n)), 0) for n in COUNTERS])
             .where(KpiDaily.dim == dim, KpiDaily.day >= start, KpiDaily.day <= end).group_by(KpiDaily.key))
    return {row[0]: dict(zip(COUNTERS, map(int, row[1:]))) for row in session.execute(query)}


def handling(session: Session, start: date, end: date, dim: str) -> dict:
    """{key: {working days: cases}} over the days start..end."""
    query = (select(KpiHandling.key, KpiHandling.days, func.sum(KpiHandling.cases))
             .where(KpiHandling.dim == dim, KpiHandling.day >= start, KpiHandling.day <= end)
             .group_by(KpiHandling.key, KpiHandling.days))
    out: dict = {}
    for key, days, n in session.execute(query):
        if n:
            out.setdefault(key, {})[int(days)] = int(n)
    return out
