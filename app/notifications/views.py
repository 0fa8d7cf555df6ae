"""站内通知: the bell's count in the top bar, the list, and marking read (one, or all)."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from workflows.clock import utcnow

from ..cases.models import ReadyTask
from ..tasks.worklist import version_labels
from ..web.terms import in_english, term
from .models import Notification
from .services import mark_read, recent, render, unread_count

bp = Blueprint("notifications", __name__, url_prefix="/notifications", template_folder="templates")


def _core():
    return current_app.extensions["bihuan"]


@bp.app_context_processor
def _bell():
    """Every page's top bar shows the bell; one indexed count per page for a logged-in user."""
    if not current_user.is_authenticated:
        return {}
    with _core().db.read() as session:
        return {"unread_notifications": unread_count(session, current_user.id)}


def _translated(params: dict, translations: dict | None = None) -> dict:
    # Names stored in the office's language (task, tier, reason) are shown in the reader's; a task
    # name in the English of the case's process version (the designer's 标签翻译), as the case page.
    out = {k: gettext(v) if k in ("tier", "reason") and v else v for k, v in params.items()}
    if out.get("task"):
        out["task"] = term(out["task"], translations)
    return out


def _target(note, ready: set[str]) -> str | None:
    if note.task_id and note.task_id in ready:
        return url_for("tasks.task", task_id=note.task_id)
    return url_for("cases.detail", number=note.case_number) if note.case_number else None


@bp.get("")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    with _core().db.read() as session:
        rows = recent(session, current_user.id, unread_only=unread_only)
        task_ids = [n.task_id for n in rows if n.task_id]
        ready = set(session.scalars(select(ReadyTask.id).where(ReadyTask.id.in_(task_ids)))) if task_ids else set()
        translations = version_labels(_core(), session, {n.case_number for n in rows if n.case_number}) \
            if in_english() else {}
        items = [{"id": n.id, "kind": n.kind,
                  "text": render(n.kind, _translated(n.params or {}, translations.get(n.case_number)), gettext),
                  "at": n.created_at,
                  "read": n.read_at is not None, "url": _target(n, ready)} for n in rows]
    return render_template("notifications/index.html", items=items, unread_only=unread_only)


@bp.post("/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    with _core().db.unit_of_work() as session:
        note = session.get(Notification, notification_id)
        if note is None or note.user_id != current_user.id:  # someone else's is not found either
            abort(404)
        mark_read(session, current_user.id, notification_id, utcnow())  # already read: nothing to do
    target = request.form.get("next") or ""
    # Only our own pages: a crafted "next" must not send the user elsewhere.
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for(".index"))


@bp.post("/read-all")
@login_required
def read_all():
    with _core().db.unit_of_work() as session:
        mark_read(session, current_user.id, None, utcnow())
    return redirect(url_for(".index"))
