"""Department scoring (考核计分): events found in the audit log and the supervision items, priced by the
``scoring`` DMN table of the deployed process bundle.

An *event* is one thing the office's 规范督查事项考核计分办法 counts, charged to one department at one
instant and traceable to the case and the audit row (or supervision item) that records it:

==========================  ============================================================================
event                       found where
==========================  ============================================================================
month_base                  every department, once a month (no case)
sign_overdue                a timer row that fired ``sign_for_deadline`` (签收超时)
reply_overdue               the 办理 row that set ``replied_at`` after the deadline in force at that moment
return_unjustified          an 改派 row that sends a returned case back to the department that returned it
supervision_tier1/2/3       a supervision item opened at that tier (and the audit row of that instant)
accountability              the 追责 row of the tier-3 item
unsatisfied_after_redo      a 回访 row answering 不满意 on a case already redone
satisfaction_month          every department with a 满意率 that month (input ``satisfaction_rate``)
==========================  ============================================================================

The points of each event are the table's output ``points`` for ``{"event", "satisfaction_rate"}``; an
event no rule matches scores 0 and is still listed. The deadline "in force" and the department are
replayed from each case's own audit rows in order, so an approved extension moves the deadline and an
改派 moves the blame exactly when it happened.

A closed month (``close_month``) stores the ranking with the rules version it was computed with; from
then on ``month_scores`` returns that frozen ranking, whatever happens to the rules or the cases.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.clock import utcnow
from workflows.bundle import read_directory
from workflows.model import Bundle, hash_files
from workflows.rules import DecisionError, evaluate
from workflows.workdays import parse_instant

from ..cases.models import AuditEntry, Case
from ..errors import Conflict, Invalid
from ..org.models import Department
from ..processes.models import ProcessVersion
from ..processes.problem_text import N_, tr as _
from ..processes.services import SHIPPED_BUNDLE, latest_version
from ..supervision.models import SupervisionItem
from .kpis import compute_kpis
from .periods import Period, local_date, parse_month
from .score_models import ScoreMonth

DECISION = "scoring"
EVENTS = {
    "month_base": N_("月度基础分"),
    "sign_overdue": N_("签收超时"),
    "reply_overdue": N_("答复超期"),
    "return_unjustified": N_("退回不当（改派回原部门）"),
    "supervision_tier1": N_("一级督办"),
    "supervision_tier2": N_("二级督办"),
    "supervision_tier3": N_("三级督办"),
    "accountability": N_("追责决定"),
    "unsatisfied_after_redo": N_("重办后仍不满意"),
    "satisfaction_month": N_("月度满意率"),
}
CHUNK = 500  # ids per IN (...) list: well under every database's bound-parameter limit


@dataclass
class Event:
    event: str
    department: str
    at: str  # UTC ISO instant
    case_number: str | None = None
    audit_id: int | None = None
    supervision_item_id: int | None = None
    detail: str = ""
    satisfaction_rate: float | None = None
    points: float = 0


@dataclass
class Rules:
    bundle: Bundle
    version: int | None  # the process version; None when no version has been deployed yet


def current_rules(core, session: Session) -> Rules:
    """The scoring table of the latest deployed version; the shipped one if that version predates it."""
    row = latest_version(session)
    if row is not None:
        bundle = core.bundles.get(session, row.id)
        if any(name.endswith(".dmn") and f'id="{DECISION}"' in content.decode("utf-8", "replace")
               for name, content in bundle.files.items()):
            return Rules(bundle, row.version)
    return Rules(_shipped_rules(), None)


def _shipped_rules() -> Bundle:
    files = {n: c for n, c in read_directory(SHIPPED_BUNDLE).items() if n.endswith(".dmn")}
    return Bundle(files=files, content_hash=hash_files(files))


# -- finding the events ----------------------------------------------------------------------------
def _iso(value) -> str:
    return parse_instant(value).isoformat()


def _in(start: datetime, end: datetime, at: datetime) -> bool:
    return start <= parse_instant(at) < end


def _chunks(ids: list[int]):
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def audit_events(session: Session, start: datetime, end: datetime) -> list[Event]:
    """Every event recorded by an audit row in [start, end), replaying each case's rows from its start."""
    involved = set(session.scalars(select(AuditEntry.case_id).where(
        AuditEntry.at >= start, AuditEntry.at < end, AuditEntry.case_id.is_not(None),
        AuditEntry.action.in_(("timer", "complete"))).distinct()))
    events: list[Event] = []
    for ids in _chunks(sorted(involved)):
        numbers = dict(session.execute(select(Case.id, Case.number).where(Case.id.in_(ids))).all())
        # Plain rows, not ORM objects: a month can replay hundreds of thousands of them.
        rows = session.execute(select(AuditEntry.id, AuditEntry.case_id, AuditEntry.at, AuditEntry.action,
                                      AuditEntry.task_bpmn_id, AuditEntry.changes)
                               .where(AuditEntry.case_id.in_(ids), AuditEntry.at < end)
                               .order_by(AuditEntry.case_id, AuditEntry.id))
        state: dict = {}
        for row in rows:
            if state.get("case") != row.case_id:
                state = {"case": row.case_id, "department": None, "deadline": None, "redo": 0, "returned_by": None}
            for event in _row_events(row, state):
                if _in(start, end, row.at):
                    event.case_number = numbers.get(row.case_id)
                    events.append(event)
            columns = (row.changes or {}).get("columns", {}) if row.action != "register" else {}
            if "department" in columns:
                state["department"] = columns["department"][1]
            if "deadline" in columns:
                state["deadline"] = columns["deadline"][1]
            if "redo_count" in columns:
                state["redo"] = int(columns["redo_count"][1] or 0)
    return events


def _row_events(row, state: dict) -> list[Event]:
    """The events one audit row records, given the case's state just before it."""
    changes = row.changes or {}
    data, columns = changes.get("data") or {}, changes.get("columns") or {}
    department = state["department"]
    found: list[Event] = []

    def add(event: str, dept: str | None, detail: str = "") -> None:
        if dept:
            found.append(Event(event, dept, _iso(row.at), audit_id=row.id, detail=detail))

    if row.action == "timer" and "sign_for_deadline" in (changes.get("timers") or []):
        add("sign_overdue", department)
    if row.action != "complete":
        return found
    task = row.task_bpmn_id
    if task == "handle" and columns.get("replied_at") and columns["replied_at"][1]:
        replied, deadline = columns["replied_at"][1], state["deadline"]
        if deadline and parse_instant(replied) > parse_instant(deadline):
            add("reply_overdue", department, f"deadline {deadline}")
    elif task == "sign_for" and data.get("decision") == "return":
        state["returned_by"] = department
    elif task == "reassign":
        if state["returned_by"] and data.get("department") == state["returned_by"]:
            add("return_unjustified", state["returned_by"])
        state["returned_by"] = None
    elif task == "follow_up" and data.get("satisfaction") == "unsatisfied" and state["redo"] >= 1:
        add("unsatisfied_after_redo", department)
    elif task == "accountability":
        add("accountability", department, data.get("accountability_decision") or "")
    return found


def supervision_events(session: Session, start: datetime, end: datetime) -> list[Event]:
    """One event per supervision item opened in [start, end), with the audit row of that instant."""
    rows = session.execute(
        select(SupervisionItem.id, SupervisionItem.case_id, SupervisionItem.tier, SupervisionItem.reason,
               SupervisionItem.department, SupervisionItem.opened_at, Case.number)
        .join(Case, Case.id == SupervisionItem.case_id)
        .where(SupervisionItem.opened_at >= start, SupervisionItem.opened_at < end)
        .order_by(SupervisionItem.opened_at, SupervisionItem.id)).all()
    audit_ids: dict[tuple[int, str], int] = {}
    for ids in _chunks(sorted({r.case_id for r in rows})):
        for case_id, at, audit_id in session.execute(
                select(AuditEntry.case_id, AuditEntry.at, AuditEntry.id)
                .where(AuditEntry.case_id.in_(ids), AuditEntry.at >= start, AuditEntry.at < end)
                .order_by(AuditEntry.id)):
            audit_ids.setdefault((case_id, _iso(at)), audit_id)  # the first row of that instant
    return [Event(f"supervision_tier{r.tier}", r.department, _iso(r.opened_at), case_number=r.number,
                  audit_id=audit_ids.get((r.case_id, _iso(r.opened_at))), supervision_item_id=r.id, detail=r.reason)
            for r in rows if r.department and 1 <= r.tier <= 3]


def monthly_events(session: Session, period: Period, end: datetime, departments: list[str]) -> list[Event]:
    """The base points and the 满意率 event of every department (rate from the one KPI definition)."""
    at = _iso(period.start)
    events = [Event("month_base", code, at) for code in departments]
    rates = satisfaction_rates(session, period, end)
    for code in departments:
        if rates.get(code) is not None:
            events.append(Event("satisfaction_month", code, at, satisfaction_rate=rates[code],
                                detail=f"{rates[code]:.4f}"))
    return events


def satisfaction_rates(session: Session, period: Period, end: datetime) -> dict[str, float | None]:
    """满意率 by department over [period start, end), as ``app/reports/kpis.py`` defines it."""
    last_day = max(period.first, local_date(end - timedelta(microseconds=1)))
    result = compute_kpis(session, start=period.first, end=last_day, by="department")
    return {row["key"]: row.get("satisfaction_rate") for row in result.get("rows", [])}


# -- pricing and ranking ---------------------------------------------------------------------------
def price(events: list[Event], rules: Rules, script_engine) -> None:
    """Set each event's points from the table (evaluated once per distinct input)."""
    cache: dict[tuple, float] = {}
    for event in events:
        key = (event.event, event.satisfaction_rate)
        if key not in cache:
            try:
                result = evaluate(rules.bundle, DECISION, {"event": event.event,
                                                           "satisfaction_rate": event.satisfaction_rate or 0.0},
                                  script_engine)
            except DecisionError as exc:
                raise Invalid(_("考核计分规则无法计算：%(error)s", error=str(exc))) from None
            points = result.get("points") or 0
            if isinstance(points, bool) or not isinstance(points, (int, float)):
                raise Invalid(_("考核计分规则的分值不是数字：%(event)s", event=event.event))
            cache[key] = points
        event.points = cache[key]


def score(core, session: Session, period: Period, end: datetime | None = None) -> dict:
    """The live ranking of ``period`` (up to ``end``, default the period's end)."""
    end = min(end or period.end, period.end)
    departments = dict(session.execute(select(Department.code, Department.name).order_by(Department.code)).all())
    rules = current_rules(core, session)
    events = (monthly_events(session, period, end, list(departments)) + audit_events(session, period.start, end)
              + supervision_events(session, period.start, end))
    price(events, rules, core.engine.script_engine)
    by_department: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_department[event.department].append(event)
    rows = []
    for code in sorted(set(departments) | set(by_department)):
        mine = sorted(by_department.get(code, []), key=lambda e: (e.at, e.event, e.audit_id or 0))
        counts: dict[str, int] = defaultdict(int)
        points: dict[str, float] = defaultdict(float)
        for event in mine:
            counts[event.event] += 1
            points[event.event] += event.points
        rows.append({"department": code, "name": departments.get(code, code),
                     "score": _number(sum(e.points for e in mine)),
                     "counts": dict(counts), "points": {k: _number(v) for k, v in points.items()},
                     "events": [asdict(e) for e in mine]})
    rows.sort(key=lambda r: (-r["score"], r["department"]))
    for i, row in enumerate(rows):
        row["rank"] = rows[i - 1]["rank"] if i and rows[i - 1]["score"] == row["score"] else i + 1
    return {"month": period.key, "from": period.first.isoformat(), "to": period.last.isoformat(),
            "until": end.isoformat(), "closed": False, "rules_version": rules.version,
            "rules_hash": rules.bundle.content_hash, "rows": rows}


def _number(value: float):
    return int(value) if float(value).is_integer() else round(value, 2)


def month_scores(core, session: Session, month: str) -> dict:
    """The frozen ranking of a closed month, else the live one (up to now for the running month)."""
    period = parse_month(month)
    closed = session.scalars(select(ScoreMonth).where(ScoreMonth.month == period.key)).first()
    if closed is not None:
        return dict(closed.ranking, closed=True, closed_at=closed.closed_at.isoformat(),
                    closed_by=closed.closed_by)
    if period.start > utcnow():
        raise Invalid(_("%(month)s 尚未开始", month=period.key))
    # Up to the month's end even while it runs: nothing is recorded after now, and an event of this very
    # instant still counts.
    return dict(score(core, session, period), until=min(period.end, utcnow()).isoformat())


def close_month(core, month: str, actor: str) -> dict:
    """Freeze the month's ranking with the rules version used. Refused twice and before the month ends."""
    period = parse_month(month)
    now = utcnow()
    if period.end > now:
        raise Invalid(_("%(month)s 尚未结束，不能结账（%(end)s 之后才可结账）", month=period.key,
                        end=period.last.isoformat()))
    try:
        with core.db.unit_of_work() as session:
            if session.scalars(select(ScoreMonth.id).where(ScoreMonth.month == period.key)).first():
                raise Conflict(_("%(month)s 已经结账，不能重复结账", month=period.key))
            ranking = score(core, session, period)
            row = ScoreMonth(month=period.key, closed_at=now, closed_by=actor, rules_version=ranking["rules_version"],
                             rules_hash=ranking["rules_hash"], ranking=ranking)
            session.add(row)
            session.add(AuditEntry(at=now, actor=actor, case_id=None, action="close_score_month",
                                   changes={"month": period.key, "rules_version": ranking["rules_version"]},
                                   source="reports"))
    except IntegrityError:  # a concurrent close committed first: the same refusal
        raise Conflict(_("%(month)s 已经结账，不能重复结账", month=period.key)) from None
    return dict(ranking, closed=True, closed_at=now.isoformat(), closed_by=actor)


def closed_months(session: Session) -> list[dict]:
    rows = session.scalars(select(ScoreMonth).order_by(ScoreMonth.month.desc()))
    return [{"month": r.month, "closed_at": r.closed_at.isoformat(), "closed_by": r.closed_by,
             "rules_version": r.rules_version} for r in rows]


def rules_label(session: Session, version: int | None) -> str:
    if version is None:
        return "bpmn/"
    row = session.scalars(select(ProcessVersion).where(ProcessVersion.version == version)).first()
    return f"v{version}" if row else str(version)
