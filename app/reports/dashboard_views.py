"""领导驾驶舱 /dashboard and the diagram heatmap (/dashboard/heatmap...).

Who: the leaders (viewer), the center (dispatcher), the supervisors and admins see everything
here; the designer sees the heatmap of a version. The pages only read.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..calendar.services import iso_day
from ..cases.models import CHANNELS, STATUSES
from ..processes.models import ProcessVersion
from ..supervision.models import TIERS
from ..volunteers.reports import SUMMARY as VOLUNTEER_FIGURES
from ..web.terms import in_english, translate_bpmn_names
from .dashboard import chart_data, dashboard
from .heatmap import cases_at, mean_dwell, open_now

bp = Blueprint("dashboard", __name__, template_folder="templates", url_prefix="/dashboard")

DASHBOARD_ROLES = ("viewer", "admin", "dispatcher", "supervisor_center", "supervisor_discipline", "supervisor_party")
HEATMAP_ROLES = DASHBOARD_ROLES + ("designer",)
DIAGRAMS = {"lifecycle": "case_lifecycle.bpmn", "supervision": "supervision_escalation.bpmn"}
MAX_RANGE_DAYS = 5 * 366


def _core():
    return current_app.extensions["bihuan"]


def _require(roles) -> None:
    if not current_user.has(*roles):
        abort(403)


@bp.get("")
@login_required
def index():
    _require(DASHBOARD_ROLES)
    now = utcnow()
    with _core().db.read() as session:
        data = dashboard(session, now)
        latest = session.scalar(select(ProcessVersion.version).order_by(ProcessVersion.version.desc()))
    trend, channels = chart_data(data)
    return render_template("reports/dashboard.html", d=data, channels=CHANNELS, tiers=TIERS, latest=latest,
                           chart_trend=trend, chart_channels=channels, volunteer_figures=VOLUNTEER_FIGURES)


def _range() -> tuple[date, date] | tuple[None, str]:
    """?from=&to= (Shanghai days), default the last 30 days; returns (None, message) when bad."""
    today = utcnow().astimezone(SHANGHAI).date()
    try:
        end = iso_day(request.args.get("to") or today.isoformat())
        start = iso_day(request.args.get("from") or (end - timedelta(days=29)).isoformat())
    except ValueError:
        return None, _("日期格式应为 YYYY-MM-DD")
    if start > end:
        return None, _("开始日期晚于结束日期")
    if (end - start).days > MAX_RANGE_DAYS:
        return None, _("日期范围不能超过 5 年")
    return start, end


def _version(number: int | None):
    with _core().db.read() as session:
        query = select(ProcessVersion)
        query = query.where(ProcessVersion.version == number) if number else query.order_by(
            ProcessVersion.version.desc())
        version = session.scalars(query.limit(1)).first()
    if version is None:
        abort(404)
    return version


@bp.get("/heatmap")
@bp.get("/heatmap/<int:number>")
@login_required
def heatmap_page(number: int | None = None):
    """The heatmap on a version's diagrams, full page (linked from 流程管理's version list)."""
    _require(HEATMAP_ROLES)
    version = _version(number)
    start, end = _range()
    error = end if start is None else None
    if start is None:
        today = utcnow().astimezone(SHANGHAI).date()
        start, end = today - timedelta(days=29), today
    return render_template("reports/heatmap.html", version=version.version, start=start, end=end, error=error), (
        400 if error else 200)


def _scope(version) -> int | None:
    """?all=1 (the dashboard): every open case, whatever its version (None); otherwise (流程管理's
    version page) the cases running on ``version`` (its id). Dwell times are per node id, across versions."""
    if request.args.get("all") == "1" or version is None:
        return None
    return version.id


@bp.get("/heatmap/<int:number>/data")
@login_required
def heatmap_data(number: int):
    """The diagrams' XML and, per node: open cases now and mean dwell (hours) over ?from..to."""
    _require(HEATMAP_ROLES)
    version = _version(number)
    start, end = _range()
    if start is None:
        return jsonify({"error": end}), 400
    with _core().db.read() as session:
        counts = open_now(session, _scope(version))
        dwell = mean_dwell(session, start, end)
        # The diagram's labels as the case page's diagram shows them: in English the version's own
        # translations (the designer's 标签翻译), then the catalog, else as written.
        translations = _core().bundles.get(session, version.id).labels if in_english() else None
    nodes = {}
    for bpmn_id in set(counts) | set(dwell):
        nodes[bpmn_id] = {"open": counts.get(bpmn_id, 0), **dwell.get(bpmn_id, {"exits": 0, "hours": None})}
    return jsonify({"version": version.version, "from": start.isoformat(), "to": end.isoformat(),
                    "diagrams": {k: translate_bpmn_names(version.files.get(f), translations) for k, f in DIAGRAMS.items()},
                    "nodes": nodes})


@bp.get("/heatmap/cases")
@login_required
def heatmap_cases():
    """The cases at one node now (clicking a node)."""
    _require(HEATMAP_ROLES)
    node = (request.args.get("node") or "").strip()
    if not node or len(node) > 100:
        return jsonify({"error": _("缺少节点")}), 400
    number = request.args.get("version", type=int)
    with _core().db.read() as session:
        rows = cases_at(session, _scope(_version(number) if number else None), node)
    return jsonify({"node": node, "cases": [
        {**r, "status": _(STATUSES.get(r["status"], r["status"])),
         "deadline": r["deadline"].isoformat() if r["deadline"] else None,
         "since": r["since"].isoformat() if r["since"] else None, "url": f"/cases/{r['number']}"} for r in rows]})
