"""What the scheduler runs for volunteers (app/scheduler.py): the approval timers of redemptions, then
the yearly points expiry (exactly once per year through job_runs)."""
from __future__ import annotations

import logging
from datetime import datetime

log = logging.getLogger(__name__)


def volunteer_jobs(core, now: datetime | None = None) -> dict:
    from .ledger import post_expiry
    from .redemption import fire_due
    result = {}
    try:
        result["timers_fired"] = fire_due(core, now)
        result["expiry"] = post_expiry(core, now)
        if result["timers_fired"] or result["expiry"]["posted"]:
            log.info("volunteer jobs: %s", result)
    except Exception:  # noqa: BLE001 - like the case sweep: log, the next run retries
        log.exception("volunteer jobs failed")
    return result
