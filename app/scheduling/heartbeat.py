"""Scheduler heartbeats: each sweep records when it ran; /readyz and the admin page read them."""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from workflows.clock import utcnow

from .models import SchedulerHeartbeat

DEFAULT_MAX_AGE_SECONDS = 60.0
FORGET_AFTER = timedelta(days=7)  # a scheduler gone for a week is no longer listed


def max_age_seconds() -> float:
    """How old the newest heartbeat may be for /readyz: BIHUAN_HEARTBEAT_MAX_AGE_SECONDS, by default
    the larger of 60 s and three sweep intervals."""
    configured = os.environ.get("BIHUAN_HEARTBEAT_MAX_AGE_SECONDS")
    if configured:
        return float(configured)
    sweep = float(os.environ.get("BIHUAN_SWEEP_SECONDS", 10.0))
    return max(DEFAULT_MAX_AGE_SECONDS, 3 * sweep)


def beat(core, owner: str, started_at: datetime, fired: int, duration_ms: float, now: datetime | None = None) -> None:
    now = now or utcnow()
    hb = SchedulerHeartbeat
    with core.db.unit_of_work() as session:
        changed = session.execute(update(hb).where(hb.id == owner).values(
            last_sweep_at=now, last_fired=fired, last_duration_ms=duration_ms, fired_total=hb.fired_total + fired)
            .execution_options(synchronize_session=False)).rowcount
        if not changed:
            session.add(SchedulerHeartbeat(id=owner, host=socket.gethostname()[:100], pid=os.getpid(),
                                           started_at=started_at, last_sweep_at=now, last_fired=fired,
                                           last_duration_ms=duration_ms, fired_total=fired))
            # Old rows of schedulers long gone, so the table stays a list of the living.
            session.execute(delete(hb).where(hb.last_sweep_at < now - FORGET_AFTER))


def heartbeats(session) -> list[SchedulerHeartbeat]:
    return list(session.scalars(select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.last_sweep_at.desc())
                                .limit(100)))


def latest_beat(session) -> datetime | None:
    from sqlalchemy import func
    return session.scalar(select(func.max(SchedulerHeartbeat.last_sweep_at)))


def overview(core, now: datetime | None = None) -> dict:
    """The admin page's table: each scheduler's last sweep, its age, and the claims it holds now."""
    from .claims import claims_held
    now = now or utcnow()
    limit = max_age_seconds()
    with core.db.read() as session:
        rows = heartbeats(session)
        held = claims_held(session, now)
    schedulers = []
    for row in rows:
        age = max(0.0, (now - row.last_sweep_at).total_seconds())
        schedulers.append({"id": row.id, "host": row.host, "pid": row.pid, "started_at": row.started_at,
                           "last_sweep_at": row.last_sweep_at, "age_seconds": round(age, 1),
                           "last_fired": row.last_fired, "last_duration_ms": round(row.last_duration_ms, 1),
                           "fired_total": row.fired_total, "live": age <= limit,
                           "claims": sum(n for token, n in held.items() if token.split("#")[0] == row.id)})
    return {"schedulers": schedulers, "max_age_seconds": limit, "claims_total": sum(held.values())}
