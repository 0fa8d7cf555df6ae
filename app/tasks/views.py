"""我的待办 (/tasks), claiming, and the task form (/tasks/<task_id>) with its deadline preview."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from workflows.clock import utcnow
from workflows.rules import DecisionError, deadline_preview as preview_deadline, input_values
from workflows.workdays import CalendarGap

from ..attachments.views import UPLOAD_TASKS, attach_hook, take_uploads
from ..cases.models import CHANNELS, TYPES
from ..cases.presenters import mask_name, mask_phone
from ..errors import Blocked, Conflict, Forbidden, Invalid, NotFound
from ..intake.views import case_url
from ..joint.hooks import may_do_task
from ..org.models import Department
from ..supervision.models import TIERS
from ..web.access import roles_required
from ..web.formatting import local
from ..web.nav import TASK_ROLES
from ..web.terms import in_english, term
from . import claims, decision as decisions, forms, worklist
from .context import TaskContext, conflict_details, load_task

bp = Blueprint("tasks", __name__, url_prefix="/tasks", template_folder="templates")
# Values the case already holds that a form may show again as its starting point.
PREFILL = ("category", "urgent", "difficulty")


def _core():
    return current_app.extensions["bihuan"]


@bp.context_processor
def _links():
    return {"case_url": case_url}


@bp.get("", endpoint="worklist")
@roles_required(*TASK_ROLES)
def worklist_page():
    filters = worklist.Filters.from_args(request.args)
    now = utcnow()
    with _core().db.read() as session:
        rows, has_next = worklist.page(session, current_user, filters, now)
        # a task name a designer wrote has its English in the case's process version
        version_labels = worklist.version_labels(_core(), session, (r.number for r in rows)) if in_english() else {}
        counts = worklist.counts(session, current_user, filters, now)
        departments = dict(session.execute(select(Department.code, Department.name)).all())
    return render_template("tasks/worklist.html", rows=rows, has_next=has_next, counts=counts, filters=filters,
                           departments=departments, version_labels=version_labels, types=TYPES, channels=CHANNELS,
                           tiers=TIERS, now=now,
                           tabs=(("all", _("全部待办")), ("mine", _("我认领的")), ("unclaimed", _("未认领")),
                                 ("overdue", _("已逾期"))))


def _safe_back(target: str | None) -> str:
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/tasks"):
        return target
    return url_for("tasks.worklist")


def _allowed(ctx: TaskContext) -> bool:
    # 领导签批销号 (批示督办) is the instructing person's own task, whichever role instructed.
    return may_do_task(current_user, ctx.role, ctx.department, ctx.assignee)


@bp.post("/<task_id>/claim")
@roles_required(*TASK_ROLES)
def claim(task_id: str):
    return _claim_action(task_id, claims.claim, _("已认领：%(case)s「%(task)s」"))


@bp.post("/<task_id>/unclaim")
@roles_required(*TASK_ROLES)
def unclaim(task_id: str):
    return _claim_action(task_id, claims.unclaim, _("已取消认领：%(case)s「%(task)s」"))


def _claim_action(task_id: str, action, message: str):
    try:
        done = action(_core(), task_id, user=current_user.username)
    except claims.PersonalTask:
        raise Conflict(_("领导签批销号是批示人本人的任务，无需认领，也不能取消认领。")) from None
    except claims.ClaimConflict as exc:
        if exc.assignee:
            raise Conflict(_("此任务已由 %(user)s 认领，只有认领人可以办理或取消认领。", user=exc.assignee)) from None
        raise Conflict(_("此任务尚未被认领。")) from None
    except NotFound:
        raise NotFound(_("此任务不存在或已办理完毕。")) from None
    except Forbidden:
        raise Forbidden(_("您不能认领此任务：它不属于您的角色或部门。")) from None
    translations = None
    if in_english():
        with _core().db.read() as session:
            translations = worklist.version_labels(_core(), session, [done["case"]]).get(done["case"])
    flash(message % {"case": done["case"], "task": term(done["task"], translations)}, "success")
    return redirect(_safe_back(request.form.get("next")), 303)


def _initial(ctx: TaskContext) -> dict:
    return forms.initial_values(ctx.schema, {name: getattr(ctx.case, name) for name in PREFILL})


def _render(ctx: TaskContext, values: dict, errors: dict | None = None, *, notice: str = "", read_only=False,
            status: int = 200):
    fields = forms.build_fields(ctx.schema, values, errors or {}, ctx.departments, ctx.bundle.labels)
    case = ctx.case
    claimed_by_other = bool(ctx.assignee and ctx.assignee != current_user.username)
    with _core().db.read() as session:
        decision = decisions.build(_core(), session, ctx, values)
    reporter = {"name": mask_name(case.reporter_name), "phone": mask_phone(case.reporter_phone), "revealed": False}
    headers = {}
    if decision.kind == "follow_up" and ctx.ready and not read_only and not claimed_by_other:
        reporter.update(_reveal_for_follow_up(ctx))
        headers["Cache-Control"] = "no-store"  # an unmasked number is never served from a cache
    preview = _deadline(ctx, values) if _has_preview(ctx) else None
    return render_template("tasks/task.html", ctx=ctx, case=case, fields=fields, errors=errors or {},
                           notice=notice, read_only=read_only, reporter=reporter, preview=preview,
                           decision=decision, same_department=decisions.reassign_warning(
                               ctx, decision, values.get("department")),
                           categories=input_values(ctx.bundle, "routing", "category"),
                           claimed_by_other=claimed_by_other), status, headers


def _reveal_for_follow_up(ctx: TaskContext) -> dict:
    """回访 means calling the resident: the number is shown whole for this task, through the same audited
    reveal as the case page (one reveal_reporter row naming the task per page shown)."""
    if not (ctx.case.reporter_phone or ctx.case.reporter_name):
        return {}
    try:
        shown = _core().cases.show(ctx.case.number, viewer=current_user.username, reveal_reporter=True,
                                   source="web", for_task=ctx.id)
    except Forbidden:  # a role that may complete the task but not unmask: it stays masked
        return {}
    return {"name": shown["reporter_name"], "phone": shown["reporter_phone"], "revealed": True}


def _has_preview(ctx: TaskContext) -> bool:
    props = ctx.schema.get("properties", {})
    return "difficulty" in props and "urgent" in props


def _deadline(ctx: TaskContext, values: dict) -> dict:
    """办理时限 for the chosen difficulty and urgency, by the same table the process will use."""
    core = _core()
    try:
        days, due = preview_deadline(ctx.bundle, core.engine.script_engine, core.calendar.current().working_days_after,
                                     type=ctx.case.type, difficulty=values.get("difficulty") or "normal",
                                     urgent=bool(values.get("urgent")), start=utcnow())
    except (DecisionError, CalendarGap, ValueError) as exc:  # say so; the form stays usable
        return {"error": str(exc)}
    return {"days": days, "due": due}


def _conflict_notice(task_id: str) -> str:
    by, at, holder = conflict_details(_core(), task_id)
    if by:
        return _("此任务已由 %(user)s 于 %(at)s 办理完毕，您的提交未生效。以下是您填写的内容，供核对。",
                 user=by, at=local(at))
    if holder and holder != current_user.username:
        return _("此任务已由 %(user)s 认领，只有认领人可以办理。以下是您填写的内容。", user=holder)
    return _("此任务刚被他人处理，您的提交未生效，请返回待办刷新后重试。")


@bp.route("/<task_id>", methods=["GET", "POST"])
@roles_required(*TASK_ROLES)
def task(task_id: str):
    core = _core()
    ctx = load_task(core, task_id)
    if ctx is None or (request.method == "GET" and not ctx.ready):
        raise NotFound(_("此任务不存在或已办理完毕。"))
    if not _allowed(ctx):
        raise Forbidden(_("此任务不属于您的角色或部门。"))
    if request.method == "GET":
        return _render(ctx, _initial(ctx))

    data = forms.parse(ctx.schema, request.form)
    if not ctx.ready:
        return _render(ctx, data, notice=_conflict_notice(task_id), read_only=True, status=409)
    attach = None
    if ctx.bpmn_id in UPLOAD_TASKS:
        try:
            g.held_files = take_uploads()
        except Invalid as exc:
            return _render(ctx, data, {"attachments": str(exc)}, status=exc.http_status)
        attach = attach_hook(g.held_files, ctx.bpmn_id)
    try:
        core.cases.complete_task(ctx.id, user=current_user.username, data=data, source="web", detail=False,
                                 attach=attach)
    except Invalid as exc:
        errors = forms.humanize(ctx.schema, exc.fields) if exc.fields else {"": str(exc)}
        return _render(ctx, data, errors, status=400)
    except Blocked as exc:
        notice = _("流程执行出错，已记录为异常，工单暂停处理，请联系系统管理员。详情：%(detail)s", detail=str(exc))
        return _render(ctx, data, notice=notice, status=409)
    except Conflict:
        return _render(ctx, data, notice=_conflict_notice(task_id), read_only=True, status=409)
    flash(_("已办理：%(case)s「%(task)s」", case=ctx.case.number, task=ctx.name), "success")
    return redirect(url_for("tasks.worklist"), 303)


@bp.get("/<task_id>/deadline-preview")
@roles_required(*TASK_ROLES)
def deadline_preview(task_id: str):
    ctx = load_task(_core(), task_id, details=False)
    if ctx is None or not ctx.ready:
        raise NotFound(_("此任务不存在或已办理完毕。"))
    if not _allowed(ctx):
        raise Forbidden(_("此任务不属于您的角色或部门。"))
    values = forms.parse(ctx.schema, request.args)
    return render_template("tasks/_deadline.html", preview=_deadline(ctx, values))


@bp.get("/<task_id>/department-preview")
@roles_required(*TASK_ROLES)
def department_preview(task_id: str):
    """The department the form would send the case to: 按派单规则's pick on 派单, and on 改派 a warning
    when it is the department that just returned the case."""
    core = _core()
    ctx = load_task(core, task_id)
    if ctx is None or not ctx.ready:
        raise NotFound(_("此任务不存在或已办理完毕。"))
    if not _allowed(ctx):
        raise Forbidden(_("此任务不属于您的角色或部门。"))
    values = forms.parse(ctx.schema, request.args)
    with core.db.read() as session:
        decision = decisions.build(core, session, ctx, values)
    return render_template("tasks/_department.html", decision=decision,
                           same_department=decisions.reassign_warning(ctx, decision, values.get("department")))
