"""Keep the dashboard's daily rollup and the heatmap's dwell table in step with the cases.

Design (why not something else):
* The rollup is a pure function of the case rows: ``contributions(case)`` says which counters of
  which (day, department, channel) bucket one case adds 1 to. The hook in
  ``app/cases/projection.apply`` subtracts the case's contributions before the action and adds
  those after it, in the action's own transaction, so the rollup always equals
  "sum of contributions over all cases" (what ``rebuild`` computes from scratch).
* Days are Asia/Shanghai calendar days: the office counts its months and weeks there.
* Writes are upserts in a fixed key order, so two concurrent actions touching the same buckets
  queue on the rows instead of deadlocking.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from workflows.workdays import SHANGHAI

from ..db import adding_upsert
from .rollup_models import DailyRollup, TaskDwell

COUNTERS = ("registered", "closed", "refused", "merged", "replied", "due_reply", "due_reply_on_time", "due",
            "due_closed", "followed_up", "satisfied", "unsatisfied")
# Follow-ups that reached the resident (联系不上 did not).
REACHED = ("satisfied", "mostly_satisfied", "unsatisfied")
SATISFIED = ("satisfied", "mostly_satisfied")
Key = tuple  # (day, department, channel)
CASE_FIELDS = ("status", "department", "channel", "registered_at", "closed_at", "replied_at", "deadline",
               "followed_up_at", "satisfaction")


def local_day(instant: datetime | None) -> date | None:
    return instant.astimezone(SHANGHAI).date() if instant is not None else None


def facts(case) -> tuple:
    """The columns the rollup depends on, copied (the ORM object changes under us)."""
    return tuple(getattr(case, name) for name in CASE_FIELDS)


def contributions(values: tuple | None) -> dict[Key, dict[str, int]]:
    """What one case (given as ``facts``) adds to the rollup."""
    out: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if values is None:
        return out
    status, department, channel, registered_at, closed_at, replied_at, deadline, followed_up_at, satisfaction = values
    dept = department or ""

    def add(instant, counter):
        out[(local_day(instant), dept, channel)][counter] += 1

    add(registered_at, "registered")
    if closed_at is not None and status in ("closed", "refused", "merged"):
        add(closed_at, status)
    if replied_at is not None:
        add(replied_at, "replied")
    if deadline is not None:
        add(deadline, "due")
        if status != "returned":
            add(deadline, "due_reply")
            if replied_at is not None and replied_at <= deadline:
                add(deadline, "due_reply_on_time")
        if status == "closed":
            add(deadline, "due_closed")
    if followed_up_at is not None and satisfaction in REACHED:
        add(followed_up_at, "followed_up")
        if satisfaction in SATISFIED:
            add(followed_up_at, "satisfied")
        else:
            add(followed_up_at, "unsatisfied")
    return out


def delta(before: tuple | None, after: tuple | None) -> dict[Key, dict[str, int]]:
    """after − before, without the buckets that did not change."""
    if before == after:
        return {}
    out: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sign, contrib in ((-1, contributions(before)), (1, contributions(after))):
        for key, counters in contrib.items():
            for name, n in counters.items():
                out[key][name] += sign * n
    return {key: {k: v for k, v in c.items() if v} for key, c in out.items() if any(c.values())}


def add_daily(session: Session, changes: dict[Key, dict[str, int]]) -> None:
    if not changes:
        return
    session.execute(adding_upsert(DailyRollup.__table__, ("day", "department", "channel"), COUNTERS),
                    [{"day": day, "department": department, "channel": channel,
                      **{name: counters.get(name, 0) for name in COUNTERS}}
                     for (day, department, channel), counters in sorted(changes.items())])


def add_dwell(session: Session, exits: list[tuple[str, datetime, datetime]]) -> None:
    """Record nodes left: (bpmn_id, entered, left)."""
    if exits:
        session.execute(adding_upsert(TaskDwell.__table__, ("day", "bpmn_id"), ("exits", "seconds")),
                        sorted(dwell_rows(exits), key=lambda row: (row["day"], row["bpmn_id"])))


def dwell_rows(exits: list[tuple[str, datetime, datetime]]) -> list[dict]:
    """The dwell table's rows for these node exits: per (day left, node), how many and seconds in all."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for bpmn_id, entered, left in exits:
        bucket = sums[(local_day(left), bpmn_id)]
        bucket[0] += 1
        bucket[1] += max(0, int((left - entered).total_seconds()))
    return [{"day": day, "bpmn_id": bpmn_id, "exits": n, "seconds": seconds}
            for (day, bpmn_id), (n, seconds) in sums.items()]


# -- the hook, called by app/cases/projection.apply ------------------------------------------------
PENDING = "bihuan_rollup_pending"


def case_changed(session: Session, before: tuple | None, case, left_tasks: list[tuple[str, datetime]],
                 now: datetime) -> None:
    """One action changed ``case`` (its facts were ``before``; None for a new case) and the
    ready tasks ``left_tasks`` [(bpmn_id, became ready at)] were completed or withdrawn.

    The changes are collected on the session and written once, just before the commit, in key
    order: a timer sweep commits many cases at once, and every transaction then takes the rollup
    rows' locks in the same order, after all its other writes, so none can wait on another in a
    cycle (PostgreSQL would abort one as a deadlock)."""
    pending = session.info.setdefault(PENDING, {"daily": defaultdict(lambda: defaultdict(int)), "dwell": []})
    for key, counters in delta(before, facts(case)).items():
        for name, n in counters.items():
            pending["daily"][key][name] += n
    pending["dwell"].extend((bpmn_id, entered, now) for bpmn_id, entered in left_tasks)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if pending:
        add_daily(session, {k: {n: v for n, v in c.items() if v} for k, c in pending["daily"].items()
                            if any(c.values())})
        add_dwell(session, pending["dwell"])


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING, None)


# -- rebuild ------------------------------------------------------------------------------------
def rebuild(session: Session, batch: int = 20000) -> dict:
    """Recompute both tables from the cases and the audit log (``bihuan reports rebuild``)."""
    from ..cases.models import Case
    session.execute(delete(DailyRollup))
    session.execute(delete(TaskDwell))
    totals: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    columns = [getattr(Case, name) for name in CASE_FIELDS]
    cases = 0
    for row in session.execute(select(*columns).execution_options(yield_per=batch)):
        cases += 1
        for key, counters in contributions(tuple(row)).items():
            for name, n in counters.items():
                totals[key][name] += n
    add_daily_bulk(session, totals)
    exits = dwell_from_audit(session, batch)
    rows = dwell_rows(exits)
    for i in range(0, len(rows), 5000):
        session.execute(TaskDwell.__table__.insert(), rows[i:i + 5000])
    from .kpi_rollup import rebuild as rebuild_kpis
    return {"cases": cases, "daily_rows": len(totals), "task_exits": len(exits), **rebuild_kpis(session, batch)}


def add_daily_bulk(session: Session, totals: dict[Key, dict[str, int]]) -> None:
    rows = [{"day": d, "department": dept, "channel": ch, **{n: c.get(n, 0) for n in COUNTERS}}
            for (d, dept, ch), c in totals.items()]
    for i in range(0, len(rows), 5000):
        session.execute(DailyRollup.__table__.insert(), rows[i:i + 5000])


def dwell_from_audit(session: Session, batch: int = 20000) -> list[tuple[str, datetime, datetime]]:
    """Each completed task's stay, read back from the audit log: a task became ready at the case's
    previous audit row of the same process part (main path or supervision). That is exact for the
    engine's paths, where each action makes the next task of its part ready."""
    from ..cases.models import AuditEntry
    from .heatmap import SUPERVISION_NODES
    last: dict[tuple[int, bool], datetime] = {}
    exits = []
    query = (select(AuditEntry.case_id, AuditEntry.at, AuditEntry.action, AuditEntry.task_bpmn_id)
             .where(AuditEntry.case_id.is_not(None)).order_by(AuditEntry.case_id, AuditEntry.id)
             .execution_options(yield_per=batch))
    for case_id, at, action, bpmn_id in session.execute(query):
        if action == "register":
            last[(case_id, False)] = at
            continue
        if action == "complete" and bpmn_id:
            part = bpmn_id in SUPERVISION_NODES
            entered = last.get((case_id, part))
            if entered is not None:
                exits.append((bpmn_id, entered, at))
            last[(case_id, part)] = at
            # A main-path action can open a supervision run (buck passing): its first task starts here.
            last.setdefault((case_id, True), at)
        elif action == "timer":
            # Timers open or raise supervision; the main-path task they hang on stays where it was.
            last[(case_id, True)] = at
    return exits
