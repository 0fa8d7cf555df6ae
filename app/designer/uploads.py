"""Importing a diagram, table or form from a file into the draft.

    POST /designer/import   designer.import_file   multipart: file (.bpmn/.dmn/.json), base_revision

Uploads come from anywhere (other modelers, e-mail attachments, an attacker): the size is
capped here with a clear message, the name must have a known extension, and everything else
(XXE, entity bombs, foreign roots, broken JSON) is refused by ``drafts.import_file`` as Invalid,
which becomes a 400 page — never a 500.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..errors import Conflict, Invalid
from ..processes import drafts
from ..web.errors import error_response
from .blueprint import UPLOAD_LIMIT, actor, bp, core, problem_dicts

EXTENSIONS = (".bpmn", ".dmn", ".json")


@bp.post("/import")
def import_file():
    if request.content_length is not None and request.content_length > UPLOAD_LIMIT:
        return _too_large()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid(_("请选择要导入的文件（.bpmn、.dmn 或 .json）。"))
    filename = upload.filename[-200:]
    if not filename.lower().endswith(EXTENSIONS):
        raise Invalid(_("只能导入 .bpmn、.dmn 或 .json 文件：%(name)s", name=filename))
    data = upload.stream.read(UPLOAD_LIMIT + 1)
    if len(data) > UPLOAD_LIMIT:
        return _too_large()
    if not data:
        raise Invalid(_("文件是空的：%(name)s", name=filename))
    base_revision = request.form.get("base_revision") or None
    with core().db.unit_of_work() as session:
        if base_revision is None:
            # the page was shown while there was no draft: start one now, unless someone else just did
            if drafts.get_draft(session) is not None:
                raise Conflict(_("在您打开页面后，其他设计员已开始编辑草稿。请刷新页面后重新导入。"))
            base_revision = drafts.open_draft(session, actor()).revision
        draft, problems = drafts.import_file(session, filename=filename, data=data,
                                             base_revision=base_revision, actor=actor())
        revision = draft.revision
    problems = problem_dicts(problems)
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
