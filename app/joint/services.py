"""联动处置 records and 批示督办: the service layer (one action, one transaction, audited).

    svc = JointService(core)
    svc.instruct("HD-...", user="leader", text="请三日内清理完毕", deadline="2026-11-06")
    svc.record_meeting("HD-...", user="dispatcher", held_on="2026-11-02", units=[...], decisions="...",
                       actions=[{"unit": "police", "action": "..."}])
    svc.record_disposal("HD-...", user="dispatcher", people_deployed=32, quantities={"structures_removed": 9})
"""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow
from workflows.rules import DecisionError, evaluate
from workflows.workdays import SHANGHAI

from ..auth.services import find_user
from ..cases.models import FINISHED_STATUSES, Case, WorkflowInstance
from ..cases.projection import apply, take_snapshot
from ..cases.services import audit
from ..cases.visibility import can_view_case
from ..errors import Forbidden, Invalid, NotFound
from ..org.models import Department
from ..supervision.models import INSTRUCTION_REASON, SupervisionItem
from .hooks import INSTRUCT_ROLES
from .models import CoHandler, DisposalRecord, JointMeeting, LeaderInstruction

# Who records the joint meeting and the disposal: the command center, or the lead department.
RECORD_ROLES = frozenset({"dispatcher", "admin"})
DISPOSAL_DECISION = "disposal_fields"
MAX_TEXT = 2000
MAX_QUANTITY = 1_000_000


def _text(value, field: str, label: str, required: bool = True, limit: int = MAX_TEXT) -> str | None:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        raise Invalid(f"{field} must be text", fields=[(field, f"{label}格式不正确")])
    if required and len(text) < 2:
        raise Invalid(f"{field} is required (at least 2 characters)", fields=[(field, f"请填写{label}（至少 2 个字）")])
    if len(text) > limit:
        raise Invalid(f"{field} is longer than {limit} characters", fields=[(field, f"{label}最多 {limit} 个字")])
    return text or None


def _day(value, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise Invalid(f"{field} must be a date YYYY-MM-DD, not '{value}'", fields=[(field, "日期格式应为 YYYY-MM-DD")]) from None


def _count(value, field: str, label: str) -> int:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_QUANTITY:
        raise Invalid(f"{field} must be a whole number from 0 to {MAX_QUANTITY}",
                      fields=[(field, f"{label}应为 0–{MAX_QUANTITY} 的整数")])
    return value


class JointService:
    def __init__(self, core):
        self.core = core

    def _case(self, session: Session, number: str, person) -> Case:
        case = session.scalars(select(Case).where(Case.number == number)).first()
        if case is None:
            raise NotFound(f"unknown case '{number}'")
        if not can_view_case(session, person, case):
            raise Forbidden(f"user '{person.username}' may not see case '{number}'")
        return case

    # -- 批示督办 ------------------------------------------------------------------------------
    def instruct(self, number: str, *, user: str, text: str, deadline, source: str = "cli") -> dict:
        """Mark an open case 批示督办: a tier-3 item at once, and the case closes only after this
        leader signs off (the lifecycle's 领导签批销号, reached through ``instructed_by``)."""
        text = _text(text, "instruction_text", "批示内容")
        due_day = _day(deadline, "deadline")
        now = utcnow()
        due = datetime.combine(due_day, time(23, 59, 59), SHANGHAI)
        if due <= now:
            raise Invalid(f"the deadline {due_day} has passed", fields=[("deadline", "督办期限须晚于今天")])
        with self.core.db.unit_of_work() as session:
            person = find_user(session, user)
            if not person.roles & INSTRUCT_ROLES:
                raise Forbidden(f"user '{person.username}' may not instruct cases (needs one of: "
                                f"{', '.join(sorted(INSTRUCT_ROLES))})")
            case = self._case(session, number, person)
            if case.status in FINISHED_STATUSES:
                raise Invalid(f"case '{number}' is {case.status}: only an open case can be instructed")
            if session.scalar(select(LeaderInstruction.id).where(LeaderInstruction.case_id == case.id,
                                                                 LeaderInstruction.signed_off_at.is_(None))):
                raise Invalid(f"case '{number}' already carries a leader's instruction that is not signed off")
            inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == case.id)).one()
            bundle = self.core.bundles.get(session, inst.process_version_id)
            wf = self.core.engine.restore(bundle, inst.process_id, inst.state)
            before = take_snapshot(self.core.engine, bundle, wf, with_state=False)
            self.core.engine.set_main_data(wf, {"instructed_by": person.username})
            apply(session, case, inst, before, take_snapshot(self.core.engine, bundle, wf), now)
            count = session.scalar(select(func.count()).select_from(LeaderInstruction)
                                   .where(LeaderInstruction.case_id == case.id)) or 0
            item = SupervisionItem(case_id=case.id, run_key=f"instruction-{count + 1}", tier=3,
                                   reason=INSTRUCTION_REASON, department=case.department, status="open",
                                   opened_at=now, due_at=due, records=[{
                                       "task": "instruct", "name": "批示督办", "by": person.username,
                                       "by_name": person.display_name, "at": now.isoformat(timespec="seconds"),
                                       "data": {"instruction_text": text}}], step=None, cause_no=count + 1)
            session.add(item)
            session.flush()
            row = LeaderInstruction(case_id=case.id, item_id=item.id, instructed_by=person.username, text=text,
                                    deadline=due, created_at=now)
            session.add(row)
            audit(session, actor=person.username, action="instruct", case=case, source=source,
                  changes={"instruction_text": text, "deadline": due.isoformat(timespec="seconds")}, at=now)
            session.flush()
            return {"number": case.number, "item_id": item.id, "tier": 3, "deadline": due.isoformat(timespec="seconds"),
                    "instructed_by": person.username}

    # -- 专题会议 and 处置记录 --------------------------------------------------------------------
    def _may_record(self, session: Session, person, case: Case) -> None:
        if person.roles & RECORD_ROLES:
            return
        if "handler" in person.roles and person.department and person.department == case.department:
            return
        raise Forbidden(f"user '{person.username}' may not record the joint disposal of case '{case.number}' "
                        "(the command center or the lead department)")

    def _units(self, session: Session, codes, field: str) -> list[str]:
        if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip() for c in codes):
            raise Invalid(f"{field} must be a list of unit codes", fields=[(field, "请填写单位代码")])
        codes = [c.strip() for c in codes]
        known = set(session.scalars(select(Department.code).where(Department.code.in_(codes))))
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise Invalid(f"unknown unit '{unknown[0]}'", fields=[(field, f"单位 {unknown[0]} 不存在")])
        return list(dict.fromkeys(codes))

    def record_meeting(self, number: str, *, user: str, held_on, units, decisions: str, actions=None,
                       source: str = "cli") -> dict:
        day = _day(held_on, "held_on")
        decisions = _text(decisions, "decisions", "会议决定")
        now = utcnow()
        if day > now.astimezone(SHANGHAI).date():
            raise Invalid("the meeting date is in the future", fields=[("held_on", "会议日期不能晚于今天")])
        with self.core.db.unit_of_work() as session:
            person = find_user(session, user)
            case = self._case(session, number, person)
            self._may_record(session, person, case)
            present = self._units(session, units, "units")
            if not present:
                raise Invalid("name the units present", fields=[("units", "请填写参会单位")])
            clean = []
            for n, entry in enumerate(actions or []):
                if not isinstance(entry, dict):
                    raise Invalid("each action is {unit, action}", fields=[("actions", f"第 {n + 1} 项格式不正确")])
                unit = self._units(session, [entry.get("unit")], "actions")[0]
                clean.append({"unit": unit, "action": _text(entry.get("action"), "actions", "交办事项", limit=500)})
            row = JointMeeting(case_id=case.id, held_on=day, units=present, decisions=decisions, actions=clean,
                               recorded_by=person.username, recorded_at=now)
            session.add(row)
            audit(session, actor=person.username, action="joint_meeting", case=case, source=source,
                  changes={"held_on": day.isoformat(), "units": present, "decisions": decisions, "actions": clean}, at=now)
            session.flush()
            return {"number": case.number, "meeting_id": row.id}

    def disposal_fields(self, session: Session, case: Case) -> list[tuple[str, str, str]]:
        """(key, label, unit) of the quantities the case's category records (disposal_fields.dmn)."""
        inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == case.id)).first()
        if inst is None:
            return []
        bundle = self.core.bundles.get(session, inst.process_version_id)
        try:
            result = evaluate(bundle, DISPOSAL_DECISION, {"category": case.category}, self.core.engine.script_engine)
        except DecisionError:
            return []  # a version without the table: people deployed only
        keys, labels, units = (result.get(k) or [] for k in ("disposal_field", "disposal_label", "disposal_unit"))
        return [(k, labels[i] if i < len(labels) else k, units[i] if i < len(units) else "")
                for i, k in enumerate(keys) if isinstance(k, str)]

    def record_disposal(self, number: str, *, user: str, people_deployed, quantities=None, note: str | None = None,
                        source: str = "cli") -> dict:
        now = utcnow()
        people = _count(people_deployed, "people_deployed", "出动人数")
        note = _text(note, "note", "备注", required=False)
        with self.core.db.unit_of_work() as session:
            person = find_user(session, user)
            case = self._case(session, number, person)
            self._may_record(session, person, case)
            fields = {key: label for key, label, _unit in self.disposal_fields(session, case)}
            quantities = quantities or {}
            if not isinstance(quantities, dict):
                raise Invalid("quantities must be an object", fields=[("quantities", "格式不正确")])
            extra = [k for k in quantities if k not in fields]
            if extra:
                raise Invalid(f"'{extra[0]}' is not recorded for category '{case.category}'",
                              fields=[(extra[0], f"类别「{case.category or '-'}」不记录此项")])
            clean = {k: _count(v, k, fields[k]) for k, v in quantities.items() if v not in (None, "")}
            row = DisposalRecord(case_id=case.id, category=case.category, people_deployed=people, quantities=clean,
                                 note=note, recorded_by=person.username, recorded_at=now)
            session.add(row)
            audit(session, actor=person.username, action="disposal_record", case=case, source=source,
                  changes={"people_deployed": people, **clean, **({"note": note} if note else {})}, at=now)
            session.flush()
            return {"number": case.number, "disposal_id": row.id}

    # -- units ---------------------------------------------------------------------------------
    def register_unit(self, *, user: str, code: str, name: str, kind: str, source: str = "cli") -> dict:
        """An admin registers a unit that can co-handle cases (a community, an outside organisation)."""
        from . import units
        with self.core.db.unit_of_work() as session:
            return units.register(session, user, code=code, name=name, kind=kind, source=source)


def case_joint(session: Session, case: Case) -> dict:
    """What the case page shows of the joint disposal and the leader's instruction."""
    co = session.scalars(select(CoHandler).where(CoHandler.case_id == case.id).order_by(CoHandler.position)).all()
    meetings = session.scalars(select(JointMeeting).where(JointMeeting.case_id == case.id)
                               .order_by(JointMeeting.held_on, JointMeeting.id)).all()
    disposals = session.scalars(select(DisposalRecord).where(DisposalRecord.case_id == case.id)
                                .order_by(DisposalRecord.id)).all()
    instructions = session.scalars(select(LeaderInstruction).where(LeaderInstruction.case_id == case.id)
                                   .order_by(LeaderInstruction.id)).all()
    return {"co_handlers": co, "meetings": meetings, "disposals": disposals, "instructions": instructions}


def instruction_counts(session: Session) -> dict[str, int]:
    """批示件 N, 已销号 M: counted apart from the escalations (one aggregate on the tier index)."""
    total, closed = session.execute(select(func.count(), func.count(SupervisionItem.closed_at))
                                    .where(SupervisionItem.reason == INSTRUCTION_REASON)).one()
    return {"total": total or 0, "closed": closed or 0}


def instruction_rows(session: Session, open_only: bool = False, limit: int = 100) -> list[dict]:
    """批示件 for the 督办台: open ones first (by deadline), then the latest signed off."""
    query = (select(LeaderInstruction, Case.number, Case.status, SupervisionItem.status)
             .join(Case, Case.id == LeaderInstruction.case_id)
             .outerjoin(SupervisionItem, SupervisionItem.id == LeaderInstruction.item_id)
             .order_by(LeaderInstruction.signed_off_at.is_not(None), LeaderInstruction.deadline,
                       LeaderInstruction.id.desc()).limit(limit))
    if open_only:
        query = query.where(LeaderInstruction.signed_off_at.is_(None))
    return [{"instruction": row, "number": number, "case_status": case_status, "item_status": item_status}
            for row, number, case_status, item_status in session.execute(query)]
