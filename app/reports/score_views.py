"""考核计分 pages: GET /scores?month=YYYY-MM (ranking), GET /scores/<month>/<department> (every point with
its case and audit row), POST /scores/<month>/close (admins freeze a month that has ended).

Handlers see their own department only, as everywhere else."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from workflows.clock import utcnow

from ..errors import NotFound
from ..org.models import Department
from ..web.access import roles_required
from .periods import local_date, month_of
from .scoring import EVENTS, close_month, closed_months, month_scores

bp = Blueprint("scores", __name__, template_folder="templates", url_prefix="/scores")
SCORE_ROLES = ("viewer", "dispatcher", "admin", "supervisor_center", "supervisor_discipline", "supervisor_party",
               "handler")


def _core():
    return current_app.extensions["bihuan"]


def _visible(rows: list[dict]) -> list[dict]:
    if current_user.has("viewer", "dispatcher", "admin", "supervisor_center", "supervisor_discipline",
                        "supervisor_party"):
        return rows
    return [r for r in rows if r["department"] == current_user.department]


@bp.get("")
@roles_required(*SCORE_ROLES)
def month():
    now = utcnow()
    key = request.args.get("month") or month_of(local_date(now)).key
    core = _core()
    with core.db.read() as session:
        ranking = month_scores(core, session, key)
        closed = closed_months(session)
    ranking["rows"] = _visible(ranking["rows"])
    ended = month_of(local_date(now)).key > ranking["month"]
    return render_template("reports/scores.html", ranking=ranking, closed=closed, events=EVENTS,
                           may_close=current_user.has("admin") and ended and not ranking["closed"])


@bp.get("/<month>/<department>")
@roles_required(*SCORE_ROLES)
def department(month: str, department: str):
    core = _core()
    with core.db.read() as session:
        if session.scalar(select(Department.id).where(Department.code == department)) is None:
            raise NotFound(_("没有这个承办部门：%(code)s", code=department))
        ranking = month_scores(core, session, month)
    rows = [r for r in _visible(ranking["rows"]) if r["department"] == department]
    if not rows:
        abort(403)
    return render_template("reports/score_department.html", ranking=ranking, row=rows[0], events=EVENTS)


@bp.post("/<month>/close")
@roles_required("admin")
def close(month: str):
    result = close_month(_core(), month, actor=current_user.username)
    flash(_("%(month)s 已结账（计分规则版本 %(version)s）", month=result["month"],
            version=result["rules_version"] or _("初始")), "success")
    return redirect(url_for("scores.month", month=result["month"]))
