"""/admin/access-log: who saw whose personal data (admins only)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from ..web.access import roles_required
from .services import personal_data_reads

bp = Blueprint("audit", __name__, url_prefix="/admin", template_folder="templates")


@bp.get("/access-log")
@roles_required("admin")
def access_log():
    actor = (request.args.get("actor") or "").strip()[:50] or None
    number = (request.args.get("case") or "").strip()[:30] or None
    raw_before = request.args.get("before") or ""
    before = int(raw_before) if raw_before.isascii() and raw_before.isdigit() and len(raw_before) <= 12 else None
    with current_app.extensions["bihuan"].db.read() as session:
        page = personal_data_reads(session, actor=actor, number=number, before_id=before)
    return render_template("audit/access_log.html", page=page, actor=actor or "", number=number or "")
