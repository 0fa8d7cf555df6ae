"""The three editors and saving into the shared draft.

    GET  /designer/bpmn/<path>    designer.bpmn_editor  bpmn-js modeler + properties panel
    GET  /designer/dmn/<path>     designer.dmn_editor   dmn-js decision table editor
    GET  /designer/form/<path>    designer.form_editor  JSON Schema text + live preview
    POST /designer/draft/<path>   designer.save_draft   JSON {text, base_revision} → {revision}; 409 if stale
    POST /designer/form-preview   designer.form_preview JSON {text} → the form as caseworkers see it (HTML)

Opening an editor opens the draft (from the latest version when there is none), so every save
names the revision it started from and a concurrent save cannot be lost silently.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath

from flask import abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from workflows import validation

from ..auth.models import ROLES
from ..errors import BihuanError, Invalid
from ..processes import drafts
from .blueprint import KIND_LABELS, actor, bp, core, editor_url, json_error, kind_of
from ..processes.problem_text import unreadable
from .preview import preview_fields

DECISION_ID = re.compile(r"<(?:\w+:)?decision\b[^>]*?\bid=\"([^\"]+)\"")


def _open(path: str, kind: str):
    """The draft's text of ``path`` and the data every editor page needs; 404 for a wrong path."""
    if kind_of(path) != kind:
        abort(404)
    with core().db.unit_of_work() as session:
        draft = drafts.open_draft(session, actor())
        files = dict(draft.files)
        revision = draft.revision
    if path not in files:
        abort(404)
    others = [{"path": p, "kind": kind_of(p), "url": editor_url(p)} for p in sorted(files) if kind_of(p)]
    config = {
        "path": path, "kind": kind, "revision": revision, "text": files[path],
        "save_url": url_for(".save_draft", path=path), "validate_url": url_for(".validate", format="json"),
        "download_name": PurePosixPath(path).name, "select": request.args.get("select") or None,
    }
    return files, config, others


def _render(kind: str, path: str, config: dict, others: list, **extra):
    return render_template(f"designer/{kind}.html", path=path, kind=kind, config=config, others=others,
                           kind_label=KIND_LABELS[kind], **extra)


@bp.get("/bpmn/<path:path>")
def bpmn_editor(path: str):
    files, config, others = _open(path, "bpmn")
    config["roles"] = sorted(ROLES.items())
    config["forms"] = sorted(PurePosixPath(p).name for p in files if kind_of(p) == "form")
    config["decisions"] = sorted({d for p, text in files.items() if kind_of(p) == "dmn"
                                  for d in DECISION_ID.findall(text)})
    return _render("bpmn", path, config, others)


@bp.get("/dmn/<path:path>")
def dmn_editor(path: str):
    _files, config, others = _open(path, "dmn")
    return _render("dmn", path, config, others)


@bp.get("/form/<path:path>")
def form_editor(path: str):
    _files, config, others = _open(path, "form")
    config["preview_url"] = url_for(".form_preview")
    fields, error = _preview(config["text"])
    return _render("form", path, config, others, fields=fields, error=error)


def check_form(text: str) -> dict:
    """The parsed schema, or Invalid saying why it is not a Draft 2020-12 JSON Schema object
    (the same reading as validation and import: ``workflows.reading.parse_form``)."""
    if len(text) > validation.MAX_FILE_BYTES:
        raise Invalid(_("表单超过 %(mb)s MB。", mb=validation.MAX_FILE_BYTES // 1024 // 1024))
    try:
        return validation.parse_form(text.encode("utf-8", "surrogatepass"))
    except validation.Unreadable as exc:
        raise Invalid(unreadable(exc)) from None


def _preview(text: str):
    try:
        return preview_fields(check_form(text)), None
    except Invalid as exc:
        return [], str(exc)


@bp.post("/draft/<path:path>")
def save_draft(path: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return jsonify({"error": "invalid", "message": _("请求格式错误：需要 JSON {text, base_revision}。")}), 400
    try:
        if drafts.file_kind(path) == "form":
            check_form(body["text"])
        with core().db.unit_of_work() as session:
            draft = drafts.save_draft_file(session, path=path, text=body["text"],
                                           base_revision=body.get("base_revision"), actor=actor())
            revision, saved_at = draft.revision, draft.updated_at
    except BihuanError as exc:
        return json_error(exc)
    return jsonify({"path": path, "revision": revision, "saved_at": saved_at.isoformat()})


@bp.post("/form-preview")
def form_preview():
    body = request.get_json(silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return render_template("designer/_preview.html", fields=[], error=_("请求格式错误。")), 400
    fields, error = _preview(text)
    return render_template("designer/_preview.html", fields=fields, error=error), 400 if error else 200
