"""One log line per fired timer, with the case number, written once its transaction committed.

The sweep (app/cases/timers.py) logs a summary per sweep; operators asking "did the 签收 timer of
HD-20261102-0007 fire?" need the case. Every fired timer writes an audit row (action ``timer`` or
``reminder``, source ``scheduler``) in the sweep's transaction, so the rows a session flushes tell
which cases fired what, and a rolled-back chunk (another writer won) logs nothing.
"""
from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

log = logging.getLogger("app.timers")
_KEY = "bihuan_fired_timers"
TIMER_ACTIONS = ("timer", "reminder")


def install() -> None:
    for name, fn in (("after_flush", _after_flush), ("after_commit", _after_commit),
                     ("after_soft_rollback", _forget)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


def _after_flush(session: Session, _context) -> None:
    from ..cases.models import AuditEntry, Case
    for obj in session.new:
        if isinstance(obj, AuditEntry) and obj.source == "scheduler" and obj.action in TIMER_ACTIONS:
            # The sweep attached the case to this session: read the number from the identity map (no SQL).
            case = session.identity_map.get(identity_key(Case, obj.case_id)) if obj.case_id else None
            session.info.setdefault(_KEY, []).append(
                (case.number if case is not None else f"id {obj.case_id}", obj.action,
                 list((obj.changes or {}).get("timers") or []), obj.at))


def _after_commit(session: Session) -> None:
    for number, action, timers, at in session.info.pop(_KEY, []):
        log.info("%s fired on case %s: %s", action, number, ", ".join(timers) or "-",
                 extra={"case": number, "timers": timers, "event": f"{action}_fired",
                        "at": at.isoformat(timespec="seconds") if at else None})


def _forget(session: Session, _previous_transaction) -> None:
    session.info.pop(_KEY, None)
