"""Serving attachments, and what the intake and task pages need to take them in.

    GET /attachments/<id>          the file (inline for images and PDF), to whoever may see its case
    GET /attachments/<id>/thumb    its thumbnail

Pages include ``attachments/_macros.html``: ``upload_field()`` for the form, ``attachment_list(files)``
for a case's files, which the templates get from ``case_attachments(case_id)``.
"""
from __future__ import annotations

from urllib.parse import quote

from dataclasses import asdict

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeSerializer

from ..errors import Invalid
from .models import STAGES
from .services import Location, Prepared, Upload, attachment_service, case_attachments

bp = Blueprint("attachments", __name__, url_prefix="/attachments", template_folder="templates")
FIELD = "attachments"
INLINE = ("image/", "application/pdf")
# The task forms that take files with their completion: the department's reply, the center's
# verification, and each supervision tier's record.
UPLOAD_TASKS = frozenset({"handle", "verify", "urge", "interview_or_notice", "accountability", "verify_close"})


def _service():
    return attachment_service(current_app)


def uploads() -> list[Upload]:
    """The files of this request's upload field."""
    return [Upload(f.filename or "", f.stream) for f in request.files.getlist(FIELD)]


def location() -> Location | None:
    """The browser's geolocation, when the page got one (patrol page)."""
    form = request.form
    return Location.parse(form.get("latitude"), form.get("longitude"), form.get("accuracy"))


def take_uploads() -> list[Prepared]:
    """This request's files, checked and stored (Invalid if one is refused), plus those an earlier
    step of the same form already took (a confirm step re-shows the form, and a browser cannot
    re-send files it was given back)."""
    return held() + _service().prepare(uploads(), roles=current_user.roles)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="bihuan.attachments.held")


def held() -> list[Prepared]:
    # Signed by the server: a client cannot name a stored blob (another case's file) it did not upload.
    token = request.form.get("held_attachments")
    if not token:
        return []
    try:
        return [Prepared(**item) for item in _serializer().loads(token)]
    except (BadSignature, TypeError, ValueError):
        raise Invalid(_("附件信息无效，请重新选择文件"), fields=[("attachments", _("附件信息无效，请重新选择文件"))]) from None


def held_token(prepared: list[Prepared]) -> str:
    return _serializer().dumps([asdict(p) for p in prepared]) if prepared else ""


def attach_hook(prepared: list[Prepared], stage: str, *, from_resident: bool = False, with_location: bool = False):
    """The hook that links the files (and the location) inside the action's transaction, or None."""
    return _service().linker(prepared, stage=stage, from_resident=from_resident,
                             location=location() if with_location else None)


def files_of(case_id: int) -> list:
    with current_app.extensions["bihuan"].db.read() as session:
        return case_attachments(session, case_id)


def _limit_mb() -> str:
    return f"{_service().settings.max_bytes / (1024 * 1024):g}"


@bp.record_once
def _template_globals(state) -> None:
    # Globals, not a context processor: the macros in attachments/_macros.html are imported
    # without context by the intake, task and case pages.
    state.app.jinja_env.globals.update(case_attachments=files_of, attachment_stages=STAGES,
                                       attachment_limit_mb=_limit_mb, held_token=held_token,
                                       upload_tasks=UPLOAD_TASKS)


def _send(thumb: bool, attachment_id: int) -> Response:
    row, data = _service().download(current_app.extensions["bihuan"], attachment_id, current_user, thumb=thumb)
    mime = "image/jpeg" if thumb else row.mime
    disposition = "inline" if mime.startswith(INLINE) else "attachment"
    headers = {"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row.filename)}",
               # The type was decided from the content; browsers must not second-guess it.
               "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
               "Cache-Control": "private, no-store" if row.from_resident else "private, max-age=3600"}
    return Response(data, mimetype=mime, headers=headers)


@bp.get("/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    return _send(False, attachment_id)


@bp.get("/<int:attachment_id>/thumb")
@login_required
def thumb(attachment_id: int):
    return _send(True, attachment_id)
