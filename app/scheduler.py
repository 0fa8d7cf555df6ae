"""APScheduler wiring: one interval job sweeps all due timers; cron jobs (weekly reports) go here too.

Any number of these run side by side (`bihuan scheduler` on several machines, or `bihuan serve`'s
embedded one): timers are claimed dynamically (app/scheduling/claims.py) and every periodic job
runs once per period through ``job_runs`` (docs/scheduling.md).
"""
from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from workflows.clock import utcnow

from .cases.timers import fire_due
from .notifications.outbox import drain
from .scheduling.claims import scheduler_id
from .scheduling.cron import ERASE_FIRE, erase_job
from .scheduling.heartbeat import beat

log = logging.getLogger(__name__)
DEFAULT_SWEEP_SECONDS = 10.0
DEFAULT_DRAIN_SECONDS = 30.0
_STARTED = utcnow()


def sweep(core, shard: tuple[int, int] | None = None) -> int:
    """One sweep and its heartbeat; fire_due logs what it fired (count, scheduler, duration) and each
    incident. ``shard`` is the retired static split, ignored."""
    t0 = time.monotonic()
    try:
        fired = fire_due(core)
    except Exception:  # noqa: BLE001 - a failed sweep must not kill the scheduler; the next one retries
        log.exception("timer sweep failed")
        return 0
    try:
        beat(core, scheduler_id(), _STARTED, fired, (time.monotonic() - t0) * 1000)
    except Exception:  # noqa: BLE001 - a lost heartbeat shows on /readyz; it must not stop the sweeps
        log.exception("scheduler heartbeat failed")
    return fired


def erase_personal_data(core) -> dict | None:
    """Personal data past its retention period, once a day across all schedulers (job_runs)."""
    try:
        return erase_job(core)
    except Exception:  # noqa: BLE001 - like the sweep: log; the period was given back and is retried
        log.exception("erasing personal data failed")
        return None


def clean_attachments(core, storage=None) -> dict | None:
    """附件清理: the files no attachment row names, once a day across all schedulers (job_runs)."""
    from .attachments.cleanup import cleanup_job
    try:
        if storage is None:
            from .attachments.settings import AttachmentSettings
            from .attachments.storage import storage_from_settings
            storage = storage_from_settings(AttachmentSettings.from_environment())
        return cleanup_job(core, storage)
    except Exception:  # noqa: BLE001 - like the erasure: log; the day was given back and is retried
        log.exception("attachment clean-up failed")
        return None


def drain_outbox(core) -> dict:
    """Send the queued notifications; a failing channel is the row's problem (retried), never the job's.
    Several schedulers may drain at once: each row is leased by one UPDATE before it is sent."""
    try:
        return drain(core)
    except Exception:  # noqa: BLE001 - e.g. the database is away; the next run retries
        log.exception("notification outbox drain failed")
        return {}


def build_scheduler(core, blocking: bool, seconds: float | None = None, shard: tuple[int, int] | None = None):
    seconds = seconds or float(os.environ.get("BIHUAN_SWEEP_SECONDS", DEFAULT_SWEEP_SECONDS))
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="Asia/Shanghai")
    # max_instances=1 + coalesce: a slow sweep is never overlapped by the next one in this process.
    # next_run_time=now: timers missed while we were down fire right away (catch-up).
    # misfire_grace_time=None: a run that starts late (a slow start, a busy machine) still runs,
    # instead of being skipped as "missed" after APScheduler's default second of grace.
    scheduler.add_job(sweep, "interval", args=[core], seconds=seconds, id="timer_sweep", max_instances=1,
                      coalesce=True, misfire_grace_time=None, next_run_time=utcnow(), replace_existing=True)
    # Personal data past its retention period, 02:30 every night; next_run_time=now catches up a
    # night missed while down. job_runs makes each day run once across every scheduler process.
    scheduler.add_job(erase_personal_data, "cron", args=[core], id="erase_personal_data", max_instances=1,
                      coalesce=True, misfire_grace_time=None, next_run_time=utcnow(), replace_existing=True,
                      **ERASE_FIRE)
    # 附件清理: unreferenced attachment files, 03:30 every night (app/attachments/cleanup.py); the same
    # catch-up and once-per-day rule as the erasure.
    from .attachments.cleanup import CLEANUP_FIRE
    scheduler.add_job(clean_attachments, "cron", args=[core], id="attachment_cleanup", max_instances=1,
                      coalesce=True, misfire_grace_time=None, next_run_time=utcnow(), replace_existing=True,
                      **CLEANUP_FIRE)
    # The weekly 专报: Monday 08:00 Shanghai; next_run_time=now catches up weeks missed while down.
    # job_runs (UNIQUE job, period) makes each week run once across every scheduler process.
    from .reports.jobruns import WEEKLY_FIRE, safe_weekly_job
    scheduler.add_job(safe_weekly_job, "cron", args=[core], id="weekly_report", max_instances=1, coalesce=True,
                      misfire_grace_time=None, next_run_time=utcnow(), replace_existing=True, **WEEKLY_FIRE)
    # Outbound notifications are sent here, never in the action that caused them (app/notifications).
    scheduler.add_job(drain_outbox, "interval", args=[core], id="notification_outbox", max_instances=1,
                      seconds=float(os.environ.get("BIHUAN_NOTIFY_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS)),
                      coalesce=True, misfire_grace_time=None, next_run_time=utcnow(), replace_existing=True)
    # Webhooks to client systems (app/api/webhooks.py): signed, in order per case, retried with backoff.
    from .api.webhooks import safe_drain
    scheduler.add_job(safe_drain, "interval", args=[core], id="webhook_outbox", max_instances=1,
                      seconds=float(os.environ.get("BIHUAN_WEBHOOK_DRAIN_SECONDS", 10)), coalesce=True,
                      misfire_grace_time=None, next_run_time=utcnow(), replace_existing=True)
    # 志愿者积分: redemption approval timers and the yearly points expiry (job_runs: once per year).
    # First run a little after start, so it never competes with the case sweep's catch-up.
    from .volunteers.jobs import volunteer_jobs
    scheduler.add_job(volunteer_jobs, "interval", args=[core], seconds=seconds * 6, id="volunteer_jobs",
                      max_instances=1, coalesce=True, misfire_grace_time=None, replace_existing=True,
                      next_run_time=utcnow() + timedelta(seconds=30))
    return scheduler
