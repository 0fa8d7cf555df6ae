"""Draining the outbox: send what is due, outside any transaction, with retries and backoff.

A row is claimed by moving its ``next_attempt_at`` a lease into the future with a conditional
UPDATE (only one of several schedulers wins it), sent with no transaction open, and then marked
sent, or rescheduled after a growing pause (1, 2, 4 ... minutes, at most an hour), or given up
after ``BIHUAN_NOTIFY_MAX_ATTEMPTS`` tries. A failure stays on the row (``last_error``); the case
it reports on never waits for it.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from sqlalchemy import select, update

from workflows.clock import utcnow

from . import channels as outbound
from .models import OutboxMessage

log = logging.getLogger(__name__)
BATCH = 100
LEASE = timedelta(minutes=5)   # a sender that died mid-send frees its rows after this
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
DEFAULT_MAX_ATTEMPTS = 5


def backoff(attempts: int) -> timedelta:
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def max_attempts() -> int:
    try:
        return max(1, int(os.environ.get("BIHUAN_NOTIFY_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS))
    except ValueError:
        return DEFAULT_MAX_ATTEMPTS


def drain(core, now: datetime | None = None, channels: dict | None = None) -> dict[str, int]:
    """Send every due outbox row once; returns {"sent", "retry", "failed"} counts."""
    now = now or utcnow()
    channels = outbound.configured() if channels is None else channels
    limit = max_attempts()
    with core.db.read() as session:
        ids = list(session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(BATCH)))
    result = {"sent": 0, "retry": 0, "failed": 0}
    for row_id in ids:
        with core.db.unit_of_work() as session:
            claimed = session.execute(update(OutboxMessage).where(
                OutboxMessage.id == row_id, OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .values(next_attempt_at=now + LEASE)).rowcount
            if not claimed:
                continue  # another scheduler has it
            row = session.get(OutboxMessage, row_id)
            channel_name, recipient, subject, body, attempts = (row.channel, row.recipient, row.subject, row.body,
                                                                row.attempts)
        channel = channels.get(channel_name)
        error = None
        if channel is None:
            error = f"channel '{channel_name}' is not configured"
        else:
            try:
                channel.send(recipient, subject, body)
            except Exception as exc:  # noqa: BLE001 - any failure of a channel is the row's, never the sweep's
                error = f"{type(exc).__name__}: {exc}"
        attempts += 1
        with core.db.unit_of_work() as session:
            if error is None:
                values = {"status": "sent", "sent_at": now, "attempts": attempts, "last_error": None}
                result["sent"] += 1
            elif attempts >= limit or channel is None:
                values = {"status": "failed", "attempts": attempts, "last_error": error[:2000]}
                result["failed"] += 1
                log.warning("notification %d via %s to %s given up after %d attempt(s): %s", row_id, channel_name,
                            recipient, attempts, error)
            else:
                values = {"attempts": attempts, "last_error": error[:2000], "next_attempt_at": now + backoff(attempts)}
                result["retry"] += 1
                log.info("notification %d via %s failed (attempt %d), retried later: %s", row_id, channel_name,
                         attempts, error)
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))
    return result
