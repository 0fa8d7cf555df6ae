"""Writing the planned history (app/reports/history.py): finished cases in bulk, open ones through the engine."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, text

from workflows.clock import shifted_to
from workflows.workdays import SHANGHAI

from ..auth.models import User
from ..auth.services import create_user
from ..cases.models import AuditEntry, Case, CaseCounter, ReadyTask, WorkflowInstance
from ..cases.timers import fire_due
from ..errors import BihuanError
from ..processes.services import LIFECYCLE_PROCESS, ensure_shipped_version
from ..seed import DEMO_PASSWORD, DEPARTMENTS
from ..supervision.models import SupervisionItem
from .history import HANDLE_DAYS, SOURCE, TASKS, History, Plan

log = logging.getLogger(__name__)
# Rows inserted with Core skip the ORM hooks that the audit hash chain and the phone's blind index
# hang on (app/audit/chain.py, app/privacy/crypto.py, on main after this module was written): the
# bulk path applies them itself wherever they exist.
try:
    from ..audit.chain import link_rows
except ImportError:  # pragma: no cover - a checkout without the audit chain
    link_rows = None
try:
    from ..privacy.crypto import blind_index
except ImportError:  # pragma: no cover - a checkout without encrypted phones
    blind_index = None
# Who completes each task (handler tasks: the department's own handler account).
ACTOR = {"dispatch": "dispatcher", "reassign": "dispatcher", "approve_extension": "dispatcher",
         "verify": "dispatcher", "follow_up": "dispatcher", "urge": "center",
         "interview_or_notice": "discipline", "accountability": "party", "verify_close": "center"}
SUPERVISION_DATA = {
    "urge": {"urge_note": "请抓紧办理并于时限内答复", "department_response": "正在协调"},
    "interview_or_notice": {"measure": "interview", "measure_note": "约谈部门负责人"},
    "accountability": {"accountability_decision": "criticism_notice", "responsible_person": "部门负责人",
                       "accountability_note": "通报批评"},
    "verify_close": {"verify_close_note": "已答复，核实销号"},
}


def iso(value: datetime | None):
    return value.astimezone(SHANGHAI).astimezone().isoformat(timespec="seconds") if value else None


def handler_account(code: str) -> str:
    return f"handler_{code}"


def ensure_handlers(core) -> None:
    """One handler account per department, so every department's open cases can be worked."""
    with core.db.unit_of_work() as session:
        have = set(session.scalars(select(User.username)))
        for code, name in DEPARTMENTS.items():
            if handler_account(code) not in have:
                create_user(session, handler_account(code), DEMO_PASSWORD, ["handler"], f"{name}承办员", code)


class Writer:
    def __init__(self, history: History):
        self.h = history
        self.core = history.core
        self.rng = history.rng
        self.numbers: list[str] = []
        self.counters: dict[str, int] = {}
        self.stats = {"bulk": 0, "engine": 0, "skipped_steps": 0, "timers_fired": 0}

    # -- engine --------------------------------------------------------------------------------
    def _ready(self, number: str, bpmn_id: str) -> tuple[str, str | None] | None:
        """(task id, assignee) of a ready task; the assignee is the person it went to directly (a
        grid's professional), who alone may complete it."""
        with self.core.db.read() as session:
            return session.execute(select(ReadyTask.id, ReadyTask.assignee).join(Case, Case.id == ReadyTask.case_id)
                                   .where(Case.number == number, ReadyTask.bpmn_id == bpmn_id)).first()

    def _step(self, plan: Plan, number: str | None, at: datetime, step: str, data: dict) -> str | None:
        with shifted_to(at):
            if step == "register":
                return self.core.cases.register(
                    channel=plan.channel, type=plan.type, text=plan.text, address=plan.address, grid=plan.grid,
                    reporter_phone=plan.phone, user="grid" if plan.channel == "grid" else "operator",
                    source=SOURCE, detail=False)["number"]
            if step == "timer":
                return number  # the sweep fires timers on its own
            ready = self._ready(number, step)
            if ready is None:
                self.stats["skipped_steps"] += 1
                return number
            task, assignee = ready
            if step == "dispatch" and data.get("decision") == "merge_duplicate":
                data = {**data, "duplicate_of": self.numbers[0]}
            data = {**SUPERVISION_DATA.get(step, {}), **data}
            user = ACTOR.get(step) or assignee or handler_account(self._department(number))
            try:
                self.core.cases.complete_task(task, user=user, data=data, source=SOURCE, detail=False)
            except BihuanError as exc:  # a plan step the engine's path does not allow now
                log.info("history: %s %s skipped: %s", number, step, exc)
                self.stats["skipped_steps"] += 1
            return number

    def _department(self, number: str) -> str:
        with self.core.db.read() as session:
            return session.scalar(select(Case.department).where(Case.number == number))

    def drive(self, plan: Plan, upto: datetime) -> str:
        number = None
        for at, step, data in plan.events:
            if at > upto:
                break
            number = self._step(plan, number, at, step, data)
        return number

    def templates(self, plans: list[Plan]) -> dict[str, bytes]:
        """A finished state per outcome, from real cases driven to that end (the first plans of each)."""
        states = {}
        for outcome in ("closed", "refused", "merged"):
            plan = next((p for p in plans if p.outcome == outcome and not p.late_tiers), None)
            if plan is None or (outcome == "merged" and not self.numbers):
                continue
            plans.remove(plan)
            number = self.drive(plan, plan.ends)
            self.numbers.append(number)
            self.stats["engine"] += 1
            with self.core.db.read() as session:
                states[outcome] = session.scalar(select(WorkflowInstance.state).join(Case)
                                                 .where(Case.number == number))
        return states

    def drive_open(self, plans: list[Plan]) -> None:
        """Open cases, all events in time order, the timer sweep at 09:00 of every day in between."""
        events = sorted(((at, i, step, data) for i, p in enumerate(plans) for at, step, data in p.events
                         if at <= self.h.now), key=lambda e: (e[0], e[1]))
        numbers: dict[int, str] = {}
        swept = None
        for at, i, step, data in events:
            day = at.astimezone(SHANGHAI).replace(hour=9, minute=0, second=0, microsecond=0)
            if swept is None:
                swept = day
            while swept < at:
                with shifted_to(swept):
                    self.stats["timers_fired"] += fire_due(self.core, swept)
                swept += timedelta(days=1)
            numbers[i] = self._step(plans[i], numbers.get(i), at, step, data)
        with shifted_to(self.h.now):
            self.stats["timers_fired"] += fire_due(self.core, self.h.now)
        self.stats["engine"] += len(plans)

    # -- bulk ------------------------------------------------------------------------------------
    def number_for(self, at: datetime) -> str:
        day = at.astimezone(SHANGHAI).strftime("%Y%m%d")
        self.counters[day] = self.counters.get(day, 0) + 1
        return f"HD-{day}-{self.counters[day]:04d}"

    def bulk(self, plans: list[Plan], states: dict[str, bytes]) -> None:
        with self.core.db.read() as session:
            version_id = session.scalar(select(WorkflowInstance.process_version_id).limit(1))
            next_id = (session.scalar(select(func.max(Case.id))) or 0) + 1
            for day, last in session.execute(select(CaseCounter.day, CaseCounter.last)):
                self.counters[day] = last
        rows = {"cases": [], "inst": [], "audit": [], "items": []}
        for plan in plans:
            self._bulk_case(plan, next_id, version_id, states, rows)
            next_id += 1
            if len(rows["cases"]) >= self.h.batch:
                self._flush(rows)
        self._flush(rows)
        with self.core.db.unit_of_work() as session:
            if session.get_bind().dialect.name == "postgresql":
                # The cases were inserted with their ids: move the sequence past them for the engine's.
                session.execute(text("SELECT setval(pg_get_serial_sequence('cases', 'id'), "
                                     "(SELECT max(id) FROM cases))"))
            have = dict(session.execute(select(CaseCounter.day, CaseCounter.last)).all())
            for day, last in self.counters.items():
                if day not in have:
                    session.add(CaseCounter(day=day, last=last))
                elif have[day] < last:
                    session.get(CaseCounter, day).last = last

    def _flush(self, rows: dict) -> None:
        if not rows["cases"]:
            return
        with self.core.db.unit_of_work() as session:
            if link_rows is not None:
                first, last = rows["cases"][0]["id"], rows["cases"][-1]["id"]
                link_rows(session, rows["audit"], new_cases=range(first, last + 1))
            session.execute(insert(Case.__table__), rows["cases"])
            session.execute(insert(WorkflowInstance.__table__), rows["inst"])
            session.execute(insert(AuditEntry.__table__), rows["audit"])
            if rows["items"]:
                session.execute(insert(SupervisionItem.__table__), rows["items"])
        self.stats["bulk"] += len(rows["cases"])
        for value in rows.values():
            value.clear()

    def _bulk_case(self, plan: Plan, case_id: int, version_id: int, states: dict, rows: dict) -> None:
        """The rows the engine would have written for ``plan``'s events (see history.py)."""
        number = self.number_for(plan.registered)
        col = {"status": "registered", "department": None, "category": None, "difficulty": "normal",
               "deadline": None, "dispatched_at": None, "signed_at": None, "replied_at": None, "verified_at": None,
               "followed_up_at": None, "closed_at": None, "satisfaction": None, "replied_by": None, "return_count": 0, "redo_count": 0,
               "refuse_reason": None, "merged_into": None, "extensions": [], "supervision_tier": 0}
        items: list[dict] = []
        audit = rows["audit"]
        actions = 0

        def write(at, actor, action, changes, task=None):
            audit.append({"at": at, "actor": actor, "case_id": case_id, "action": action,
                          "task_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)) if task else None,
                          "task_bpmn_id": task, "task_name": TASKS.get(task) if task else None,
                          "changes": changes, "source": SOURCE if action != "timer" else "scheduler"})

        def change(**values):
            out = {}
            for key, value in values.items():
                if col[key] != value:
                    out[key] = [iso(col[key]) if isinstance(col[key], datetime) else col[key],
                                iso(value) if isinstance(value, datetime) else value]
                    col[key] = value
            return out

        for at, step, data in plan.events:
            actions += 1
            if step == "register":
                write(at, "grid" if plan.channel == "grid" else "operator", "register",
                      {"channel": plan.channel, "type": plan.type, "category": None, "difficulty": [None, "normal"]})
                continue
            if step == "timer":
                tier = data["tier"]
                for item in items:
                    if item["status"] == "open":
                        item.update(status="escalated", escalated_at=at)
                items.append({"case_id": case_id, "run_key": f"run-{case_id}", "tier": tier, "reason": "delay",
                              "department": col["department"], "status": "open", "opened_at": at,
                              "due_at": self.h._wd(at, 3), "escalated_at": None, "closed_at": None,
                              "measure": None, "accountability_decision": None, "responsible_person": None,
                              "records": []})
                write(at, "scheduler", "timer", {"timers": [step], "columns": change(supervision_tier=tier)})
                continue
            actor = ACTOR.get(step) or handler_account(col["department"] or plan.department)
            if step == "dispatch":
                if data["decision"] == "refuse":
                    cols = change(status="refused", refuse_reason=data["refuse_reason"], closed_at=at)
                elif data["decision"] == "merge_duplicate":
                    data = {**data, "duplicate_of": self.numbers[-1] if self.numbers else number}
                    cols = change(status="merged", merged_into=data["duplicate_of"], closed_at=at)
                else:
                    n = HANDLE_DAYS.get((plan.type, plan.difficulty), HANDLE_DAYS[plan.type])
                    days = self.h._wd(at, n)
                    cols = change(status="dispatched", department=data["department"], category=plan.category,
                                  difficulty=plan.difficulty, deadline=days, dispatched_at=at)
            elif step == "sign_for" and data["decision"] == "return":
                cols = change(status="returned", return_count=col["return_count"] + 1)
            elif step == "reassign":
                cols = change(status="dispatched", department=data["department"])
            elif step == "sign_for":
                cols = change(status="handling", signed_at=at)
            elif step == "handle" and data["decision"] == "extension_request":
                cols = {}
            elif step == "approve_extension":
                new = self.h._wd(col["deadline"], 5)
                entry = {"requested_at": iso(at), "days": 5, "reason": "需协调多个部门", "approved": True,
                         "old_deadline": iso(col["deadline"]), "new_deadline": iso(new)}
                cols = change(deadline=new, extensions=col["extensions"] + [entry])
            elif step == "handle":
                # 责任人 as the engine records it (app/cases/services.py): whoever replied, so the
                # per-person KPIs and the ledger's person filter have data in the demo too.
                cols = change(status="replied", replied_at=at, replied_by=actor)
                for item in items:
                    if item["status"] == "open":
                        item["status"] = "replied"
            elif step in SUPERVISION_DATA:
                data = SUPERVISION_DATA[step]
                tier = {"urge": 1, "interview_or_notice": 2, "accountability": 3}.get(step)
                target = next((i for i in items if i["tier"] == tier), None) if tier else None
                if target is not None:
                    target["records"] = target["records"] + [{"task": step, "name": TASKS[step], "by": actor,
                                                              "at": iso(at), "data": data}]
                    target["measure"] = data.get("measure") or target["measure"]
                    target["accountability_decision"] = data.get("accountability_decision")
                    target["responsible_person"] = data.get("responsible_person")
                cols = {}
                if step == "verify_close":
                    for item in items:
                        if item["status"] != "closed":
                            item.update(status="closed", closed_at=at)
                    cols = change(supervision_tier=0)
            elif step == "verify":
                cols = change(status="verified", verified_at=at)
            elif step == "follow_up":
                unsatisfied = data["satisfaction"] == "unsatisfied"
                cols = change(satisfaction=data["satisfaction"], followed_up_at=at,
                              **({"status": "handling", "redo_count": col["redo_count"] + 1} if unsatisfied
                                 else {"status": "closed", "closed_at": at}))
            else:
                cols = {}
            write(at, actor, "complete", {"data": data, "columns": cols}, task=step)
        extra = {"reporter_phone_index": blind_index(plan.phone)} if (
            blind_index is not None and "reporter_phone_index" in Case.__table__.c) else {}
        rows["cases"].append({**extra,
            "id": case_id, "number": number, "channel": plan.channel, "type": plan.type, "urgent": False,
            "text": plan.text, "address": plan.address, "grid": plan.grid, "reporter_name": None,
            "reporter_phone": plan.phone, "registered_at": plan.registered,
            "registered_by": "grid" if plan.channel == "grid" else "operator", "has_incident": False, **col})
        rows["inst"].append({"case_id": case_id, "process_version_id": version_id, "process_id": LIFECYCLE_PROCESS,
                             "state": states.get(plan.outcome) or states.get("closed"), "completed": True,
                             "next_timer_at": None, "version": actions, "updated_at": plan.ends})
        rows["items"].extend(items)
        if len(self.numbers) < 50:
            self.numbers.append(number)


def generate(core, *, cases: int, months: int, if_empty: bool = False, open_limit: int = 400,
             seed: int = 20261130) -> dict:
    """Plan and write the history; returns what was made (JSON for the CLI)."""
    from ..errors import Invalid
    if cases < 1 or cases > 5_000_000:
        raise Invalid("--cases must be between 1 and 5000000")
    if months < 1 or months > 60:
        raise Invalid("--months must be between 1 and 60")
    with core.db.read() as session:
        if if_empty and session.scalar(select(AuditEntry.id).where(AuditEntry.source == SOURCE).limit(1)):
            return {"created": 0, "note": "history already present"}
    from ..demo_cases import demo_calendar
    demo_calendar(core)  # plans reach into next year's deadlines; the demo seed says the same
    history = History(core, cases=cases, months=months, seed=seed, open_limit=open_limit)
    ensure_handlers(core)
    with core.db.unit_of_work() as session:
        ensure_shipped_version(session)
    plans = history.plans()
    writer = Writer(history)
    states = writer.templates(plans)
    finished = [p for p in plans if p.ends <= history.now]
    still_open = [p for p in plans if p.ends > history.now]
    writer.bulk(finished, states)
    writer.drive_open(still_open)
    from .rollups import rebuild
    with core.db.unit_of_work() as session:
        rolled = rebuild(session)
    return {"created": cases, "months": months, "bulk": writer.stats["bulk"], "engine": writer.stats["engine"],
            "open": len(still_open), "timers_fired": writer.stats["timers_fired"],
            "skipped_steps": writer.stats["skipped_steps"], "rollup": rolled}
