"""调度研判专报 pages: GET /reports/weekly (every filed report), GET /reports/weekly/<YYYY-Www> (the report;
an ended week not filed yet is filed on first view, the running week is a draft), and its files
GET /reports/weekly/<YYYY-Www>/<html|docx|xlsx>."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from workflows.clock import utcnow

from ..volunteers.reports import SUMMARY as VOLUNTEER_LABELS
from ..web.access import roles_required
from .periods import local_date, parse_week, previous_week, week_of
from .weekly_store import FORMATS, MIMETYPES, list_reports, weekly_report
from .weekly_text import rate, signed, signed_rate

bp = Blueprint("weekly", __name__, template_folder="templates", url_prefix="/reports/weekly")
REPORT_ROLES = ("viewer", "dispatcher", "admin", "supervisor_center", "supervisor_discipline", "supervisor_party")


def _core():
    return current_app.extensions["bihuan"]


@bp.app_context_processor
def _formatters():
    return {"rate": rate, "signed": signed, "signed_rate": signed_rate, "volunteer_labels": VOLUNTEER_LABELS}


@bp.get("")
@roles_required(*REPORT_ROLES)
def index():
    with _core().db.read() as session:
        reports = list_reports(session)
    return render_template("reports/weekly_list.html", reports=reports, current=week_of(local_date(utcnow())).key)


@bp.get("/lookup")
@roles_required(*REPORT_ROLES)
def lookup():
    return redirect(url_for("weekly.show", week=parse_week(request.args.get("week")).key))


@bp.get("/<week>")
@roles_required(*REPORT_ROLES)
def show(week: str):
    result = weekly_report(_core(), week, actor=current_user.username)
    return render_template("reports/weekly.html", figures=result["figures"], stored=result["stored"],
                           previous=previous_week(parse_week(week)).key)


@bp.get("/<week>/<fmt>")
@roles_required(*REPORT_ROLES)
def download(week: str, fmt: str):
    if fmt not in FORMATS:
        return redirect(url_for("weekly.show", week=week))
    result = weekly_report(_core(), week, actor=current_user.username)
    content = result["files"][fmt]
    name = f"weekly-{result['period']}{'-draft' if not result['stored'] else ''}.{fmt}"
    return Response(content, mimetype=MIMETYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
