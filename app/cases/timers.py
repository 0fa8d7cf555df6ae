"""The escalation sweep: fire every due timer, reading only instances whose mirror says they are due.

``next_timer_at`` is indexed, so a sweep with nothing due is one index probe (and one claim UPDATE
that matches nothing) whatever the number of open cases. Due instances are claimed in batches under
a lease (app/scheduling/claims.py) and fired with the optimistic lock, so any number of schedulers
share the work, never fire the same timer twice, and one failing case never stops the others.
"""
from __future__ import annotations

import itertools
import logging
import time
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from workflows.clock import utcnow
from workflows.engine import ScriptIncident
from workflows.workdays import CalendarGap

from ..db import batched_inserts
from ..notifications.services import claimants_read_ahead
from ..supervision.projection import items_read_ahead
from .models import Case, WorkflowInstance
from .projection import apply, take_snapshot, write_state
from .services import audit, record_incident

log = logging.getLogger(__name__)
# A sweep claims BATCH instances at a time and commits them CHUNK at a time. Small claims spread a
# burst of due timers over all schedulers; the lease only has to cover one batch (a second or two).
# Since a chunk is written in one flush, halving both (from 100 and 50) cost no throughput and cut
# the worst lateness: a timer waits less for its chunk's commit, and a killed scheduler strands
# fewer claims (bench/sweep.py: max 3.1 -> 2.6 s with 2 schedulers, 12.9 -> 10.7-11.3 s with one killed).
BATCH = 50
CHUNK = 25
_SWEEPS = itertools.count(1)


def due_timers(core, now: datetime | None = None) -> list[dict]:
    now = now or utcnow()
    with core.db.read() as session:
        rows = session.execute(
            select(Case.number, WorkflowInstance).join(Case, Case.id == WorkflowInstance.case_id)
            .where(WorkflowInstance.next_timer_at <= now).order_by(WorkflowInstance.next_timer_at)).all()
        result = []
        for number, inst in rows:
            bundle = core.bundles.get(session, inst.process_version_id)
            wf = core.engine.restore(bundle, inst.process_id, inst.state)
            for name, due in core.engine.waiting_timers(wf):
                if due <= now:
                    result.append({"case": number, "timer": name, "due": due.isoformat(timespec="seconds")})
        return result


def fire_due(core, now: datetime | None = None, shard: tuple[int, int] | None = None, *,
             owner: str | None = None, lateness: list | None = None) -> int:
    """Fire everything due at ``now``; returns the number of timers fired.

    The sweep claims small batches of due instances under a lease (app/scheduling/claims.py), so any
    number of schedulers share the work and a dead one's claims are taken over once they expire.
    What a sweep claimed stays claimed by it until it ends, so each instance is visited once per
    sweep; whatever is still due (a conflict) is released at the end and waits for the next sweep.
    ``shard`` is the retired static split, accepted and ignored. ``lateness`` (the benches) receives,
    for each fired instance, the seconds between its earliest due timer and its commit.
    """
    from ..scheduling.claims import claim, release, scheduler_id
    now = now or utcnow()
    owner = owner or scheduler_id()
    token = f"{owner}#{next(_SWEEPS)}"
    fired, started, claimed = 0, time.monotonic(), False
    try:
        while True:
            ids = claim(core, token, now, BATCH)
            if not ids:
                break
            claimed = True
            for offset in range(0, len(ids), CHUNK):
                fired += _fire_chunk(core, ids[offset:offset + CHUNK], now, lateness)
    finally:
        try:
            if claimed:  # an empty sweep wrote nothing and has nothing to give back
                release(core, token)
        except Exception:  # noqa: BLE001 - e.g. the database went away: the lease expires by itself
            log.warning("timer sweep: could not release the claims of %s; they expire with the lease", token)
    if fired:
        log.info("timer sweep (scheduler %s) fired %d timer(s) in %.2f s", owner, fired, time.monotonic() - started)
    return fired


def _fire_chunk(core, ids: list[int], now: datetime, lateness: list | None = None) -> int:
    """Fire one chunk: engine work first, outside any transaction, then one write transaction.

    Every case of the chunk commits with its state, columns, ready tasks, items and audit row
    together, in one COMMIT (one fsync on PostgreSQL, one short hold of SQLite's write lock).
    If any case changed since it was read (its version check fails), the chunk is rolled back
    and its cases are redone one per transaction, so only the changed case waits for the next
    sweep.
    """
    with core.db.read() as session:
        rows = session.execute(select(WorkflowInstance, Case).join(Case, Case.id == WorkflowInstance.case_id)
                               .where(WorkflowInstance.id.in_(ids))).all()
        bundles = {inst.process_version_id: core.bundles.get(session, inst.process_version_id) for inst, _ in rows}
    prepared, failures = [], []
    for inst, case in rows:
        if inst.next_timer_at is None or inst.next_timer_at > now:
            continue
        bundle = bundles[inst.process_version_id]
        try:
            wf = core.engine.restore(bundle, inst.process_id, inst.state)
            before = take_snapshot(core.engine, bundle, wf, with_state=False)
            reminders = core.engine.waiting_reminders(wf)
            due = core.engine.fire_due_timers(wf, now)
            after = take_snapshot(core.engine, bundle, wf)
        except (ScriptIncident, CalendarGap) as exc:
            failures.append((case.id, str(exc), getattr(exc, "bpmn_id", None)))
            continue
        except Exception as exc:  # noqa: BLE001 - one broken case must not stop the sweep
            log.exception("timer sweep failed on case %s", case.number)
            failures.append((case.id, f"{type(exc).__name__}: {exc}", None))
            continue
        # Reminders (到期预警) only tell people: they are audited as such and not counted as fired deadlines.
        deadlines = [name for name in due if name not in reminders]
        prepared.append((inst, case, before, after, due, deadlines))
    for case_id, message, bpmn_id in failures:
        record_incident(core, case_id, message, "scheduler", bpmn_id, block_timers=True)
    if not prepared:
        return 0
    # A rollback expires the objects; keep what the retry and the log need.
    prepared_ids = [inst.id for inst, *_ in prepared]
    due_ats = [inst.next_timer_at for inst, *_ in prepared]
    numbers = [case.number for _, case, *_ in prepared]
    try:
        with core.db.unit_of_work() as session:
            with session.no_autoflush:
                for inst, case, before, after, due, _deadlines in prepared:
                    session.add_all([case, inst])  # re-attach as read: no SELECT, version-checked UPDATE
                    write_state(inst, after, now)
                    if inst.next_timer_at is None or inst.next_timer_at > now:
                        # Done for this sweep: the claim goes with the commit (a kill -9 after it
                        # leaves no stale claim). One still due keeps it until the sweep's release.
                        inst.claimed_by = inst.claim_expires_at = None
                # Every version check of the chunk first, before any other write (see projection.apply),
                # in primary-key order (the unit of work sorts them), so two overlapping sweeps lock the
                # instances in the same order and cannot deadlock. apply then finds them written already.
                session.flush([inst for inst, *_ in prepared])
                # What every case's projection reads of its supervision items and claimed tasks is
                # read once for the chunk, now that no other writer can change these cases, and the
                # chunk's notifications are written by one INSERT: a round trip per case each, else.
                case_ids = [case.id for _, case, *_ in prepared]
                with (items_read_ahead(session, case_ids), claimants_read_ahead(session, case_ids),
                      batched_inserts(session)):
                    for inst, case, before, after, due, deadlines in prepared:
                        changes = apply(session, case, inst, before, after, now)
                        audit(session, actor="scheduler", action="timer" if deadlines or not due else "reminder",
                              case=case, source="scheduler", changes={"timers": due, "columns": changes}, at=now)
        if lateness is not None:
            committed = utcnow()
            lateness.extend((committed - due_at).total_seconds() for due_at in due_ats)
        return sum(len(deadlines) for *_, deadlines in prepared)
    except (StaleDataError, IntegrityError) as exc:
        # A case changed since it was read (a user's action or another scheduler got there first):
        # its version check fails. The check is each case's first write (projection.apply), but a
        # row that collides with a concurrent writer's (IntegrityError) is treated the same way.
        if len(prepared) == 1:
            # Still due if still waiting: the next sweep reads it afresh and retries.
            if isinstance(exc, IntegrityError):  # say which row, in case it is not a race but a bug
                log.warning("timer sweep: case %s: %s; retried next sweep", numbers[0],
                            str(exc.orig).splitlines()[0])
            else:
                log.info("timer sweep: case %s changed meanwhile; retried next sweep", numbers[0])
            return 0
        return sum(_fire_chunk(core, [inst_id], now, lateness) for inst_id in prepared_ids)
