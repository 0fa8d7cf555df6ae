"""What-if runs: stored results, one background worker per run, and the rules around them.

* ``start`` inserts a queued run and hands it to a worker thread. The row's ``active_key`` is the
  request's key and UNIQUE while the run is queued or running, so when two designers start the same
  replay at once the second insert fails and the second designer is given the first run (no double
  work). A finished run of the same draft revision + request is reused as it is (instant) unless
  ``fresh`` (the 重新分析 button).
* The worker (``execute``) runs ``whatif.run`` with the budget ``BIHUAN_WHATIF_BUDGET_SECONDS``
  (default 300): past it, the result is kept and marked ``partial``. Every batch touches
  ``heartbeat``; a run left ``running`` with no heartbeat for ``STALE_HEARTBEAT`` (the process died)
  is shown ``failed`` and no longer blocks a new start.
* ``mark_stale`` (a draft save, import, discard or deploy) marks the stored results of the draft
  ``stale``: they answer for files that no longer exist.

Each write is one short transaction; the replay itself reads in its own short batches.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from workflows.clock import utcnow

from ..errors import Invalid, NotFound
from . import whatif
from .models import WhatifRun
from .problem_text import tr as _

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")
FINISHED = ("done", "partial")
STALE_HEARTBEAT = timedelta(minutes=2)
DEFAULT_BUDGET = 300.0


def budget_seconds() -> float:
    raw = os.environ.get("BIHUAN_WHATIF_BUDGET_SECONDS", "")
    try:
        value = float(raw) if raw else DEFAULT_BUDGET
    except ValueError:
        value = DEFAULT_BUDGET
    return value if value > 0 else DEFAULT_BUDGET


def request_key(request: whatif.Request, revision: int, draft_hash: str) -> str:
    body = json.dumps({"r": request.as_dict(), "rev": revision, "hash": draft_hash}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def effective_status(run: WhatifRun, now=None) -> str:
    """``failed`` for a running run whose worker stopped beating; the stored status otherwise."""
    now = now or utcnow()
    if run.status in ACTIVE:
        beat = run.heartbeat or run.created_at
        if beat is not None and now - beat > STALE_HEARTBEAT:
            return "failed"
    return run.status


def as_dict(run: WhatifRun) -> dict:
    status = effective_status(run)
    return {"id": run.id, "status": status, "draft_revision": run.draft_revision, "from": run.range_from,
            "to": run.range_to, "filters": run.filters or {}, "total": run.total, "processed": run.processed,
            "percent": int(100 * run.processed / run.total) if run.total else (100 if status in FINISHED else 0),
            "started_by": run.started_by, "created_at": run.created_at, "finished_at": run.finished_at,
            "error": run.error if status != "failed" or run.error else _("分析进程已中断（2 分钟无心跳），请重新分析。"),
            "result": run.result}


def get(core, run_id: int) -> WhatifRun:
    with core.db.read() as session:
        run = session.get(WhatifRun, int(run_id))
        if run is None:
            raise NotFound(_("影响分析 %(id)s 不存在。", id=run_id))
        session.expunge(run)
        return run


def latest_for_draft(core) -> WhatifRun | None:
    with core.db.read() as session:
        run = session.scalars(select(WhatifRun).where(WhatifRun.process_key == "draft")
                              .order_by(WhatifRun.id.desc()).limit(1)).first()
        if run is not None:
            session.expunge(run)
        return run


def start(core, request: whatif.Request, *, actor: str, fresh: bool = False, background: bool = True) -> WhatifRun:
    """The run answering ``request`` for the current draft: a finished one of the same revision (unless
    ``fresh``), the active one, or a new one started in a worker thread. DraftInvalid when the draft
    does not validate (checked before anything is stored)."""
    with core.db.read() as session:
        _deployed, _proposed, info = whatif.bundles(core, session)
    key = request_key(request, info["draft_revision"], info["draft_hash"])
    now = utcnow()
    with core.db.unit_of_work() as session:
        for run in session.scalars(select(WhatifRun).where(WhatifRun.active_key == key)):
            if effective_status(run, now) == "failed":  # its worker died: free the key
                run.status, run.active_key, run.finished_at = "failed", None, now
                run.error = run.error or "no heartbeat"
        if not fresh:
            done = session.scalars(select(WhatifRun).where(WhatifRun.request_key == key,
                                                           WhatifRun.status.in_(FINISHED))
                                   .order_by(WhatifRun.id.desc()).limit(1)).first()
            if done is not None:
                session.expunge(done)
                return done
    try:
        with core.db.unit_of_work() as session:
            run = WhatifRun(process_key="draft", draft_revision=info["draft_revision"], draft_hash=info["draft_hash"],
                            range_from=request.start.isoformat(), range_to=request.end.isoformat(),
                            filters={k: v for k, v in request.as_dict().items() if k not in ("start", "end") and v},
                            request_key=key, active_key=key, status="queued", total=0, processed=0,
                            started_by=actor or "", created_at=now, heartbeat=now)
            session.add(run)
            session.flush()
            run_id = run.id
    except IntegrityError:
        # Another designer started the same replay a moment ago: show theirs.
        with core.db.read() as session:
            run = session.scalars(select(WhatifRun).where(WhatifRun.active_key == key)).first()
            if run is None:  # it finished in between
                run = session.scalars(select(WhatifRun).where(WhatifRun.request_key == key)
                                      .order_by(WhatifRun.id.desc()).limit(1)).first()
            session.expunge(run)
            return run
    if background:
        threading.Thread(target=execute, args=(core, run_id, request), name=f"whatif-{run_id}", daemon=True).start()
    else:
        execute(core, run_id, request)
    return get(core, run_id)


def _update(core, run_id: int, **values) -> None:
    with core.db.unit_of_work() as session:
        session.execute(update(WhatifRun).where(WhatifRun.id == run_id).values(**values))


def execute(core, run_id: int, request: whatif.Request) -> None:
    """The worker: run the replay, beat per batch, store the result (never raises)."""
    with core.db.unit_of_work() as session:  # only a queued run starts (a save may have made it stale)
        session.execute(update(WhatifRun).where(WhatifRun.id == run_id, WhatifRun.status == "queued")
                        .values(status="running", started_at=utcnow(), heartbeat=utcnow()))

    def progress(processed: int, total: int) -> None:
        _update(core, run_id, processed=processed, total=total, heartbeat=utcnow())

    try:
        result = whatif.run(core, request, budget=budget_seconds(), progress=progress)
    except Exception as exc:  # noqa: BLE001 - stored and shown; a worker must never die silently
        log.exception("what-if run %s failed", run_id)
        _update(core, run_id, status="failed", active_key=None, finished_at=utcnow(), error=str(exc)[:2000])
        return
    with core.db.unit_of_work() as session:
        run = session.get(WhatifRun, run_id)
        # A save while the run was going: the result answers for an older revision.
        still_current = run.status != "stale"
        run.status = result["status"] if still_current else "stale"
        run.result, run.total, run.processed = result, result["total"], result["processed"]
        run.active_key, run.finished_at, run.heartbeat = None, utcnow(), utcnow()


def mark_stale(session, revision: int | None = None) -> int:
    """In the caller's unit of work (a draft save, import, discard or deploy): every stored run of the
    draft older than ``revision`` (all when None) becomes ``stale``."""
    query = update(WhatifRun).where(WhatifRun.process_key == "draft", WhatifRun.status.in_(FINISHED + ACTIVE))
    if revision is not None:
        query = query.where(WhatifRun.draft_revision < revision)
    return session.execute(query.values(status="stale", active_key=None)).rowcount or 0


def evidence(session, revision: int) -> WhatifRun | None:
    """The last non-stale finished run of this draft revision: what a deploy stores as its evidence."""
    return session.scalars(select(WhatifRun).where(WhatifRun.process_key == "draft",
                                                   WhatifRun.draft_revision == revision,
                                                   WhatifRun.status.in_(FINISHED))
                           .order_by(WhatifRun.id.desc()).limit(1)).first()


def require_run(run_id) -> int:
    raw = str(run_id or "").strip()
    if not raw.isdigit() or len(raw) > 12:
        raise Invalid(_("影响分析编号无效。"))
    return int(raw)
