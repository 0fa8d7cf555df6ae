"""网络舆情导入 /feeds/opinion: upload a monitoring service's spreadsheet, see the dry run, import."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _

from ..errors import Invalid
from ..web.access import roles_required
from .opinion import COLUMNS, MAX_BYTES, MAX_ROWS, REQUIRED, import_opinion

bp = Blueprint("feeds", __name__, url_prefix="/feeds", template_folder="templates")
IMPORT_ROLES = ("operator", "admin")


@bp.route("/opinion", methods=["GET", "POST"])
@roles_required(*IMPORT_ROLES)
def opinion():
    from flask_login import current_user
    report = error = None
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        apply = request.form.get("apply") == "1"
        if upload is None or not upload.filename:
            error, status = _("请选择要导入的 .xlsx 文件。"), 400
        else:
            content = upload.stream.read(MAX_BYTES + 1)
            try:
                report = import_opinion(current_app.extensions["bihuan"], content, user=current_user.username,
                                        apply=apply, source="web")
            except Invalid as exc:
                error, status = _("文件无法导入：%(reason)s", reason=str(exc)), 400
            else:
                if report.errors:
                    status = 400
    columns = [(words[0], key, key in REQUIRED) for key, words in COLUMNS.items()]
    return render_template("feeds/opinion.html", report=report, error=error, max_rows=MAX_ROWS,
                           max_mb=MAX_BYTES // (1024 * 1024), columns=columns), status
