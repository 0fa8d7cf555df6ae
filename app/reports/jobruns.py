"""Periodic jobs that must run exactly once per period, however many schedulers are running.

A run inserts its ``job_runs`` row (UNIQUE job, period) and does its work in the same transaction. Two
schedulers racing for one period both try the insert: on PostgreSQL the second insert waits for the
first transaction and then fails on the key; on SQLite writers queue at BEGIN IMMEDIATE and the second
one finds the row. Either way the loser does nothing, and a run that fails rolls its row back so that
the next tick tries the period again.

The weekly 专报 job fires every Monday 08:00 Asia/Shanghai for the week that ended at midnight. On
each tick (and when a scheduler starts) it runs every period due since the last one recorded, so a
scheduler that was down over some Mondays catches up with the missed weeks in order.
"""
from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, time, timedelta
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from .periods import SHANGHAI, Period, local_date, next_week, parse_week, previous_week, week_of
from .report_models import JobRun

log = logging.getLogger(__name__)
WEEKLY_JOB = "weekly_report"
WEEKLY_FIRE = {"day_of_week": "mon", "hour": 8, "minute": 0}  # the cron trigger, Asia/Shanghai
FIRE_AT = time(8, 0)
MAX_CATCH_UP = 53  # weeks; a scheduler down for longer still catches up the last year, not since 2000


def _runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_once(core, job: str, period: str, work: Callable[[Session], object]) -> bool:
    """Claim (job, period) and do ``work`` in one transaction; False when another run has it."""
    try:
        with core.db.unit_of_work() as session:
            if session.scalar(select(JobRun.id).where(JobRun.job == job, JobRun.period == period)):
                return False
            session.add(JobRun(job=job, period=period, ran_at=utcnow(), runner=_runner()))
            session.flush()  # the key is taken here: a concurrent run's insert waits on it or fails
            work(session)
        return True
    except IntegrityError:
        return False


def last_due_week(now: datetime) -> Period:
    """The latest week whose report is due at ``now``: last week from Monday 08:00 on, else the one before."""
    this_week = week_of(local_date(now))
    fire = datetime.combine(this_week.first, FIRE_AT, tzinfo=SHANGHAI)
    due = previous_week(this_week)
    return due if now >= fire else previous_week(due)


def due_weeks(session: Session, now: datetime) -> list[Period]:
    """The weeks to generate now: every week after the last run up to the last due one (only that one on
    a first start, so that a new install does not write reports for weeks before it existed)."""
    last_due = last_due_week(now)
    last_run = session.scalar(select(func.max(JobRun.period)).where(JobRun.job == WEEKLY_JOB))
    if last_run is None:
        return [last_due]
    week = next_week(parse_week(last_run))
    if week.first < last_due.first - timedelta(weeks=MAX_CATCH_UP):
        week = week_of(last_due.first - timedelta(weeks=MAX_CATCH_UP - 1))
    weeks = []
    while week.first <= last_due.first:
        weeks.append(week)
        week = next_week(week)
    return weeks


def weekly_job(core, now: datetime | None = None) -> list[str]:
    """The scheduler's job: generate every due weekly report not generated yet; the periods it ran."""
    from .weekly_store import store_weekly
    now = now or utcnow()
    with core.db.read() as session:
        weeks = due_weeks(session, now)
    ran = []
    for week in weeks:
        if run_once(core, WEEKLY_JOB, week.key, lambda session, w=week: store_weekly(core, session, w, "scheduler")):
            log.info("weekly report %s generated", week.key)
            ran.append(week.key)
    return ran


def safe_weekly_job(core) -> list[str]:
    try:
        return weekly_job(core)
    except Exception:  # noqa: BLE001 - a failed run must not kill the scheduler; its period is retried
        log.exception("weekly report job failed")
        return []
