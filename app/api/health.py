"""Health page: is the database reachable and migrated, what version runs, what is due."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from workflows.clock import utcnow

from ..calendar.services import calendar_status
from ..cases.models import Case, WorkflowInstance
from ..errors import BihuanError
from ..migrate import check_schema
from ..processes.services import latest_version

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    core = current_app.extensions["bihuan"]
    try:
        check_schema(core.db.engine, core.db.url)
        with core.db.read() as session:
            version = latest_version(session)
            open_cases = session.scalar(select(func.count()).select_from(WorkflowInstance)
                                        .where(WorkflowInstance.completed.is_(False)))
            due = session.scalar(select(func.count()).select_from(WorkflowInstance)
                                 .where(WorkflowInstance.next_timer_at <= utcnow()))
            cases = session.scalar(select(func.count()).select_from(Case))
            status = calendar_status(session, core.calendar.current())
    except (BihuanError, SQLAlchemyError) as exc:
        return jsonify({"status": "error", "error": str(exc).splitlines()[0]}), 503
    # Operators' monitoring sees the calendar running out before deadlines start failing.
    calendar = {key: status[key] for key in ("covered_until", "days_left", "provisional_until", "warning")}
    return jsonify({"status": "ok", "service": "bihuan 闭环", "process_version": version.version if version else None,
                    "cases": cases, "open_instances": open_cases, "due_timers": due, "calendar": calendar})
