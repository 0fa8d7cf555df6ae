"""流程管理: the process library, validating the draft, exporting files, discarding the draft.

    GET  /designer                        designer.library
    GET  /designer/validate               designer.validate  JSON {problems} or an HTML list
    GET  /designer/export/<path>?version= designer.export    the file as a download
    POST /designer/discard                designer.discard   throw the draft away
"""
from __future__ import annotations

from io import BytesIO
from pathlib import PurePosixPath

from flask import flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from ..errors import Invalid
from ..processes import drafts
from ..processes.models import ProcessVersion
from ..processes.services import ensure_shipped_version, latest_version
from .blueprint import KIND_LABELS, actor, bp, core, editor_url, problem_dicts

MIMETYPES = {"bpmn": "application/xml", "dmn": "application/xml", "form": "application/json"}


def draft_summary(session) -> dict | None:
    draft = drafts.get_draft(session)
    if draft is None:
        return None
    base = session.get(ProcessVersion, draft.base_version_id) if draft.base_version_id else None
    return {"revision": draft.revision, "base_version": base.version if base else None,
            "updated_by": draft.updated_by, "updated_at": draft.updated_at}


@bp.get("")
def library():
    with core().db.read() as session:
        fresh = latest_version(session) is None
    if fresh:
        # a fresh install: the shipped bpmn/ becomes version 1 (as on the first case) so the
        # library has a version to show and compare the draft with
        with core().db.unit_of_work() as session:
            ensure_shipped_version(session)
    with core().db.read() as session:
        models = drafts.list_models(session)
        versions = drafts.version_summaries(session)
        draft = draft_summary(session)
    for model in models:
        model["edit_url"] = None if model.get("deleted") else editor_url(model["path"])
    latest = versions[0]["version"] if versions else None
    return render_template("designer/library.html", models=models, versions=versions, draft=draft,
                           latest=latest, kind_labels=KIND_LABELS)


@bp.get("/validate")
def validate():
    with core().db.read() as session:
        problems = problem_dicts(drafts.validate_draft(session))
        draft = draft_summary(session)
    wants_json = request.args.get("format") == "json" or request.accept_mimetypes.best == "application/json"
    if wants_json:
        return jsonify({"problems": problems, "revision": draft["revision"] if draft else None})
    return render_template("designer/problems.html", title=_("校验结果"), problems=problems, message=None,
                           checked=True), 200


@bp.get("/export/<path:path>")
def export(path: str):
    raw = request.args.get("version")
    version = None
    if raw not in (None, ""):
        if not raw.isdigit():
            raise Invalid(_("版本号必须是数字。"))
        version = int(raw)
    with core().db.read() as session:
        data = drafts.export_file(session, path=path, version=version)
    kind = drafts.file_kind(path)
    name = PurePosixPath(path).name
    if version is not None:
        stem, dot, ext = name.partition(".")
        name = f"{stem}-v{version}{dot}{ext}"
    return send_file(BytesIO(data), mimetype=MIMETYPES[kind], as_attachment=True, download_name=name)


@bp.post("/discard")
def discard():
    with core().db.unit_of_work() as session:
        drafts.discard_draft(session, actor=actor(), base_revision=request.form.get("expected_revision") or None)
    flash(_("草稿已放弃，下次编辑将从最新版本开始。"), "success")
    return redirect(url_for(".library"))
