"""Deploying the draft, comparing versions and moving running cases to a newer version.

    POST /designer/deploy                 designer.deploy   note, expected_revision[, force]
    GET  /designer/diff?a=N&b=M           designer.diff     without a/b: the draft against its base
    GET  /designer/migrate?from=N&to=M    designer.migrate  dry run: which cases can move and why not
    POST /designer/migrate                designer.migrate  move the chosen cases
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..errors import Conflict, Invalid
from ..processes import drafts
from ..processes.models import ProcessVersion
from .blueprint import actor, bp, core, editor_url, problem_dicts
from .library import draft_summary
from .messages import N_

CHANGES = {"added": N_("新增"), "removed": N_("删除"), "changed": N_("修改"), "layout": N_("布局")}


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
            row = drafts.deploy_draft(session, actor=actor(), note=note, expected_revision=expected, force=force)
            version = row.version
    except Invalid as exc:
        with core().db.read() as session:
            problems = [p for p in problem_dicts(drafts.validate_draft(session)) if p["severity"] == "error"]
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
        if not path.endswith(".bpmn") or row.get("change") == "layout":
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
