"""附件清理: the files no attachment row names are deleted, once a day across every scheduler.

Blobs are written before the action's transaction (storage.py), so an action that is refused or
rolled back (a form error, a conflict, a duplicate confirmation abandoned) leaves a blob behind that
no row names, and a case erased with its attachments leaves its files. Nothing else ever removes
them. Once a day (03:30 Shanghai, claimed through ``job_runs`` like the other periodic jobs, so of
several schedulers one runs it and a day missed while down is caught up) the store is listed and
every blob older than the grace period that no row names — as content or as thumbnail — is deleted.

The grace period (a day by default) covers an upload whose action has not committed yet: a blob
younger than that is never a candidate, and storing content that is already there refreshes its
age (storage.py). References are checked in batches right before each deletion.
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import delete, or_, select

from workflows.clock import utcnow

from ..reports.jobruns import run_once
from ..reports.report_models import JobRun
from ..scheduling.cron import last_due_day
from .models import Attachment
from .storage import Storage

log = logging.getLogger(__name__)
CLEANUP_JOB = "attachment_cleanup"
CLEANUP_FIRE = {"hour": 3, "minute": 30}  # the cron trigger, Asia/Shanghai (after the 02:30 erasure)
CLEANUP_AT = time(3, 30)
GRACE = timedelta(days=1)
BATCH = 500  # keys checked against the table per query


def unreferenced(session, keys: list[str]) -> list[str]:
    """Those of ``keys`` that no attachment row names, as its content or its thumbnail."""
    named = set()
    for content, thumb in session.execute(select(Attachment.sha256, Attachment.thumb_sha256).where(
            or_(Attachment.sha256.in_(keys), Attachment.thumb_sha256.in_(keys)))):
        named.update((content, thumb))
    return [key for key in keys if key not in named]


def remove_unreferenced(core, storage: Storage, now: datetime | None = None, grace: timedelta = GRACE) -> dict:
    """Delete the blobs older than ``grace`` that no row names; {"checked": n, "deleted": m}."""
    now = now or utcnow()
    checked = deleted = 0
    batch: list[str] = []

    def sweep() -> int:
        with core.db.read() as session:
            gone = unreferenced(session, batch)
        for key in gone:
            storage.delete(key)
        batch.clear()
        return len(gone)

    for key in storage.keys(older_than=now - grace):
        checked += 1
        batch.append(key)
        if len(batch) >= BATCH:
            deleted += sweep()
    if batch:
        deleted += sweep()
    return {"checked": checked, "deleted": deleted}


def cleanup_job(core, storage: Storage, now: datetime | None = None) -> dict | None:
    """Run the clean-up once for the latest due day; None when that day's run is already done."""
    now = now or utcnow()
    period = last_due_day(now, CLEANUP_AT)
    if not run_once(core, CLEANUP_JOB, period, lambda session: None):
        return None
    try:
        result = remove_unreferenced(core, storage, now)
    except BaseException:
        # Deleting is idempotent: give the day back so that the next tick finishes the work.
        with core.db.unit_of_work() as session:
            session.execute(delete(JobRun).where(JobRun.job == CLEANUP_JOB, JobRun.period == period))
        raise
    if result["deleted"]:
        log.info("attachment clean-up deleted %d unreferenced file(s) of %d checked", result["deleted"],
                 result["checked"])
    return {"period": period, **result}
