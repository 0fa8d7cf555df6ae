"""Keep supervision items in step with the escalation runs inside a case's workflow.

Each call of ``supervision_escalation`` is a run, keyed by the call activity's
task id. Every tier the run reaches becomes one item; an item is escalated when
the run moves up, marked replied when the department answers, and closed when
the center completes 核实销号 and the run ends.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.engine import Engine
from workflows.workdays import parse_instant

from .models import SupervisionItem

OPEN_STATUSES = ("open", "replied")


def sync_supervision_items(session: Session, engine: Engine, case, wf, now: datetime) -> int:
    """Create/advance/close items; return the case's current (highest open) tier, 0 if none."""
    runs = engine.supervision_runs(wf)
    if not runs:
        return 0
    items: dict[tuple[str, int], SupervisionItem] = {
        (i.run_key, i.tier): i
        for i in session.scalars(select(SupervisionItem).where(SupervisionItem.case_id == case.id))
    }
    for run in runs:
        mine = [i for (key, _tier), i in items.items() if key == run.key]
        if run.completed:
            for item in mine:
                if item.status != "closed":
                    item.status, item.closed_at = "closed", now
            continue
        if run.tier >= 1 and (run.key, run.tier) not in items:
            item = SupervisionItem(
                case_id=case.id, run_key=run.key, tier=run.tier, reason=run.reason or "delay",
                department=case.department, status="open",
                opened_at=parse_instant(run.opened_at) if run.opened_at else now,
                due_at=parse_instant(run.due) if run.due else None, records=[])
            session.add(item)
            items[(run.key, run.tier)] = item
            mine.append(item)
        for item in mine:
            if item.tier < run.tier and item.status == "open":
                item.status, item.escalated_at = "escalated", now
            if run.replied and item.status == "open":
                item.status = "replied"
    return max((i.tier for i in items.values() if i.status in OPEN_STATUSES), default=0)


def record_tier_action(session: Session, case_id: int, run_key: str, tier: int, entry: dict) -> None:
    """Append what a supervisor recorded (催办, 约谈/通报, 追责, 核实销号) to the item of that tier."""
    item = session.scalars(select(SupervisionItem).where(
        SupervisionItem.case_id == case_id, SupervisionItem.run_key == run_key,
        SupervisionItem.tier == tier)).first()
    if item is None:
        return
    item.records = list(item.records or []) + [entry]
    data = entry.get("data", {})
    if data.get("measure"):
        item.measure = data["measure"]
    if data.get("accountability_decision"):
        item.accountability_decision = data["accountability_decision"]
        item.responsible_person = data.get("responsible_person")
