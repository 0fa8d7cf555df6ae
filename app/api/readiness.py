"""/readyz: may this instance take traffic? The database answers, its schema is at the migrations'
head, and some scheduler swept recently (else timers silently stop firing). 200 or 503 with the
failing checks; /healthz (alive) is the other probe."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from workflows.clock import utcnow

from ..errors import BihuanError
from ..migrate import check_schema
from ..scheduling.heartbeat import latest_beat, max_age_seconds

bp = Blueprint("readiness", __name__)


def readiness(core) -> tuple[bool, dict]:
    checks: dict[str, dict] = {}
    try:
        with core.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except SQLAlchemyError as exc:
        checks["database"] = {"ok": False, "error": str(exc).splitlines()[0]}
        return False, checks
    try:
        check_schema(core.db.engine, core.db.url)
        checks["migrations"] = {"ok": True}
    except (BihuanError, SQLAlchemyError) as exc:
        checks["migrations"] = {"ok": False, "error": str(exc).splitlines()[0]}
        return False, checks
    limit = max_age_seconds()
    try:
        with core.db.read() as session:
            last = latest_beat(session)
    except SQLAlchemyError as exc:
        checks["scheduler"] = {"ok": False, "error": str(exc).splitlines()[0]}
        return False, checks
    if last is None:
        checks["scheduler"] = {"ok": False, "error": "no scheduler has swept yet"}
    else:
        age = (utcnow() - last).total_seconds()
        checks["scheduler"] = {"ok": age <= limit, "last_sweep_at": last.isoformat(timespec="seconds"),
                               "age_seconds": round(age, 1), "max_age_seconds": limit}
        if age > limit:
            checks["scheduler"]["error"] = f"the last scheduler heartbeat is {age:.0f} s old (limit {limit:.0f} s)"
    return all(c["ok"] for c in checks.values()), checks


@bp.get("/readyz")
def readyz():
    ready, checks = readiness(current_app.extensions["bihuan"])
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503
