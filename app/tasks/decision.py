"""What a decision needs, shown beside the task's form so nobody has to open the case page and come back.

Each block is read from what the case recorded (the audit rows of completed tasks, the case columns,
the supervision items), never typed again:

    核实       the department's reply                       reply
    延期审批   days asked, reason, deadline now and after    extension
    改派       who returned it and why                       returned (+ a warning for the same department)
    办理(重办) why it came back, and the earlier reply       redo, reply
    回访       the reply, and the reporter's phone unmasked  reply, reporter (revealed by the view, audited)
    督办       the department, the item across tiers, the case's timeline     item, timeline
    派单       which department 按派单规则 picks            routing

The task's kind is its form (``verify.schema.json`` ...), so a designer who reuses a shipped form on
another task gets the same context.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from workflows.rules import DecisionError, routing_preview
from workflows.workdays import CalendarGap

from ..cases.models import AuditEntry, WorkflowInstance
from ..cases.views import labels_for, timeline
from ..supervision.models import SupervisionItem

SUPERVISION_FORMS = ("urge", "interview_or_notice", "accountability", "verify_close")
# Tasks whose page shows the whole timeline; the others show the newest entries.
HISTORY = 12


@dataclass
class Decision:
    kind: str
    reply: dict | None = None
    extension: dict | None = None
    returned: dict | None = None
    redo: dict | None = None
    item: dict | None = None
    routing: dict | None = None
    timeline: list[dict] = field(default_factory=list)
    full_timeline: bool = False


def kind_of(ctx) -> str:
    meta = ctx.bundle.tasks.get(ctx.bpmn_id)
    form = (meta.form if meta and meta.form else "") or ""
    return form.removesuffix(".schema.json") or ctx.bpmn_id


def _completions(session, case_id: int) -> list[AuditEntry]:
    return session.scalars(select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.action == "complete")
                           .order_by(AuditEntry.id)).all()


def _data(entry: AuditEntry) -> dict:
    data = (entry.changes or {}).get("data")
    return data if isinstance(data, dict) else {}


def _last(entries, bpmn_id: str, **wanted) -> AuditEntry | None:
    for entry in reversed(entries):
        data = _data(entry)
        if entry.task_bpmn_id == bpmn_id and all(data.get(k) == v for k, v in wanted.items()):
            return entry
    return None


def _reply(labels, entries) -> dict | None:
    entry = _last(entries, "handle", decision="reply")
    if entry is None:
        return None
    # task_id lets the attachments of that reply be found (tasks/_reply_attachments.html).
    return {"text": _data(entry).get("reply_text") or "", "by": labels.user(entry.actor),
            "unit": labels.unit(entry.actor), "at": entry.at, "task_id": entry.task_id, "entry_id": entry.id}


def _extension(core, case, entries) -> dict | None:
    entry = _last(entries, "handle", decision="extension_request")
    if entry is None:
        return None
    data = _data(entry)
    days = data.get("extension_days")
    result = {"days": days, "reason": data.get("extension_reason") or "", "at": entry.at,
              "deadline": case.deadline, "new_deadline": None, "error": "",
              "earlier": len(case.extensions or [])}
    if case.deadline and isinstance(days, int):
        try:  # the same working-day calendar apply_extension will use
            result["new_deadline"] = core.calendar.current().working_days_after(case.deadline, days)
        except (CalendarGap, ValueError) as exc:
            result["error"] = str(exc)
    return result


def _returned(labels, case, entries) -> dict | None:
    entry = _last(entries, "sign_for", decision="return")
    if entry is None:
        return None
    # Until 改派 the case still names the department that returned it (the process's returned_from).
    return {"department": case.department, "department_name": labels.department(case.department),
            "reason": _data(entry).get("return_reason") or "", "by": labels.user(entry.actor), "at": entry.at,
            "count": case.return_count}


def _redo(labels, entries) -> dict | None:
    """Why the case is back at the department: the resident was unsatisfied, or 核实 did not pass."""
    reply = _last(entries, "handle", decision="reply")
    if reply is None:
        return None
    later = [e for e in entries if e.id > reply.id]
    unsatisfied = _last(later, "follow_up", satisfaction="unsatisfied")
    failed = _last(later, "verify", verify_result="failed")
    cause = max((e for e in (unsatisfied, failed) if e is not None), key=lambda e: e.id, default=None)
    if cause is None:
        return None
    data = _data(cause)
    return {"kind": "unsatisfied" if cause is unsatisfied else "verify_failed",
            "note": data.get("follow_up_note") if cause is unsatisfied else data.get("verify_note"),
            "by": labels.user(cause.actor), "unit": labels.unit(cause.actor), "at": cause.at}


def _item(core, session, labels, ctx) -> dict | None:
    """The supervision item this task acts on, with the same cause's items at the other tiers."""
    inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == ctx.case.id)).first()
    if inst is None:
        return None
    wf = core.engine.restore(ctx.bundle, inst.process_id, inst.state)
    key = next((t.supervision_key for t in core.engine.ready_tasks(ctx.bundle, wf) if t.id == ctx.id), None)
    if key is None:
        return None
    items = session.scalars(select(SupervisionItem).where(SupervisionItem.case_id == ctx.case.id,
                                                          SupervisionItem.run_key == key)
                            .order_by(SupervisionItem.tier, SupervisionItem.id)).all()
    if not items:
        return None
    current = next((i for i in items if i.tier == ctx.tier), items[-1])
    return {"department": current.department, "department_name": labels.department(current.department),
            "reason": current.reason, "opened_at": current.opened_at, "due_at": current.due_at,
            "tiers": [{"tier": i.tier, "status": i.status, "opened_at": i.opened_at, "due_at": i.due_at,
                       "escalated_at": i.escalated_at, "department_name": labels.department(i.department),
                       "records": [{"name": labels.name(r.get("name")) or r.get("task"), "by": labels.user(r.get("by")),
                                    "unit": labels.unit(r.get("by")), "at": r.get("at"),
                                    "details": labels.form_data(r.get("task"), r.get("data") or {})}
                                   for r in (i.records or []) if isinstance(r, dict)]}
                      for i in items]}


def routing(core, ctx, values: dict) -> dict:
    """The department 按派单规则 would pick for the form's category, as route will on submit."""
    chosen = values.get("department") or ""
    category = values.get("category") or ctx.case.category
    names = ctx.department_names
    result = {"category": category, "chosen": chosen, "chosen_name": names.get(chosen, chosen),
              "routed": None, "routed_name": "", "error": ""}
    if not category:
        return result
    try:
        routed = routing_preview(ctx.bundle, core.engine.script_engine, {
            "category": category, "type": ctx.case.type, "channel": ctx.case.channel,
            "urgent": bool(values.get("urgent")), "difficulty": values.get("difficulty") or "normal"})
    except DecisionError as exc:
        result["error"] = str(exc)
        return result
    result.update(routed=routed, routed_name=names.get(routed, routed) if routed else "")
    return result


def reassign_warning(ctx, decision: Decision, department: str | None) -> str | None:
    """The department's name when 改派 would send the case straight back to the one that returned it."""
    returned = decision.returned
    if returned and department and department == returned["department"]:
        return returned["department_name"]
    return None


def build(core, session, ctx, values: dict) -> Decision:
    labels = labels_for(session, ctx.bundle)
    entries = _completions(session, ctx.case.id)
    decision = Decision(kind=kind_of(ctx))
    kind = decision.kind
    if kind in ("verify", "follow_up", "verify_close"):
        decision.reply = _reply(labels, entries)
    elif kind == "approve_extension":
        decision.extension = _extension(core, ctx.case, entries)
    elif kind == "reassign":
        decision.returned = _returned(labels, ctx.case, entries)
    elif kind == "handle":
        decision.redo = _redo(labels, entries)
        if decision.redo:
            decision.reply = _reply(labels, entries)
    elif kind == "dispatch":
        decision.routing = routing(core, ctx, values)
    if kind in SUPERVISION_FORMS:
        decision.item = _item(core, session, labels, ctx)
        decision.full_timeline = True
    decision.timeline = timeline(session, ctx.case, ctx.bundle, labels, None if decision.full_timeline else HISTORY)
    return decision
