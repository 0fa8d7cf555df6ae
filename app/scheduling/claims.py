"""Dynamic claiming of due timers: any live scheduler may fire any due timer.

A sweep claims a small batch of due instances in one UPDATE that writes its token and a lease
expiry (Quartz's clustered store, Camunda's job acquisition). On PostgreSQL the candidate rows are
picked with ``FOR UPDATE SKIP LOCKED``, so concurrent claimers take disjoint batches without waiting
on each other; SQLite serialises writers (BEGIN IMMEDIATE), so two schedulers on one file still take
disjoint batches, one after the other.

The claim only spreads the work. *Exactly once* comes from the firing transaction: the engine state,
case columns, ready tasks, items and the audit row commit together under the instance's optimistic
lock (``version``), so a scheduler that lost its lease and fires late fails its version check
instead of firing twice, and a scheduler killed mid-sweep rolls back everything it had not
committed. Its claims expire after one lease and the next sweep of any scheduler takes them over.
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from ..cases.models import WorkflowInstance

DEFAULT_LEASE_SECONDS = 30.0


def lease_seconds() -> float:
    return float(os.environ.get("BIHUAN_CLAIM_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


_OWNER: str | None = None


def scheduler_id() -> str:
    """This process's name as a claim owner and heartbeat key: host:pid:nonce (a pid is reused)."""
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or f":{pid}:" not in _OWNER:  # a forked child is a scheduler of its own
        _OWNER = f"{socket.gethostname()[:80]}:{pid}:{uuid.uuid4().hex[:8]}"
    return _OWNER


def claimable(now: datetime):
    """Due, and not claimed by a live lease."""
    wi = WorkflowInstance
    return and_(wi.next_timer_at <= now, or_(wi.claimed_by.is_(None), wi.claim_expires_at < now))


def claim(core, token: str, now: datetime, limit: int, lease: float | None = None) -> list[int]:
    """Claim up to ``limit`` due instances for ``token``; their ids, earliest timer first.

    ``now`` is the sweep's instant (the application clock: schedulers on several machines need
    synchronised clocks, as for every deadline). The lease runs from the real claim time.
    """
    wi = WorkflowInstance
    expires = now + timedelta(seconds=lease if lease is not None else lease_seconds())
    candidates = select(wi.id).where(claimable(now)).order_by(wi.next_timer_at).limit(limit)
    with core.db.read() as session:  # nothing due (the usual case): one index probe, no write lock
        if session.scalar(select(wi.id).where(claimable(now)).limit(1)) is None:
            return []
    with core.db.unit_of_work() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Re-check the condition in the UPDATE: a row picked by the subquery is locked, so it
            # cannot change under us, but the check keeps the statement correct on its own.
            ids = session.scalars(update(wi).where(wi.id.in_(candidates.with_for_update(skip_locked=True).scalar_subquery()), claimable(now))
                                  .values(claimed_by=token, claim_expires_at=expires).returning(wi.id)).all()
        else:
            # SQLite: the write lock is held from BEGIN IMMEDIATE, so select-then-update is atomic.
            ids = session.scalars(candidates).all()
            if ids:
                session.execute(update(wi).where(wi.id.in_(ids)).values(claimed_by=token, claim_expires_at=expires)
                                .execution_options(synchronize_session=False))
    return list(ids)


def release(core, token: str) -> int:
    """Give back whatever this sweep still holds (cases that were not fired: a conflict, an incident)."""
    wi = WorkflowInstance
    with core.db.unit_of_work() as session:
        return session.execute(update(wi).where(wi.claimed_by == token)
                               .values(claimed_by=None, claim_expires_at=None)
                               .execution_options(synchronize_session=False)).rowcount


def claims_held(session, now: datetime) -> dict[str, int]:
    """Live claims per sweep token (the admin page and the heartbeat show them)."""
    from sqlalchemy import func
    wi = WorkflowInstance
    rows = session.execute(select(wi.claimed_by, func.count()).where(wi.claimed_by.is_not(None),
                                                                     wi.claim_expires_at >= now)
                           .group_by(wi.claimed_by)).all()
    return {owner: count for owner, count in rows}
