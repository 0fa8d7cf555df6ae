"""The process designer (流程管理): the ``designer`` blueprint and every page and endpoint of it.

All of them are for the ``designer`` role only (others get a 403), checked once in
``before_request`` so no route can forget it. The logic lives in ``app.processes``.

    GET  /designer                        designer.library      the process library
    GET  /designer/validate               designer.validate     JSON {problems} or an HTML list
    GET  /designer/export/<path>?version= designer.export       the file as a download
    POST /designer/discard                designer.discard      throw the draft away
    GET  /designer/bpmn/<path>            designer.bpmn_editor  bpmn-js modeler + properties panel
    GET  /designer/dmn/<path>             designer.dmn_editor   dmn-js decision table editor
    GET  /designer/form/<path>            designer.form_editor  JSON Schema text + live preview
    POST /designer/draft/<path>           designer.save_draft   JSON {text, base_revision} → {revision}; 409 if stale
    POST /designer/form-preview           designer.form_preview JSON {text} → the form as caseworkers see it (HTML)
    POST /designer/deploy                 designer.deploy       note (the reason, required), expected_revision[, force]
    GET  /designer/diff?a=N&b=M           designer.diff         without a/b: the draft against its base
    GET  /designer/migrate?from=N&to=M    designer.migrate      dry run: which cases can move and why not
    POST /designer/migrate                designer.migrate      move the chosen cases
    POST /designer/import                 designer.import_file  multipart: file (.bpmn/.dmn/.json), base_revision
    GET  /designer/labels                 designer.labels       标签翻译: the draft's Chinese labels and their English
    POST /designer/labels                 designer.save_labels  form base_revision, zh[] + en[] (or JSON {translations,
                                                                base_revision}); refused whole, nothing saved, if bad

分析影响 (what-if) and 预期与实际 are the ``whatif`` blueprint (app/processes/whatif_pages.py).

Opening an editor opens the draft (from the latest version when there is none), so every save
names the revision it started from and a concurrent save cannot be lost silently.

Uploads come from anywhere (other modelers, e-mail attachments, an attacker): the size is capped
here with a clear message, the name must have a known extension, and everything else (XXE, entity
bombs, foreign roots, broken JSON) is refused by ``drafts.import_file`` as Invalid, which becomes a
400 page — never a 500.
"""
from __future__ import annotations

import re
from io import BytesIO
from pathlib import PurePosixPath

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user

from workflows.reading import LABELS_FILE, MAX_FILE_BYTES, MAX_LABEL_CHARS, Unreadable, model_kind, parse_form

from ..auth.models import ROLES
from ..errors import BihuanError, Conflict, Invalid
from ..processes import drafts, labels as label_translations, whatif_pages
from ..processes.models import ProcessVersion
from ..processes.problem_text import localize, unreadable
from ..processes.services import ensure_shipped_version, latest_version
from ..web.errors import error_response
from ..web.terms import in_english, term
from . import label_table
from .messages import N_, js_messages
from .preview import preview_fields

bp = Blueprint("designer", __name__, template_folder="templates", url_prefix="/designer")

EDITORS = {"bpmn": "designer.bpmn_editor", "dmn": "designer.dmn_editor", "form": "designer.form_editor"}
KIND_LABELS = {"bpmn": N_("流程图 BPMN"), "dmn": N_("决策表 DMN"), "form": N_("表单 JSON Schema")}  # translated in templates
MIMETYPES = {"bpmn": "application/xml", "dmn": "application/xml", "form": "application/json"}
CHANGES = {"added": N_("新增"), "removed": N_("删除"), "changed": N_("修改"), "layout": N_("布局")}
UPLOAD_LIMIT = 50 * 1024 * 1024  # below Flask's MAX_CONTENT_LENGTH, so we can say what went wrong
UPLOAD_EXTENSIONS = (".bpmn", ".dmn", ".json")
DECISION_ID = re.compile(r"<(?:\w+:)?decision\b[^>]*?\bid=\"([^\"]+)\"")
PROCESS_ID = re.compile(r"<(?:\w+:)?process\b[^>]*?\bid=\"([^\"]+)\"")


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


# -- what the pages share --------------------------------------------------------------------------
def core():
    return current_app.extensions["bihuan"]


def actor() -> str:
    return current_user.username


def editor_url(path: str, select: str | None = None) -> str | None:
    kind = model_kind(path) if path else None
    if kind is None:
        return None
    return url_for(EDITORS[kind], path=path, select=select or None)


def problem_dicts(problems, files: dict | None = None) -> list[dict]:
    """Problems as the pages and the JSON endpoint show them, each with a link to its editor.

    ``message`` is in the page's language (from the problem's ``code`` and ``params``);
    ``code`` stays for scripts and tests. The draft's own labels an English page quotes (element
    names, a DMN column's label) read in the draft's English (标签翻译, ``files``) when it has one."""
    translations = label_translations.read_translations(files) if files and in_english() else None

    def name(text):
        return term(text, translations) if text else text
    return [{"file": p.file, "element_id": p.element_id, "element_name": name(p.element_name),
             "message": localize(p, name),
             "code": getattr(p, "code", ""), "severity": getattr(p, "severity", "error"),
             "url": editor_url(p.file, p.element_id)}
            for p in problems]


def _draft_files(session) -> dict | None:
    draft = drafts.get_draft(session)
    return draft.files if draft is not None else None


def json_error(exc: BihuanError):
    body = {"error": exc.code, "message": str(exc)}
    if isinstance(exc, Invalid) and exc.fields:
        body["fields"] = [{"field": f, "message": m} for f, m in exc.fields]
    return jsonify(body), exc.http_status


def draft_summary(session) -> dict | None:
    draft = drafts.get_draft(session)
    if draft is None:
        return None
    base = session.get(ProcessVersion, draft.base_version_id) if draft.base_version_id else None
    return {"revision": draft.revision, "base_version": base.version if base else None,
            "updated_by": draft.updated_by, "updated_at": draft.updated_at}


# -- the library -----------------------------------------------------------------------------------
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
        evidence = whatif_pages.evidence_note(session, draft)
    for model in models:
        model["edit_url"] = None if model.get("deleted") else editor_url(model["path"])
    latest = versions[0]["version"] if versions else None
    return render_template("designer/library.html", models=models, versions=versions, draft=draft,
                           latest=latest, kind_labels=KIND_LABELS, evidence=evidence)


@bp.get("/validate")
def validate():
    with core().db.read() as session:
        problems = problem_dicts(drafts.validate_draft(session), _draft_files(session))
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
        if not re.fullmatch(r"[0-9]{1,9}", raw):
            raise Invalid(_("版本号必须是数字。"))
        version = int(raw)
    with core().db.read() as session:
        data = drafts.export_file(session, path=path, version=version)
    kind = drafts.require_model_path(path)
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


# -- the editors -----------------------------------------------------------------------------------
def _open(path: str, kind: str):
    """The draft's text of ``path`` and the data every editor page needs; 404 for a wrong path."""
    if model_kind(path) != kind:
        abort(404)
    with core().db.unit_of_work() as session:
        draft = drafts.open_draft(session, actor())
        files = dict(draft.files)
        revision = draft.revision
    if path not in files:
        abort(404)
    others = [{"path": p, "kind": model_kind(p), "url": editor_url(p)} for p in sorted(files) if model_kind(p)]
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
    config["forms"] = sorted(PurePosixPath(p).name for p in files if model_kind(p) == "form")
    config["decisions"] = sorted({d for p, text in files.items() if model_kind(p) == "dmn"
                                  for d in DECISION_ID.findall(text)})
    # executable processes a call activity may call (bpmn:process ids of the package's diagrams)
    config["processes"] = sorted({p for path_, text in files.items() if model_kind(path_) == "bpmn"
                                  for p in PROCESS_ID.findall(text)})
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
    if len(text) > MAX_FILE_BYTES:
        raise Invalid(_("表单超过 %(mb)s MB。", mb=MAX_FILE_BYTES // 1024 // 1024))
    try:
        return parse_form(text.encode("utf-8", "surrogatepass"))
    except Unreadable as exc:
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
        if drafts.require_model_path(path) == "form":
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


# -- 标签翻译: the English of the draft's own labels -------------------------------------------------
def _labels_page(status: int = 200, error: str = "", typed: dict | None = None):
    with core().db.unit_of_work() as session:
        draft = drafts.open_draft(session, actor())
        files, revision = dict(draft.files), draft.revision
    return render_template("designer/labels.html", rows=label_table.rows(files, typed), revision=revision,
                           error=error, max_chars=MAX_LABEL_CHARS, labels_file=LABELS_FILE), status


@bp.get("/labels")
def labels():
    return _labels_page()


@bp.post("/labels")
def save_labels():
    wants_json = request.is_json
    translations = None
    try:
        translations, base_revision = label_table.read_request()
        with core().db.unit_of_work() as session:
            draft = label_translations.save_translations(session, translations=translations,
                                                         base_revision=base_revision, actor=actor(),
                                                         catalog=label_table.catalog_english)
            revision = draft.revision
    except BihuanError as exc:
        if wants_json:
            return json_error(exc)
        # after a conflict the page shows the draft as it is now (someone else's save), not what was typed
        kept = translations if isinstance(translations, dict) and not isinstance(exc, Conflict) else None
        return _labels_page(exc.http_status, str(exc), kept)
    if wants_json:
        return jsonify({"revision": revision})
    flash(_("标签翻译已保存到草稿（修订 %(n)s），发布后生效。", n=revision), "success")
    return redirect(url_for(".labels"))


# -- deploying, comparing, migrating ---------------------------------------------------------------
def _version_arg(name: str, source=None, required: bool = False) -> int | None:
    raw = (source or request.args).get(name)
    if raw in (None, ""):
        if required:
            raise Invalid(_("缺少版本号 %(name)s。", name=name))
        return None
    raw = str(raw).strip()
    if not raw.isdigit() or len(raw) > 9:
        raise Invalid(_("版本号必须是正整数：%(value)s", value=raw[:20]))
    return int(raw)


@bp.post("/deploy")
def deploy():
    note = (request.form.get("note") or "").strip()[:500]
    expected = request.form.get("expected_revision")
    force = request.form.get("force") == "1"
    try:
        with core().db.unit_of_work() as session:
            row = drafts.deploy_draft(session, actor=actor(), note=note, expected_revision=expected, force=force,
                                      require_reason=True)
            version = row.version
    except Invalid as exc:
        with core().db.read() as session:
            problems = [p for p in problem_dicts(drafts.validate_draft(session), _draft_files(session))
                        if p["severity"] == "error"]
        return render_template("designer/problems.html", title=_("无法发布"), message=str(exc), problems=problems,
                               checked=False), 400
    except Conflict as exc:
        with core().db.read() as session:
            draft = draft_summary(session)
        return render_template("designer/conflict.html", message=str(exc), note=note, draft=draft), 409
    flash(_("已部署为版本 %(n)s", n=version), "success")
    return redirect(url_for(".library"))


@bp.get("/diff")
def diff():
    from ..processes import diffing
    a, b = _version_arg("a"), _version_arg("b")
    with core().db.read() as session:
        versions = drafts.version_summaries(session)
        if a is None and b is None:
            rows = diffing.diff_draft(session)
            draft = drafts.get_draft(session)
            base = session.get(ProcessVersion, draft.base_version_id) if draft and draft.base_version_id else None
            old_files, new_files = (base.files if base else {}), (draft.files if draft else {})
            title = _("草稿与版本 %(n)s 的差异", n=base.version) if base else _("草稿与最新版本的差异")
        elif a is None or b is None:
            raise Invalid(_("请同时选择要比较的两个版本。"))
        else:
            old_files, new_files = drafts.get_version(session, a).files, drafts.get_version(session, b).files
            rows = diffing.diff_versions(session, a, b)
            title = _("版本 %(a)s 与版本 %(b)s 的差异", a=a, b=b)
    for row in rows:
        change = row.get("change")
        row["change_label"] = _(CHANGES[change]) if change in CHANGES else change
        row["url"] = editor_url(row.get("file") or "", row.get("element_id")) if a is None else None
    files = sorted({row.get("file") for row in rows if row.get("file")})
    return render_template("designer/diff.html", rows=rows, title=title, a=a, b=b, versions=versions, files=files,
                           diagrams=_diagrams(rows, old_files, new_files))


def _diagrams(rows: list[dict], old_files: dict, new_files: dict) -> list[dict]:
    """Both sides of every changed diagram, with the changed element ids, for the side-by-side view."""
    diagrams = {}
    for row in rows:
        path = row.get("file") or ""
        if model_kind(path) != "bpmn" or row.get("change") == "layout":
            continue
        entry = diagrams.setdefault(path, {"path": path, "old": old_files.get(path), "new": new_files.get(path),
                                           "changes": {}})
        if row.get("element_id"):
            entry["changes"][row["element_id"]] = row.get("change")
    return [d for d in diagrams.values() if d["changes"]]


@bp.route("/migrate", methods=["GET", "POST"])
def migrate():
    from ..processes import migration
    source = request.form if request.method == "POST" else request.args
    with core().db.read() as session:
        versions = drafts.version_summaries(session)
    latest = versions[0]["version"] if versions else None
    start = _version_arg("from", source)
    target = _version_arg("to", source) or latest
    if start is None:
        return render_template("designer/migrate.html", versions=versions, plan=None, start=None, target=target)
    if target is None or start == target:
        raise Invalid(_("请选择不同的源版本和目标版本。"))
    with core().db.read() as session:
        drafts.get_version(session, start), drafts.get_version(session, target)  # NotFound → 404
    if request.method == "GET":
        plan = migration.plan_migration(core(), start, target)
        return render_template("designer/migrate.html", versions=versions, plan=plan, start=start, target=target)
    numbers = [n.strip() for n in request.form.getlist("case_numbers") if n.strip()][:10000]
    if not numbers:
        raise Invalid(_("请至少选择一个要迁移的案件。"))
    results = migration.migrate_cases(core(), start, target, actor=actor(), case_numbers=numbers)
    moved = sum(1 for r in results if r.get("moved"))
    flash(_("已将 %(n)s 个案件从版本 %(a)s 迁移到版本 %(b)s。", n=moved, a=start, b=target),
          "success" if moved else "error")
    return render_template("designer/migrated.html", results=results, start=start, target=target, moved=moved)


# -- importing -------------------------------------------------------------------------------------
@bp.post("/import")
def import_file():
    if request.content_length is not None and request.content_length > UPLOAD_LIMIT:
        return _too_large()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid(_("请选择要导入的文件（.bpmn、.dmn 或 .json）。"))
    filename = upload.filename[-200:]
    if not filename.lower().endswith(UPLOAD_EXTENSIONS):
        raise Invalid(_("只能导入 .bpmn、.dmn 或 .json 文件：%(name)s", name=filename))
    data = upload.stream.read(UPLOAD_LIMIT + 1)
    if len(data) > UPLOAD_LIMIT:
        return _too_large()
    if not data:
        raise Invalid(_("文件是空的：%(name)s", name=filename))
    base_revision = request.form.get("base_revision") or None
    if base_revision is None:
        with core().db.unit_of_work() as session:
            # the page was shown while there was no draft: start one now, unless someone else just did
            if drafts.get_draft(session) is not None:
                raise Conflict(_("在您打开页面后，其他设计员已开始编辑草稿。请刷新页面后重新导入。"))
            base_revision = drafts.open_draft(session, actor()).revision
    draft, problems = drafts.import_outside_transaction(core().db, filename=filename, data=data,
                                                        base_revision=base_revision, actor=actor())
    revision = draft.revision
    problems = problem_dicts(problems, draft.files)
    errors = [p for p in problems if p["severity"] == "error"]
    if not problems:
        flash(_("已导入 %(name)s（草稿修订 %(rev)s），草稿校验通过。", name=filename, rev=revision), "success")
        return redirect(url_for(".library"))
    message = _("已导入 %(name)s（草稿修订 %(rev)s）。草稿有 %(n)s 个问题，其中 %(e)s 个会阻止发布：",
                name=filename, rev=revision, n=len(problems), e=len(errors))
    return render_template("designer/problems.html", title=_("导入结果"), message=message, problems=problems,
                           checked=True)


def _too_large():
    return error_response(413, _("上传的文件超过 %(mb)s MB，未导入。", mb=UPLOAD_LIMIT // 1024 // 1024))

