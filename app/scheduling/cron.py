"""Daily jobs that run exactly once per day across every scheduler, and catch up after downtime.

The period is claimed through ``job_runs`` (UNIQUE job, period; app/reports/jobruns.py): of two
schedulers firing at 02:30 only one inserts the row, the other finds it and does nothing. A run that
fails gives its period back, so the next tick (or the next scheduler to start) tries it again.
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import delete

from workflows.clock import utcnow

from ..reports.jobruns import run_once
from ..reports.periods import SHANGHAI
from ..reports.report_models import JobRun

log = logging.getLogger(__name__)
ERASE_JOB = "erase_personal_data"
ERASE_FIRE = {"hour": 2, "minute": 30}  # the cron trigger, Asia/Shanghai
ERASE_AT = time(2, 30)


def last_due_day(now: datetime, at: time = ERASE_AT) -> str:
    """The latest day whose run is due at ``now``: today from ``at`` (Shanghai) on, else yesterday.
    One run covers every day missed before it (erasure takes everything past the cutoff), so
    catching up after downtime is running the latest due day."""
    local = now.astimezone(SHANGHAI)
    day = local.date() if local.time() >= at else local.date() - timedelta(days=1)
    return day.isoformat()


def erase_job(core, now: datetime | None = None) -> dict | None:
    """Erase the personal data past retention once for the latest due day; None when already done."""
    from ..privacy.retention import erase_due
    now = now or utcnow()
    period = last_due_day(now)
    if not run_once(core, ERASE_JOB, period, lambda session: None):
        return None
    try:
        result = erase_due(core.db, now)
    except BaseException:
        # Each batch of erase_due commits on its own and is idempotent: give the period back so
        # that the next tick finishes what this one started.
        with core.db.unit_of_work() as session:
            session.execute(delete(JobRun).where(JobRun.job == ERASE_JOB, JobRun.period == period))
        raise
    if result["erased"]:
        log.info("erased the personal data of %d cases closed before %s", result["erased"], result["cutoff"])
    return result
