"""网格巡查 pages: the grid worker's phone-sized patrol log (/patrol), a patrol's page with the 督查组's
spot check, the 督查组's overview of every grid's patrols per day, and the monthly ranking.

Reports are filed on the 网格上报 page (/intake/patrol); while a patrol is open they are linked to it
(app/patrol/services.py ``link_reports``) and the worker comes back here.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from workflows.clock import utcnow

from ..calendar.services import iso_day
from ..errors import BihuanError, Invalid
from ..reports.periods import local_date, month_of
from ..web.access import roles_required
from . import services
from .assessment import EVENTS, grid_scores, month_figures
from .services import COUNTS, OVERSIGHT_ROLES, RESULTS, WORKER_ROLE

bp = Blueprint("patrol", __name__, url_prefix="/patrol", template_folder="templates")


def _core():
    return current_app.extensions["bihuan"]


def open_patrol_id() -> int | None:
    """The logged-in grid worker's open patrol, for the 网格上报 page's note that the report will be linked."""
    if not current_user.is_authenticated or not current_user.has(WORKER_ROLE):
        return None
    with _core().db.read() as session:
        patrol = services.open_patrol(session, current_user.username)
        return patrol.id if patrol else None


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals.update(open_patrol_id=open_patrol_id)


def _log_page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    core = _core()
    today = local_date(utcnow())
    with core.db.read() as session:
        current = services.open_patrol(session, current_user.username)
        log = services.worker_log(session, current_user.username)
        mine = month_figures(session, month_of(today)).get(current_user.username)
    current_dict = next((p for p in log if current and p["id"] == current.id), None)
    return render_template("patrol/log.html", current=current_dict, log=log, counts=COUNTS, errors=errors or {},
                           values=values or {}, month=mine, events=EVENTS, results=RESULTS,
                           grid=current_user.grid), status


def _refused(exc: BihuanError, values: dict | None = None):
    errors = {field: str(exc) for field, _reason in getattr(exc, "fields", [])} or {"": str(exc)}
    return _log_page(errors, values, exc.http_status)


@bp.get("")
@roles_required(WORKER_ROLE)
def log():
    return _log_page()


@bp.post("/start")
@roles_required(WORKER_ROLE)
def start():
    try:
        services.start_patrol(_core(), current_user.username)
    except BihuanError as exc:
        return _refused(exc)
    flash(_("巡查已开始"), "success")
    return redirect(url_for("patrol.log"))


@bp.post("/<int:patrol_id>/visit")
@roles_required(WORKER_ROLE)
def visit(patrol_id: int):
    try:
        services.add_visit(_core(), patrol_id, current_user.username)
    except BihuanError as exc:
        return _refused(exc)
    return redirect(url_for("patrol.log"))


@bp.post("/<int:patrol_id>/finish")
@roles_required(WORKER_ROLE)
def finish(patrol_id: int):
    counts = {field: request.form.get(field, "") for field in COUNTS}
    note = request.form.get("note", "")
    try:
        services.finish_patrol(_core(), patrol_id, current_user.username, counts, note)
    except BihuanError as exc:
        return _refused(exc, dict(counts, note=note))
    flash(_("巡查已结束"), "success")
    return redirect(url_for("patrol.log"))


@bp.get("/<int:patrol_id>")
@roles_required(WORKER_ROLE, *OVERSIGHT_ROLES)
def detail(patrol_id: int):
    with _core().db.read() as session:
        patrol = services.patrol_detail(session, patrol_id, current_user)
    return render_template("patrol/detail.html", patrol=patrol, counts=COUNTS, results=RESULTS, errors={},
                           values={}, may_check=current_user.has("inspector") and not patrol.get("spot_check")
                           and patrol["finished_at"] is not None)


@bp.post("/<int:patrol_id>/check")
@roles_required("inspector")
def check(patrol_id: int):
    result, note = request.form.get("result", ""), request.form.get("note", "")
    try:
        services.record_spot_check(_core(), patrol_id, current_user.username, result, note)
    except BihuanError as exc:
        with _core().db.read() as session:
            patrol = services.patrol_detail(session, patrol_id, current_user)
        errors = {field: str(exc) for field, _reason in getattr(exc, "fields", [])} or {"": str(exc)}
        return render_template("patrol/detail.html", patrol=patrol, counts=COUNTS, results=RESULTS, errors=errors,
                               values={"result": result, "note": note},
                               may_check=not patrol.get("spot_check") and patrol["finished_at"] is not None
                               ), exc.http_status
    flash(_("抽查结果已记录"), "success")
    return redirect(url_for("patrol.detail", patrol_id=patrol_id))


def _page() -> int:
    text = request.args.get("page") or "1"
    if not text.isdigit() or len(text) > 6:
        raise Invalid(_("页码应为正整数"))
    return int(text)


@bp.get("/overview")
@roles_required(*OVERSIGHT_ROLES)
def overview():
    first, last = services.parse_range(request.args.get("from"), request.args.get("to"))
    grid = (request.args.get("grid") or "").strip() or None
    day_text = request.args.get("day")
    with _core().db.read() as session:
        data = services.overview(session, first, last, grid=grid, page=_page())
        patrols = []
        if grid and day_text:
            try:
                day = iso_day(day_text)
            except ValueError:
                raise Invalid(_("日期格式应为 YYYY-MM-DD")) from None
            patrols = services.patrols_of(session, grid, day)
    return render_template("patrol/overview.html", data=data, grid=grid, day=day_text, patrols=patrols,
                           results=RESULTS)


@bp.get("/ranking")
@roles_required(*OVERSIGHT_ROLES)
def ranking():
    key = request.args.get("month") or month_of(local_date(utcnow())).key
    core = _core()
    with core.db.read() as session:
        data = grid_scores(core, session, key)
    return render_template("patrol/ranking.html", ranking=data, events=EVENTS)
