"""组织架构 /org (the tree and the 1+1+N teams, import/export; admin) and 网格地图 /map.

The map is for those who see every case (leaders, the center, the supervisors, admins): it shows
counts for every grid and, on a click, a grid's open cases.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..calendar.services import iso_day
from ..errors import Invalid
from ..web.access import roles_required
from . import map as grid_map
from . import services
from .exchange import ImportRejected, MAX_FILE_BYTES
from .models import LEVEL_LABELS, TEAM_ROLE_LABELS

bp = Blueprint("org", __name__, template_folder="templates")

MAP_ROLES = ("viewer", "admin", "dispatcher", "supervisor_center", "supervisor_discipline", "supervisor_party")
METRIC_LABELS = {"open": "在办案件", "overdue": "超期案件", "reports": "每百户上报"}
MAX_RANGE_DAYS = 5 * 366


def _core():
    return current_app.extensions["bihuan"]


@bp.get("/org")
@roles_required("admin")
def index():
    with _core().db.read() as session:
        data = services.tree(session)
    return render_template("org/index.html", d=data, levels=LEVEL_LABELS, team_roles=TEAM_ROLE_LABELS,
                           result=None, errors=None)


@bp.get("/org/export.xlsx")
@roles_required("admin")
def export():
    content = services.export_xlsx(_core())
    stamp = utcnow().astimezone(SHANGHAI).strftime("%Y%m%d")
    return Response(content, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="org-{stamp}.xlsx"'})


@bp.post("/org/import")
@roles_required("admin")
def import_():
    upload = request.files.get("file")
    apply = request.form.get("apply") == "1"
    result = errors = None
    status = 200
    if upload is None or not upload.filename:
        errors = [{"sheet": "", "row": None, "reason": _("请选择要导入的 .xlsx 文件。")}]
        status = 400
    else:
        content = upload.read(MAX_FILE_BYTES + 1)
        try:
            result = services.import_xlsx(_core(), content, actor=current_user.username, apply=apply)
        except ImportRejected as exc:
            errors, status = exc.errors, 400
    with _core().db.read() as session:
        data = services.tree(session)
    return render_template("org/index.html", d=data, levels=LEVEL_LABELS, team_roles=TEAM_ROLE_LABELS,
                           result=result, errors=errors), status


def _range() -> tuple[date, date]:
    """?from=&to= (Shanghai days), default the last 30 days."""
    today = utcnow().astimezone(SHANGHAI).date()
    try:
        end = iso_day(request.args.get("to") or today.isoformat())
        start = iso_day(request.args.get("from") or (end - timedelta(days=29)).isoformat())
    except ValueError:
        raise Invalid(_("日期格式应为 YYYY-MM-DD"), fields=[("from", "YYYY-MM-DD")]) from None
    if start > end:
        raise Invalid(_("开始日期晚于结束日期"), fields=[("from", "after to")])
    if (end - start).days > MAX_RANGE_DAYS:
        raise Invalid(_("日期范围不能超过 5 年"), fields=[("from", "range too long")])
    return start, end


def _metric() -> str:
    metric = request.args.get("metric") or "open"
    if metric not in grid_map.METRICS:
        raise Invalid(_("未知的指标：%(metric)s", metric=metric[:40]), fields=[("metric", "unknown")])
    return metric


@bp.get("/map")
@roles_required(*MAP_ROLES)
def map_page():
    metric, (start, end) = _metric(), _range()
    now = utcnow()
    with _core().db.read() as session:
        shapes = grid_map.grid_shapes(session)
        values = grid_map.figures(session, metric, [s["code"] for s in shapes], now, start, end,
                                  {s["code"]: s["households"] for s in shapes})
    data = {"grids": [{"code": s["code"], "name": s["name"], "community": s["community"],
                       "households": s["households"], "value": values.get(s["code"], 0)} for s in shapes],
            "metric": metric, "metric_label": _(METRIC_LABELS[metric]),
            "labels": {"households": _("户数"), "community": _("社区")}}
    return render_template("org/map.html", data=data, geojson=Markup(grid_map.feature_collection(shapes)),
                           metric=metric, metrics=METRIC_LABELS, start=start, end=end)


@bp.get("/map/grids/<code>")
@roles_required(*MAP_ROLES)
def grid_panel(code: str):
    start, end = _range()
    if len(code) > 50 or not code.isprintable():  # a NUL byte would be a database error on PostgreSQL
        abort(404)
    with _core().db.read() as session:
        detail = grid_map.grid_detail(session, code, utcnow(), start, end)
    if detail is None:
        abort(404)
    from ..patrol.services import OVERSIGHT_ROLES  # the patrol domain imports this one's models
    return render_template("org/_grid_panel.html", g=detail, team_roles=TEAM_ROLE_LABELS,
                           may_see_patrols=current_user.has(*OVERSIGHT_ROLES))
