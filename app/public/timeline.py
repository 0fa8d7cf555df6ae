"""The public timeline of a case: the steps a resident understands (受理 → 派单 → 办理中 → 已答复 →
已回访 → 已办结), each with the day it was reached.

It is read from the case's own timestamp columns, never from the audit trail: the trail carries
names, internal notes and form data, and a public page must not be one filter away from them.
Reading columns also keeps the status page and Open311's ``status_notes`` to one row per case.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..cases.models import Case

# (key, label, the column that says the step was reached)
STEPS = (("registered", _l("受理"), "registered_at"),
         ("dispatched", _l("派单"), "dispatched_at"),
         ("handling", _l("办理中"), "signed_at"),
         ("replied", _l("已答复"), "replied_at"),
         ("followed_up", _l("已回访"), "followed_up_at"),
         ("closed", _l("已办结"), "closed_at"))
# Where a case can end without running the loop: the resident sees that, not five steps never reached.
ENDINGS = {"refused": _l("不予受理"), "merged": _l("已并入其他工单办理")}
PUBLIC_STATUS = {"registered": _l("已受理，等待派单"), "dispatched": _l("已派至承办部门"),
                 "returned": _l("正在重新派单"), "handling": _l("承办部门办理中"), "replied": _l("已答复，正在核实"),
                 "verified": _l("已核实，等待回访"), "closed": _l("已办结"), "refused": _l("不予受理"),
                 "merged": _l("已并入其他工单办理")}
OPEN311_CLOSED = ("closed", "refused", "merged")


@dataclass
class Step:
    key: str
    label: str
    at: datetime | None
    state: str  # done, current, pending

    @property
    def done(self) -> bool:
        return self.state != "pending"


def public_steps(case: Case) -> list[Step]:
    if case.status in ENDINGS:
        ended = case.closed_at or case.registered_at
        return [Step("registered", str(STEPS[0][1]), case.registered_at, "done"),
                Step(case.status, str(ENDINGS[case.status]), ended, "current")]
    reached = [getattr(case, column) for _key, _label, column in STEPS]
    # A redo (重办) clears nothing, but a later step may be reached while an earlier timestamp is
    # missing (e.g. a case dispatched before the column existed): a step counts when it or any later
    # one was reached, so the line never shows a gap.
    last = max((i for i, at in enumerate(reached) if at is not None), default=0)
    if case.status in ("dispatched", "returned") and last > 1:
        last = 1  # sent back and dispatched again: the department has not taken it up yet
    steps = []
    for i, (key, label, _column) in enumerate(STEPS):
        state = "done" if i < last else "current" if i == last else "pending"
        if case.status == "closed" and i == last:
            state = "done"
        steps.append(Step(key, str(label), reached[i] if i <= last else None, state))
    return steps


def public_status(case: Case) -> str:
    return str(PUBLIC_STATUS.get(case.status, case.status))


def latest_step(case: Case) -> tuple[str, datetime]:
    """(step key, when) of the latest step reached: what public_steps shows last with a time,
    without building the whole line (Open311 lists up to 1000 cases at once)."""
    if case.status in ENDINGS:
        return case.status, case.closed_at or case.registered_at
    for key, _label, column in reversed(STEPS):
        at = getattr(case, column)
        if at is not None:
            if case.status in ("dispatched", "returned") and key not in ("registered", "dispatched"):
                return "dispatched", case.dispatched_at or case.registered_at
            return key, at
    return "registered", case.registered_at


def label_table() -> dict[str, str]:
    """Every public label in the current language, translated once (a listing reuses them)."""
    table = {f"status:{key}": str(label) for key, label in PUBLIC_STATUS.items()}
    table.update({f"step:{key}": str(label) for key, label, _column in STEPS})
    table.update({f"step:{key}": str(label) for key, label in ENDINGS.items()})
    return table
