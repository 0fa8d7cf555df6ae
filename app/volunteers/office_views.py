"""The office's editing pages at /volunteers: organisers' communities, the federation, a team's page
(rename, deactivate, leader, federation), and issuing a volunteer's password reset code.

Registered on the /volunteers blueprint (views.py). Every form posts with its CSRF token; who may do what
is decided in office.py and password_reset.py.
"""
from __future__ import annotations

import base64

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from ..documents.facts import qr_png
from ..errors import BihuanError, NotFound
from ..web.access import roles_required
from . import office, password_reset
from .accounts import COMMUNITIES, present
from .models import Volunteer
from .views import STAFF, _act, _core, _staff, bp


def _int(value) -> int | None:
    return int(value) if value and str(value).isdigit() else None


@bp.get("/organisers")
@roles_required("volunteer_admin")
def organisers():
    with _core().db.read() as db:
        rows = office.organiser_scopes(db)
    return render_template("volunteers/organisers.html", rows=rows, communities=COMMUNITIES)


@bp.post("/organisers/<int:user_id>")
@roles_required("volunteer_admin")
def organiser_scope(user_id: int):
    def work():
        with _core().db.unit_of_work() as db:
            office.set_organiser_scope(db, _staff(), user_id, request.form.get("community", ""))
    return _act(work, _("组织者的服务社区已保存。"), url_for("volunteers.organisers"))


@bp.post("/federation")
@roles_required("volunteer_admin")
def federation_save():
    def work():
        with _core().db.unit_of_work() as db:
            office.save_federation(db, _staff(), request.form.get("name", ""))
    return _act(work, _("联合会已保存。"), url_for("volunteers.teams"))


@bp.get("/teams/<int:team_id>")
@roles_required(*STAFF)
def team(team_id: int):
    staff = _staff()
    with _core().db.read() as db:
        row = office.get_team(db, team_id)
        staff.require(row.community)
        people = [present(v, staff) for v in office.members(db, team_id)]
        federation = office.federation(db)
        leader = next((p for p in people if p["id"] == row.leader_id), None)
    return render_template("volunteers/team.html", team=row, people=people, leader=leader, federation=federation,
                           staff=staff)


_TEAM_EDITS = {
    "rename": (lambda db, staff, team_id, form: office.rename_team(db, staff, team_id, form.get("name", ""))),
    "active": (lambda db, staff, team_id, form: office.set_team_active(db, staff, team_id, form.get("active") == "1")),
    "leader": (lambda db, staff, team_id, form: office.set_team_leader(db, staff, team_id, _int(form.get("leader_id")))),
    "federation": (lambda db, staff, team_id, form: office.set_team_federation(db, staff, team_id,
                                                                              form.get("attached") == "1")),
}


@bp.post("/teams/<int:team_id>/<edit>")
@roles_required("volunteer_admin")
def team_edit(team_id: int, edit: str):
    change = _TEAM_EDITS.get(edit)
    if change is None:
        raise NotFound(_("没有这项修改"))

    def work():
        with _core().db.unit_of_work() as db:
            change(db, _staff(), team_id, request.form)
    return _act(work, _("服务队已保存。"), url_for("volunteers.team", team_id=team_id))


@bp.post("/people/<int:volunteer_id>/reset")
@roles_required(*STAFF)
def reset_issue(volunteer_id: int):
    """Issue a reset code and show it once, with its link as a QR code for the volunteer's phone."""
    try:
        with _core().db.unit_of_work() as db:
            issued = password_reset.issue(db, _staff(), volunteer_id)
            shown = present(db.get(Volunteer, volunteer_id), _staff())
    except BihuanError as exc:
        flash(str(exc), "error")
        return redirect(url_for("volunteers.person", volunteer_id=volunteer_id))
    path = url_for("vol.reset", c=issued.code)
    base = current_app.config.get("PUBLIC_BASE_URL")
    link = f"{str(base).rstrip('/')}{path}" if base else request.host_url.rstrip("/") + path
    image = base64.b64encode(qr_png(link)).decode()
    response = current_app.make_response(render_template(
        "volunteers/reset_issued.html", v=shown, code=issued.code, link=link, image=image,
        expires=issued.expires_at, issued_by=current_user.username))
    response.headers["Cache-Control"] = "no-store"  # the code is shown once; no cached copy of it
    return response

