"""组织架构 /org (the tree and the 1+1+N teams, import/export; admin) and 网格地图 /map.

The map is for those who see every case (leaders, the center, the supervisors, admins): it shows
counts for every grid and, on a click, a grid's open cases.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..calendar.services import iso_day
from ..errors import Invalid
from ..web.access import roles_required
from . import map as grid_map
from . import edits, services
from .exchange import ImportRejected, MAX_FILE_BYTES
from .models import LEVEL_LABELS, LEVELS, TEAM_ROLE_LABELS

bp = Blueprint("org", __name__, template_folder="templates")

MAP_ROLES = ("viewer", "admin", "dispatcher", "supervisor_center", "supervisor_discipline", "supervisor_party")
METRIC_LABELS = {"open": "在办案件", "overdue": "超期案件", "reports": "每百户上报"}
MAX_RANGE_DAYS = 5 * 366


def _core():
    return current_app.extensions["bihuan"]


def _page(*, result=None, errors=None, node: str | None = None, edit: dict | None = None, status: int = 200):
    """The tree page; with ``node`` (?node=CODE) its edit panel, with ``edit`` a refused edit's
    form values and its errors at their fields."""
    with _core().db.read() as session:
        data = services.tree(session)
    selected = next((n for n in data["nodes"] if n["code"] == node), None) if node else None
    parents = []
    if selected and selected["level"] != LEVELS[0]:
        above = LEVELS[LEVELS.index(selected["level"]) - 1]
        parents = [n for n in data["nodes"] if n["level"] == above]
    return render_template("org/index.html", d=data, levels=LEVEL_LABELS, team_roles=TEAM_ROLE_LABELS,
                           result=result, errors=errors, selected=selected, parents=parents,
                           child_level=(LEVELS[LEVELS.index(selected["level"]) + 1]
                                        if selected and selected["level"] != LEVELS[-1] else None),
                           edit=edit or {}), status


@bp.get("/org")
@roles_required("admin")
def index():
    node = request.args.get("node") or None
    return _page(node=node[:50] if node else None)


def _form_errors(exc: Invalid) -> dict:
    errors: dict[str, str] = {}
    for name, message in exc.fields:
        errors.setdefault(name, message)
    return errors or {"_form": str(exc)}


def _edit(form: str, code: str, action, values: dict, done: str):
    """Run one tree edit; refused, the page again with the node's panel, what was typed and the errors."""
    try:
        with _core().db.unit_of_work() as session:
            action(session)
    except Invalid as exc:
        return _page(node=code, edit={"form": form, "values": values, "errors": _form_errors(exc)}, status=400)
    flash(done, "success")
    return redirect(url_for("org.index", node=code, _anchor="org-edit"), 303)


def _field(name: str, limit: int = 200) -> str:
    # Cut so an oversized post fails the length rule instead of reaching the database.
    return (request.form.get(name) or "")[:limit]


@bp.post("/org/nodes")
@roles_required("admin")
def add_node():
    values = {"parent": _field("parent", 100).strip(), "code": _field("code", 100).strip(), "name": _field("name")}
    return _edit("add", values["parent"], lambda session: edits.add_child(
        session, current_user.username, source="web", **values), values,
        _("已添加 %(name)s（%(code)s）。", name=values["name"].strip(), code=values["code"]))


@bp.post("/org/nodes/<code>/rename")
@roles_required("admin")
def rename_node(code: str):
    values = {"name": _field("name")}
    return _edit("rename", code, lambda session: edits.rename(session, current_user.username, code, values["name"]),
                 values, _("已更名为 %(name)s。", name=values["name"].strip()))


@bp.post("/org/nodes/<code>/move")
@roles_required("admin")
def move_node(code: str):
    values = {"parent": _field("parent", 100)}
    return _edit("move", code, lambda session: edits.move(session, current_user.username, code, values["parent"]),
                 values, _("已移到 %(parent)s 之下。", parent=values["parent"].strip()))


@bp.post("/org/nodes/<code>/counts")
@roles_required("admin")
def node_counts(code: str):
    values = {"households": _field("households", 40), "residents": _field("residents", 40)}
    return _edit("counts", code, lambda session: edits.set_counts(
        session, current_user.username, code, values["households"], values["residents"]), values,
        _("已更新户数和人口。"))


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
    return _page(result=result, errors=errors, status=status)


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
