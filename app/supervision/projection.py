"""Keep supervision items in step with the escalation runs inside a case's workflow.

Each call of ``supervision_escalation`` is a run, keyed by the call activity's
task id. Every tier the run reaches becomes one item; lower tiers are marked
escalated when the run moves up, open items are marked replied when the
department answers, and all of the run's items are closed when the center
completes 核实销号 and the run ends.

Items change only through ``sync_supervision_items``, from the runs before and
after an action, so the transitions are computed without reading the items; only
opening an item reads the case's earlier ones (one SELECT), to number a repeated
cause (第2次) and to keep the run's department should the run not name it (runs
started before ``escalation_department`` existed). Nothing is flushed here: the
items opened are written with the rest of the action, so a sweep that fires fifty
escalations inserts their items in one batch at its commit.

An item is against ``escalation_department`` and counts 超期 from
``escalation_deadline``, both set by the script that starts the run (see
case_lifecycle.bpmn) and kept by every tier, whatever the case's department
becomes afterwards.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflows.engine import SupervisionRun
from workflows.workdays import parse_instant

from ..db import held
from .models import SupervisionItem


def sync_supervision_items(session: Session, case, before: dict[str, SupervisionRun],
                           after: dict[str, SupervisionRun], now: datetime, opened: list | None = None) -> int:
    """Write item transitions; return the case's current (highest open) tier, 0 if none. The items
    opened are appended to ``opened``; they are added to the session, not flushed."""
    def items_of(key: str):
        return update(SupervisionItem).where(SupervisionItem.case_id == case.id, SupervisionItem.run_key == key)

    current, earlier, new = 0, None, []
    for key, run in after.items():
        prev = before.get(key)
        if run.completed:
            if prev is None or not prev.completed:
                session.execute(items_of(key).where(SupervisionItem.status != "closed")
                                .values(status="closed", closed_at=now))
            continue
        if run.tier >= 1 and (prev is None or prev.tier != run.tier):
            if prev is not None and prev.tier:
                session.execute(items_of(key).where(SupervisionItem.tier < run.tier, SupervisionItem.status == "open")
                                .values(status="escalated", escalated_at=now))
            if earlier is None:
                earlier = _earlier_items(session, case.id)
            items = earlier + new  # the ones this action opened count too (not flushed yet)
            first = min((i for i in items if i.run_key == key), key=lambda i: i.tier, default=None)
            # The department is the one the run was opened against (the returning department for
            # 推诿扯皮), kept by every tier; the case's current department may have changed since.
            department = run.department or (first.department if first else case.department)
            reason = run.reason or "delay"
            item = SupervisionItem(
                case_id=case.id, run_key=key, tier=run.tier, reason=reason,
                department=department, status="replied" if run.replied else "open",
                opened_at=parse_instant(run.opened_at) if run.opened_at else now,
                due_at=parse_instant(run.due) if run.due else None, records=[],
                missed_deadline=parse_instant(run.deadline) if run.deadline else None, step=run.step,
                cause_no=first.cause_no if first else _next_cause_no(items, reason, department))
            session.add(item)
            new.append(item)
            if opened is not None:
                opened.append(item)
        elif run.replied and not (prev and prev.replied):
            session.execute(items_of(key).where(SupervisionItem.status == "open").values(status="replied"))
        current = max(current, run.tier)
    return current


_READ_AHEAD = "bihuan_items_read_ahead"
_COLUMNS = (SupervisionItem.case_id, SupervisionItem.run_key, SupervisionItem.tier, SupervisionItem.reason,
            SupervisionItem.department, SupervisionItem.cause_no)


def items_read_ahead(session: Session, case_ids: list[int]):
    """Within the block, the written items of these cases are read once, up front: for a transaction
    that applies one action to each of them (the timer sweep's chunk), one SELECT instead of one or
    two per case. Enter it after their instances' version checks, so that no other writer can add
    items to them meanwhile."""
    found: dict[int, list] = {case_id: [] for case_id in case_ids}
    with session.no_autoflush:
        for row in session.execute(select(*_COLUMNS).where(SupervisionItem.case_id.in_(case_ids))):
            found[row.case_id].append(row)
    return held(session, _READ_AHEAD, found)


def read_ahead_of(session: Session, case_id: int) -> list | None:
    """The case's items as ``items_read_ahead`` found them, or None if they were not read ahead."""
    return session.info.get(_READ_AHEAD, {}).get(case_id)


def _earlier_items(session: Session, case_id: int | None) -> list:
    """The case's items as far as numbering and departments go (a case has a handful): those
    written (read ahead with the rest of a chunk, or else now), and any an earlier action of the
    same transaction added and did not flush."""
    if case_id is None:
        return []
    pending = [o for o in session.new if isinstance(o, SupervisionItem) and o.case_id == case_id]
    written = read_ahead_of(session, case_id)
    if written is None:
        with session.no_autoflush:
            written = list(session.execute(select(*_COLUMNS).where(SupervisionItem.case_id == case_id)))
    return pending + written


def _next_cause_no(items: list, reason: str, department: str | None) -> int:
    """1 + the escalations this case already had for this reason against this department."""
    return len({i.run_key for i in items if i.reason == reason and i.department == department}) + 1


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
