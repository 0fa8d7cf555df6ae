"""The designer blueprint and what its route modules share.

Every page and endpoint here is for the ``designer`` role only (others get a 403), checked once
in ``before_request`` so no route can forget it.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import BihuanError, Invalid
from .messages import N_, js_messages

bp = Blueprint("designer", __name__, template_folder="templates", url_prefix="/designer")

EDITORS = {"bpmn": "designer.bpmn_editor", "dmn": "designer.dmn_editor", "form": "designer.form_editor"}
KIND_LABELS = {"bpmn": N_("流程图 BPMN"), "dmn": N_("决策表 DMN"), "form": N_("表单 JSON Schema")}  # translated in templates
UPLOAD_LIMIT = 50 * 1024 * 1024  # below Flask's MAX_CONTENT_LENGTH, so we can say what went wrong


@bp.before_request
def _designers_only():
    if not current_user.is_authenticated:
        if request.is_json or request.accept_mimetypes.best == "application/json":
            # the editors' fetch calls: a redirect to the login page would look like a success
            return jsonify({"error": "unauthorized", "message": _("登录已过期，请在新窗口重新登录后再试。")}), 401
        return current_app.login_manager.unauthorized()
    if not current_user.has("designer"):
        abort(403)
    return None


@bp.context_processor
def _browser_texts():
    return {"designer_js_messages": js_messages}


def core():
    return current_app.extensions["bihuan"]


def actor() -> str:
    return current_user.username


def kind_of(path: str) -> str | None:
    """'bpmn' | 'dmn' | 'form' for an editable bundle path, None for anything else."""
    from ..processes.drafts import file_kind
    try:
        return file_kind(path)
    except Invalid:
        return None


def editor_url(path: str, select: str | None = None) -> str | None:
    kind = kind_of(path) if path else None
    if kind is None:
        return None
    return url_for(EDITORS[kind], path=path, select=select or None)


def problem_dicts(problems) -> list[dict]:
    """Problems as the pages and the JSON endpoint show them, each with a link to its editor.

    ``message`` is in the page's language (from the problem's ``code`` and ``params``);
    ``code`` stays for scripts and tests."""
    from ..processes.problem_text import localize
    return [{"file": p.file, "element_id": p.element_id, "element_name": p.element_name, "message": localize(p),
             "code": getattr(p, "code", ""), "severity": getattr(p, "severity", "error"),
             "url": editor_url(p.file, p.element_id)}
            for p in problems]


def json_error(exc: BihuanError):
    body = {"error": exc.code, "message": str(exc)}
    if isinstance(exc, Invalid) and exc.fields:
        body["fields"] = [{"field": f, "message": m} for f, m in exc.fields]
    return jsonify(body), exc.http_status
