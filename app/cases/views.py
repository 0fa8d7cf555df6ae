"""The case pages: one case (fields, history, supervision, my actions, diagram) and the search.

    GET  /cases/search              cases.search          every logged-in user, scoped
    GET  /cases/<number>            cases.detail          403 outside the user's scope, 404 unknown
    POST /cases/<number>/reporter   cases.reveal_reporter operator/dispatcher: audited full phone
    GET  /cases/<number>/diagram    cases.diagram         JSON: BPMN XML + the path the case took
"""
from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from workflows.clock import utcnow

from ..auth.models import User
from ..joint.hooks import may_do_task
from ..org.models import Grid
from ..processes.models import ProcessVersion
from ..supervision.models import SupervisionItem
from ..web.formatting import label, local
from ..web.terms import form_text, term, translate_bpmn_names
from ..operations.archive import load_state
from .models import (CHANNELS, FINISHED_STATUSES, STATUSES, TYPES, AuditEntry, Case, Incident, ReadyTask,
                     WorkflowInstance)
from .presenters import mask_name, mask_phone
from .search import Criteria, department_names, search_cases
from .visibility import can_view_case

bp = Blueprint("cases", __name__, template_folder="templates", url_prefix="/cases")

LIFECYCLE_FILE = "case_lifecycle.bpmn"
SUPERVISION_FILE = "supervision_escalation.bpmn"

# What each recorded action is called on the timeline. A completed task is named after the
# decision taken in it when the form has one (派单 vs 不予受理, 签收 vs 退回 ...).
ACTIONS = {"register": "受理", "timer": "超时（系统定时）", "reveal_reporter": "查看完整号码",
           "incident": "流程异常", "resolve_incident": "异常已处理", "claim": "认领", "unclaim": "取消认领",
           "repeat_call": "回头件来电", "reopen": "回头件重办", "reminder": "到期提醒（系统定时）",
           "attach": "上传附件", "attachment_download": "查看附件", "location": "记录位置",
           "unassign": "停用账号，退回待办池", "sign_off_released": "签批销号转交"}
TASK_ACTIONS = {"dispatch": "派单", "sign_for": "签收", "reassign": "改派", "handle": "答复",
                "approve_extension": "延期审批", "verify": "核实", "follow_up": "回访", "close": "销号",
                "urge": "催办", "interview_or_notice": "约谈/通报", "accountability": "追责", "verify_close": "核实销号"}
DECISIONS = {"refuse": "不予受理", "merge_duplicate": "并单", "return": "退回", "extension_request": "延期申请",
             "interview": "约谈", "notice": "通报"}
# Two-way decisions named after the choice made, as 签收 vs 退回 are.
CHOICES = {("verify_result", "passed"): "核实通过", ("verify_result", "failed"): "核实不通过",
           ("extension_decision", "approve"): "同意延期", ("extension_decision", "reject"): "不同意延期"}
# The unit a person without a department acts for, shown beside their name.
ROLE_UNITS = {"dispatcher": "指挥中心", "operator": "指挥中心", "supervisor_center": "社会治理中心",
              "supervisor_discipline": "纪工委", "supervisor_party": "党工委", "admin": "系统管理员"}
ACTORS = {"scheduler": "系统（定时）", "cli": "命令行", "web": "网页", "api": "接口", "system": "系统"}

# Case columns in the order the page shows them; also the names of column changes on the timeline.
FIELDS = {"channel": "来源渠道", "type": "诉求类型", "category": "类别", "difficulty": "难度", "urgent": "紧急",
          "address": "地址", "grid": "网格", "department": "承办部门", "status": "状态",
          "registered_at": "受理时间", "registered_by": "受理人", "dispatched_at": "派单时间",
          "reassigned_at": "改派时间",
          "signed_at": "签收时间", "deadline": "办理时限", "replied_at": "答复时间", "verified_at": "核实时间",
          "followed_up_at": "回访时间", "closed_at": "销号时间", "satisfaction": "满意度",
          "return_count": "退回次数", "redo_count": "重办次数", "repeat_calls": "回头件来电", "extensions": "延期",
          "supervision_tier": "督办级别", "refuse_reason": "不予受理理由", "merged_into": "并入工单"}
SATISFACTION = {"satisfied": "满意", "mostly_satisfied": "基本满意", "unsatisfied": "不满意", "unreachable": "联系不上"}
MEASURES = {"interview": "约谈", "notice": "通报"}
DECISIONS_3 = {"criticism_notice": "通报批评", "interview": "约谈", "accountability": "问责"}
TIMESTAMPS = {"registered_at", "dispatched_at", "reassigned_at", "signed_at", "deadline", "replied_at", "verified_at",
              "followed_up_at", "closed_at"}


# -- reading one case ---------------------------------------------------------------------------
def _core():
    return current_app.extensions["bihuan"]


def _case_or_abort(session, number: str) -> Case:
    case = session.scalars(select(Case).where(Case.number == number)).first()
    if case is None:
        abort(404)
    if not can_view_case(session, current_user, case):
        abort(403)
    return case


def _task_url(task_id: str) -> str:
    return url_for("tasks.task", task_id=task_id)


class Labels:
    """Turns stored identifiers into the words people read: users, departments, grids, form values."""

    def __init__(self, session, bundle_forms: dict, bundle_tasks: dict, names: dict[str, str],
                 translations: dict[str, str] | None = None):
        self.users = dict(session.execute(select(User.username, User.display_name)).all())
        self.departments = department_names(session)
        self.grids = dict(session.execute(select(Grid.code, Grid.name)).all())
        self._people = {u.username: u for u in session.scalars(select(User))}
        self.forms, self.tasks, self.names = bundle_forms, bundle_tasks, names
        self.translations = translations or {}  # the English of the version's own labels

    def name(self, text: str | None) -> str:
        """A task or element name of the case's process version in the UI's language."""
        return term(text, self.translations)

    def user(self, username: str | None) -> str:
        if not username:
            return ""
        if username in ACTORS:
            return _(ACTORS[username])
        return self.users.get(username, username)

    def unit(self, username: str | None) -> str:
        """The department (or grid, or office) a person acts for: who did it is a name and a unit."""
        person = self._people.get(username) if username else None
        if person is None:
            return ""
        if person.department:
            return self.department(person.department)
        if person.grid and "grid_worker" in person.roles:
            return self.grids.get(person.grid, person.grid)
        return next((_(unit) for role, unit in ROLE_UNITS.items() if role in person.roles), "")

    def department(self, code: str | None) -> str:
        return term(self.departments.get(code, code)) if code else ""

    def element(self, bpmn_id: str) -> str:
        return self.name(self.names.get(bpmn_id)) or bpmn_id

    def form_of(self, bpmn_id: str | None) -> dict:
        meta = self.tasks.get(bpmn_id) if bpmn_id else None
        return self.forms.get(meta.form, {}) if meta and meta.form else {}

    def form_data(self, bpmn_id: str | None, data: dict) -> list[tuple[str, str]]:
        """Submitted form values as (field title, readable value), in the form's field order."""
        if not isinstance(data, dict):
            return [("", str(data))]
        properties = self.form_of(bpmn_id).get("properties", {})
        keys = [k for k in properties if k in data] + [k for k in data if k not in properties]
        out = []
        for key in keys:
            prop = properties.get(key, {})
            value = data[key]
            if "enum" in prop and "enumNames" in prop and value in prop["enum"]:
                value = form_text(prop["enumNames"][prop["enum"].index(value)], self.translations)
            elif key == "department":
                value = self.department(value) or _("按派单规则")
            elif key == "category":
                value = term(value)
            out.append((form_text(prop.get("title", key), self.translations), self.value(value)))
        return out

    def column(self, name: str, value) -> str:
        if value is None or value == "":
            return "—"
        if name in TIMESTAMPS:
            return local(value)
        if name in ("status", "channel", "type", "difficulty"):
            return label(value, name)
        if name == "department":
            return self.department(value)
        if name == "grid":
            return term(self.grids.get(value, value))
        if name == "category":
            return term(value)
        if name == "registered_by":
            return self.user(value)
        if name == "satisfaction":
            return _(SATISFACTION.get(value, value))
        if name == "supervision_tier":
            return label(value, "tier") if value else _("无")
        if name == "extensions":
            return _("%(n)s 次", n=len(value)) if isinstance(value, list) else str(value)
        return self.value(value)

    @staticmethod
    def value(value) -> str:
        if isinstance(value, bool):
            return _("是") if value else _("否")
        if value is None:
            return "—"
        if isinstance(value, (list, dict)):
            return json.dumps(value, ensure_ascii=False)
        return str(value)


def _action_label(labels: Labels, entry: AuditEntry) -> str:
    if entry.action != "complete":
        return _(ACTIONS[entry.action]) if entry.action in ACTIONS else entry.action
    data = (entry.changes or {}).get("data") or {}
    decision = data.get("decision") or data.get("measure") if isinstance(data, dict) else None
    if decision in DECISIONS:
        return _(DECISIONS[decision])
    if isinstance(data, dict):
        # (a list value, e.g. 联动处置's co_handlers, is never a choice)
        choice = next((CHOICES[(k, v)] for k, v in data.items()
                       if not isinstance(v, (list, dict)) and (k, v) in CHOICES), None)
        if choice:
            return _(choice)
    if entry.task_bpmn_id in TASK_ACTIONS:
        return _(TASK_ACTIONS[entry.task_bpmn_id])
    return labels.name(entry.task_name) or entry.task_bpmn_id or entry.action


def _timeline_entry(labels: Labels, entry: AuditEntry) -> dict:
    changes = entry.changes or {}
    details: list[tuple[str, str]] = []
    if entry.action == "complete":
        details += labels.form_data(entry.task_bpmn_id, changes.get("data") or {})
        if changes.get("unit"):  # a co-handler's part (联动处置)
            details.insert(0, (_("协办单位"), labels.department(changes["unit"])))
        columns = changes.get("columns") or {}
    elif entry.action == "register":
        details += [(_(FIELDS[k]), labels.column(k, changes.get(k))) for k in ("channel", "type", "category")
                    if changes.get(k)]
        columns = {k: v for k, v in changes.items() if k not in ("channel", "type", "category")}
    elif entry.action in ("timer", "reminder"):
        details.append((_("到期"), "、".join(labels.element(t) for t in changes.get("timers") or [])))
        columns = changes.get("columns") or {}
    elif entry.action in ("repeat_call", "reopen"):  # app/intake/repeat_calls.py
        details.append((_("来电内容"), changes.get("text") or ""))
        columns = {"repeat_calls": changes.get("repeat_calls"), **(changes.get("columns") or {})}
    elif entry.action in ("unassign", "sign_off_released"):  # app/org/services.py release_tasks
        old = (changes.get("assignee") or [None])[0]
        details.append((_("原办理人"), labels.user(old) if old else ""))
        if entry.action == "sign_off_released":
            details.append((_("转交"), _("可批示督办的领导和党工委")))
        columns = {}
    else:
        columns = {}
        details += [(k, labels.value(v)) for k, v in changes.items()]
    for name, change in columns.items():
        if name in FIELDS and isinstance(change, list) and len(change) == 2:
            item = (_(FIELDS[name]), labels.column(name, change[1]))
            if item not in details:  # a form value the process copied as is (类别) is said once
                details.append(item)
    return {"at": entry.at, "actor": labels.user(entry.actor), "unit": labels.unit(entry.actor),
            "action": _action_label(labels, entry), "task_id": entry.task_id, "task_bpmn_id": entry.task_bpmn_id,
            "task": labels.name(entry.task_name), "details": details, "source": entry.source}


def labels_for(session, bundle) -> Labels:
    return Labels(session, bundle.forms if bundle else {}, bundle.tasks if bundle else {},
                  bundle.element_names if bundle else {}, bundle.labels if bundle else {})


def timeline(session, case: Case, bundle, labels: Labels | None = None, last: int | None = None) -> list[dict]:
    """The case's history as the case page shows it (oldest first); ``last`` keeps only the newest entries.
    The task pages use it too, so a 退回 reads 退回 and people are names with their units everywhere."""
    labels = labels or labels_for(session, bundle)
    query = select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id.desc())
    entries = session.scalars(query.limit(last) if last else query).all()
    return [_timeline_entry(labels, h) for h in reversed(entries)]


def case_page(session, case: Case, user, reveal: bool = False) -> dict:
    """Everything the case page shows, read in one session (a handful of indexed queries)."""
    inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == case.id)).first()
    bundle = _core().bundles.get(session, inst.process_version_id) if inst else None
    labels = labels_for(session, bundle)
    tasks = session.scalars(select(ReadyTask).where(ReadyTask.case_id == case.id).order_by(ReadyTask.created_at))
    items = session.scalars(select(SupervisionItem).where(SupervisionItem.case_id == case.id)
                            .order_by(SupervisionItem.opened_at, SupervisionItem.tier)).all()
    incidents = session.scalars(select(Incident).where(Incident.case_id == case.id).order_by(Incident.id)).all()
    return {
        "case": case,
        "fields": [(_(title), labels.column(name, getattr(case, name))) for name, title in FIELDS.items()
                   if getattr(case, name) not in (None, "", [], 0) or name in ("status", "supervision_tier")],
        "open": case.status not in FINISHED_STATUSES,
        "reporter_name": case.reporter_name if reveal else mask_name(case.reporter_name),
        "reporter_phone": case.reporter_phone if reveal else mask_phone(case.reporter_phone),
        "revealed": reveal,
        "timeline": timeline(session, case, bundle, labels),
        "tasks": [{"id": t.id, "name": labels.name(t.name), "role": t.role,
                   "department": labels.department(t.department),
                   "due_at": t.due_at, "assignee": labels.user(t.assignee), "mine": may_do_task(user, t.role, t.department, t.assignee),
                   "url": _task_url(t.id), "tier": t.supervision_tier} for t in tasks],
        "items": [{"item": i, "department": labels.department(i.department),
                   "measure": _(MEASURES[i.measure]) if i.measure in MEASURES else i.measure,
                   "decision": _(DECISIONS_3[i.accountability_decision])
                   if i.accountability_decision in DECISIONS_3 else i.accountability_decision,
                   "records": [{"name": labels.name(r.get("name")) or r.get("task"), "by": labels.user(r.get("by")),
                                "at": r.get("at"), "details": labels.form_data(r.get("task"), r.get("data") or {})}
                               for r in (i.records or []) if isinstance(r, dict)]} for i in items],
        "incidents": incidents,
        "has_diagram": inst is not None,
    }


# -- pages ----------------------------------------------------------------------------------------
@bp.get("/<number>")
@login_required
def detail(number: str):
    with _core().db.read() as session:
        case = _case_or_abort(session, number)
        return render_template("cases/detail.html", **case_page(session, case, current_user))


@bp.post("/<number>/reporter")
@login_required
def reveal_reporter(number: str):
    """Show the reporter's full name and phone once. The service refuses who may not unmask them and
    records the look in the same transaction as it reads them (a Forbidden becomes the 403 page)."""
    _core().cases.show(number, viewer=current_user.username, reveal_reporter=True, source="web")
    # The look is committed before anything is shown; the page is read afterwards like any other.
    with _core().db.read() as session:
        case = _case_or_abort(session, number)
        body = render_template("cases/detail.html", **case_page(session, case, current_user, reveal=True))
    # Rendered in this response only: a reload or the back button must not show it from a cache.
    return body, 200, {"Cache-Control": "no-store"}


@bp.get("/<number>/diagram")
@login_required
def diagram(number: str):
    """The case's diagrams (its own deployed version) and the elements it has passed and waits on."""
    with _core().db.read() as session:
        case = _case_or_abort(session, number)
        inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == case.id)).first()
        if inst is None:
            abort(404)
        version = session.get(ProcessVersion, inst.process_version_id)
        bundle = _core().bundles.get(session, inst.process_version_id)
        wf = _core().engine.restore(bundle, inst.process_id, load_state(session, inst))  # archived too
    path = _core().engine.path(wf)
    from ..joint.views import diagram_parts
    path["co_handling"] = diagram_parts(path.get("co_handling") or [])
    runs = path.pop("supervision")
    # The live escalation if there is one, else the latest: that is the one people ask about.
    run = next((r for r in reversed(runs) if not r["finished"]), runs[-1] if runs else None)
    body = {"version": version.version, "xml": translate_bpmn_names(version.files.get(LIFECYCLE_FILE), bundle.labels),
            **path, "supervision": None}
    if run is not None:
        body["supervision"] = {"xml": translate_bpmn_names(version.files.get(SUPERVISION_FILE), bundle.labels),
                               "call": run["call"],
                               "finished": run["finished"], "completed": run["completed"],
                               "ready": run["ready"], "waiting": run["waiting"]}
    return jsonify(body)


@bp.get("/search")
@login_required
def search():
    criteria = Criteria.from_args(request.args)
    try:
        page = int(request.args.get("page", 1))
    except ValueError:
        page = 1
    with _core().db.read() as session:
        result = search_cases(session, current_user, criteria, page)
        departments = department_names(session)
    return render_template("cases/search.html", criteria=criteria, result=result, departments=departments,
                           statuses=STATUSES, channels=CHANNELS, types=TYPES, mask_phone=mask_phone,
                           finished=FINISHED_STATUSES, args=criteria.query_args(), now=utcnow())
