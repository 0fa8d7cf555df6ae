"""One log line per fired timer, with the case number, written once its transaction committed.

The sweep (app/cases/timers.py) logs a summary per sweep; operators asking "did the 签收 timer of
HD-20261102-0007 fire?" need the case. Every fired timer writes an audit row (action ``timer`` or
``reminder``, source ``scheduler``) in the sweep's transaction, so the rows a session flushes tell
which cases fired what, and a rolled-back chunk (another writer won) logs nothing.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import event
from sqlalchemy.orm import Session, attributes
from sqlalchemy.orm.util import identity_key

log = logging.getLogger("app.timers")
_KEY = "bihuan_fired_timers"
_DUE = "bihuan_timer_due"
_lock = threading.Lock()
_lateness: list[float] = []
TIMER_ACTIONS = ("timer", "reminder")


def install() -> None:
    for name, fn in (("after_flush", _after_flush), ("after_commit", _after_commit),
                     ("after_soft_rollback", _forget)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


def _after_flush(session: Session, _context) -> None:
    from ..cases.models import AuditEntry, Case, WorkflowInstance
    # The instance's earliest due timer before the sweep wrote it: how late the firing is. The sweep
    # flushes its instances before their audit rows, so this is kept across the transaction's flushes.
    for obj in session.dirty:
        if isinstance(obj, WorkflowInstance):
            old = attributes.get_history(obj, "next_timer_at").deleted
            if old and old[0] is not None:
                session.info.setdefault(_DUE, {})[obj.case_id] = old[0]
    for obj in session.new:
        if isinstance(obj, AuditEntry) and obj.source == "scheduler" and obj.action in TIMER_ACTIONS:
            # The sweep attached the case to this session: read the number from the identity map (no SQL).
            case = session.identity_map.get(identity_key(Case, obj.case_id)) if obj.case_id else None
            due = session.info.get(_DUE, {}).get(obj.case_id)
            late = (obj.at - due).total_seconds() if due is not None and obj.at is not None else None
            session.info.setdefault(_KEY, []).append(
                (case.number if case is not None else f"id {obj.case_id}", obj.action,
                 list((obj.changes or {}).get("timers") or []), obj.at, late))


def _after_commit(session: Session) -> None:
    session.info.pop(_DUE, None)
    for number, action, timers, at, late in session.info.pop(_KEY, []):
        log.info("%s fired on case %s: %s", action, number, ", ".join(timers) or "-",
                 extra={"case": number, "timers": timers, "event": f"{action}_fired",
                        "at": at.isoformat(timespec="seconds") if at else None,
                        "late_s": round(late, 3) if late is not None else None})
        if action == "timer" and late is not None:
            with _lock:
                _lateness.append(late)


def _forget(session: Session, _previous_transaction) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_DUE, None)


def take_lateness() -> list[float]:
    """The lateness (seconds) of the timers committed since the last call, for the sweep's metrics."""
    with _lock:
        taken = list(_lateness)
        _lateness.clear()
    return taken


def observed_sweep(core, shard=(0, 1)) -> int:
    """The scheduler's sweep job with its figures recorded (observe_sweep): what ``bihuan
    scheduler`` runs (app/cli.py swaps it in), so app/scheduler.py needs no change."""
    import time
    from ..scheduler import sweep
    from .metrics import observe_sweep
    take_lateness()  # anything committed outside a sweep (a CLI fire) is not this sweep's
    started = time.monotonic()
    fired = sweep(core, shard)
    observe_sweep(fired, time.monotonic() - started, take_lateness())
    return fired
