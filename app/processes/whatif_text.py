"""Why a case's outcome changes under the draft, in the designer's words.

The replay stores reasons as ``{code, params}`` (language-free, in the stored JSON); ``describe``
turns one into the sentence shown on the page (Chinese msgid, English through the catalogue) and
``why`` joins a case's reasons. ``change_why`` says why a diagram or table change was (not) replayed.
"""
from __future__ import annotations

from datetime import datetime

from workflows.workdays import SHANGHAI

from .problem_text import N_
from .problem_text import tr as _

REASONS = {
    "department": N_("承办部门按草稿的分派规则由 %(old)s 改为 %(new)s"),
    "days": N_("办理时限由 %(old)s 个工作日改为 %(new)s 个工作日，到期日由 %(old_due)s 变为 %(new_due)s"),
    "became_overdue": N_("于 %(replied)s 答复，晚于新的到期日 %(due)s：由按期变为超期"),
    "became_on_time": N_("于 %(replied)s 答复，不晚于新的到期日 %(due)s：由超期变为按期"),
    "open_overdue": N_("至今未答复，新的到期日 %(due)s 已过：变为超期"),
    "open_not_due": N_("至今未答复，新的到期日 %(due)s 未到：不再计为超期"),
    "sign": N_("签收超时由「%(old)s」变为「%(new)s」（签收时限改变）"),
    "tier": N_("督办最高级别由 %(old)s 级变为 %(new)s 级"),
}
CHANGE_WHY = {
    "layout": N_("只改了布局，不影响结果"),
    "form_or_labels": N_("表单或标签改动，不影响时限、派单与计分"),
    "decision:deadlines": N_("按记录的派单时间重算办理时限"),
    "decision:routing": N_("按类别重算承办部门（仅对原先按规则派单的案件）"),
    "decision:scoring": N_("按草稿的分值重算考核计分"),
    "monthly_satisfaction": N_("月度满意率计分按月计算，未重放"),
    "sign_timer": N_("按记录的派单与签收时间重算签收超时"),
    "tier_script": N_("按记录的答复时间重算督办逐级时限"),
    "timer_unknown_shape": N_("定时表达式不是 working_days_after(记录时间, N) 的形式，无法从历史推算，未重放"),
    "tier_unknown_shape": N_("督办时限脚本不是 working_days_after(tier_opened_at, N) 的形式，未重放"),
    "same_expression": N_("表达式仍为 deadline，不影响结果"),
    "reminder": N_("只发提醒，不影响指标"),
    "renamed": N_("只改了名称，不影响结果"),
    "structural": N_("结构改动（新增或删除的任务、路径等）：历史中没有人走过这条路径，无法重放，结果未计入"),
    "behaviour": N_("改变了流程的行为（脚本、条件、表单分配等）：历史无法说明人们会怎样做，未重放"),
    "decision_not_replayed": N_("决策表 %(decision)s 的结果无法从记录的时间推算，未重放"),
}
YES, NO = N_("是"), N_("否")


def _local(value, fmt: str) -> str:
    """A recorded instant (datetime or ISO text) as Shanghai local time, "—" when there is none."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).strftime(fmt)


def _day(value) -> str:
    return _local(value, "%Y-%m-%d")


def _at(value) -> str:
    return _local(value, "%Y-%m-%d %H:%M")


def reasons(before: dict, after: dict) -> list[dict]:
    """Why ``after`` differs from ``before`` (two ``whatif.as_outcome`` dicts), most telling first."""
    out = []
    if before["department"] != after["department"]:
        out.append({"code": "department", "params": {"old": before["department"] or "—",
                                                     "new": after["department"] or "—"}})
    if before["deadline"] != after["deadline"]:
        out.append({"code": "days", "params": {"old": before["days"], "new": after["days"],
                                               "old_due": _day(before["deadline"]),
                                               "new_due": _day(after["deadline"])}})
    if before["overdue"] != after["overdue"] or before["on_time"] != after["on_time"]:
        due = _day(after["deadline"])
        if after["on_time"] and not before["on_time"]:
            out.append({"code": "became_on_time", "params": {"due": due, "replied": _at(after.get("replied"))}})
        elif before["on_time"] and after["overdue"]:
            out.append({"code": "became_overdue", "params": {"due": due, "replied": _at(after.get("replied"))}})
        elif after["overdue"]:
            out.append({"code": "open_overdue", "params": {"due": due}})
        else:
            out.append({"code": "open_not_due", "params": {"due": due}})
    if before["sign_overdue"] != after["sign_overdue"]:
        out.append({"code": "sign", "params": {"old": bool(before["sign_overdue"]),
                                               "new": bool(after["sign_overdue"])}})
    old_tier = max(before["delay_tier"], before["sign_tier"])
    new_tier = max(after["delay_tier"], after["sign_tier"])
    if old_tier != new_tier:
        out.append({"code": "tier", "params": {"old": old_tier, "new": new_tier}})
    return out


def describe(reason: dict) -> str:
    params = dict(reason.get("params") or {})
    for key in ("old", "new"):
        if isinstance(params.get(key), bool):  # 签收超时 yes / no
            params[key] = _(YES) if params[key] else _(NO)
    msgid = REASONS.get(reason.get("code"))
    return _(msgid, **params) if msgid else str(reason.get("code"))


def why(reasons_: list[dict]) -> str:
    return "；".join(describe(r) for r in reasons_)


def change_why(code: str) -> str:
    if code.startswith("decision_not_replayed:"):
        return _(CHANGE_WHY["decision_not_replayed"], decision=code.split(":", 1)[1])
    msgid = CHANGE_WHY.get(code)
    return _(msgid) if msgid else code
