"""What-if replay (分析影响): what the draft's rules would have done to past cases.

For every case registered in the range (and the optional type / category / department subset) the
replay takes the case's *recorded* history — when it was registered, dispatched (the last
dispatch, 改派 included), signed for and replied, its approved extensions — and evaluates, once
with the deployed version's rules and once with the draft's:

* 承办部门: ``routing.dmn`` for its category. Only a case the deployed table routed (its recorded
  department is what the deployed table gives) follows the draft's table; a department a
  dispatcher chose by hand stays, because that choice is a person's, not a rule's;
* 办理时限: ``deadlines.dmn`` for (type, difficulty, urgent) counted on the working-day calendar
  from the recorded dispatch, then each approved extension on top, as ``assign`` and
  ``apply_extension`` do;
* 签收超时: the ``sign_for_deadline`` timer, ``working_days_after(dispatched_at, N)``;
* 督办 tiers: a supervision run opens when a timer passes unanswered, and climbs a tier each time
  the tier's ``working_days_after(tier_opened_at, N)`` passes before the recorded reply;
* 考核计分: ``scoring.dmn`` points for the events above (reply_overdue, sign_overdue, tiers).

Same department behaviour: the recorded timestamps never move, only the rules applied to them.

The engine is never restored per case: tables are evaluated once per distinct input and working
days once per (day, n) — a year at 1 M cases is a stream of plain rows read in keyset batches.
A case whose recorded deadline the deployed rules do not reproduce (a 重办 or reopened case, a
deadline set by hand, a deploy in between) keeps its recorded deadline on both sides and is counted
as ``unreconstructed``: nothing is guessed for it.

``run(core, request, ...)`` is the one function behind the page, the background worker and
``bihuan process what-if``; its result is JSON (stored as is by ``whatif_runs``).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import String, Text, and_, cast, func, or_, select, type_coerce

from workflows.bundle import BundleInvalid, load_bundle, read_directory
from workflows.clock import utcnow

from ..auth.models import ROLES
from ..calendar.services import load_calendar
from ..cases.models import TYPES, Case
from ..errors import Invalid
from ..reports.kpis import KPI_LABELS, instants, parse_range
from . import whatif_rules, whatif_text
from .drafts import bundle_problems, draft_files, errors_only, get_draft
from .problem_text import describe
from .problem_text import tr as _
from .services import latest_version

BATCH = 5000  # rows per keyset batch: bounded memory whatever the range
CHANGED_CAP = 500  # changed cases listed (all are counted)
DEFAULT_DAYS = 90
TIERS = (1, 2, 3)
FIGURES = ("cases", "on_time_num", "on_time_den", "overdue", "sign_overdue", "tier1", "tier2", "tier3", "points")
# The KPI this replays and its label, from the one place KPIs are defined (app/reports/kpis.py).
KPI = "on_time_reply_rate"
_LOCAL = timedelta(hours=8)  # Asia/Shanghai keeps no DST: a UTC instant's local day is +8 h


class DraftInvalid(Invalid):
    """The draft does not validate: it cannot be replayed; ``problems`` are shown instead."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__(_("草稿有 %(n)s 个错误，无法分析影响：%(problems)s", n=len(problems),
                           problems="; ".join(describe(p) for p in problems[:5])),
                         fields=[(p.element_id or p.file, describe(p)) for p in problems])


@dataclass(frozen=True)
class Request:
    start: date
    end: date
    type: str | None = None
    category: str | None = None
    department: str | None = None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        return d


def parse_request(start=None, end=None, type=None, category=None, department=None, today: date | None = None
                  ) -> Request:
    """Range (default: the last 90 days up to today, Shanghai) and subset; Invalid with a clear
    message for a bad date, a reversed range, or an unknown type."""
    today = today or (utcnow() + _LOCAL).date()
    start = start or (today - timedelta(days=DEFAULT_DAYS - 1))
    end = end or today
    first, last = parse_range(start, end)
    type = (type or "").strip() or None
    if type is not None:
        codes = {label: code for code, label in TYPES.items()}
        type = codes.get(type, type)
        if type not in TYPES:
            raise Invalid(_("未知的诉求类型：%(type)s", type=type[:20]), fields=[("type", "unknown")])
    category = (category or "").strip()[:50] or None
    department = (department or "").strip()[:50] or None
    return Request(first, last, type, category, department)


# -- the two bundles -------------------------------------------------------------------------------
def bundles(core, session, directory: str | None = None):
    """(deployed Bundle, draft Bundle, info) for the draft (or a directory of files).

    DraftInvalid when the draft has errors; Invalid when nothing is deployed yet."""
    latest = latest_version(session)
    if latest is None:
        raise Invalid(_("还没有已发布的流程版本，无法对比。"))
    deployed = core.bundles.get(session, latest.id)
    if directory:
        try:
            files = read_directory(directory)
        except (OSError, BundleInvalid, ValueError) as exc:
            raise Invalid(_("无法读取目录 %(dir)s：%(error)s", dir=directory, error=str(exc))) from None
        revision = 0
    else:
        files = {k: v.encode("utf-8") for k, v in draft_files(session).items()}
        draft = get_draft(session)
        revision = draft.revision if draft else 0
    problems = errors_only(bundle_problems(files))
    if problems:
        raise DraftInvalid(problems)
    proposed = load_bundle(files, known_roles=ROLES)
    return deployed, proposed, {"deployed_version": latest.version, "draft_revision": revision,
                                "draft_hash": proposed.content_hash, "source": directory or "draft"}


# -- the replay of one case --------------------------------------------------------------------------
class Calendar:
    """``working_days_after`` of the statutory calendar, memoised per (local day, n): a deadline is the
    end of a local day, so every case dispatched on the same day with the same n gets the same one."""

    def __init__(self, calendar):
        self.calendar, self.cache = calendar, {}

    def after(self, instant: datetime, n: int) -> datetime:
        return self.after_day((instant.astimezone(timezone.utc) + _LOCAL).date(), n)

    def after_day(self, day: date, n: int) -> datetime:
        key = (day, n)
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = self.calendar.working_days_after(day, n)
        return hit


def _tiers(start: datetime | None, end: datetime, days, cal: Calendar) -> int:
    """The highest supervision tier reached by a run opening at ``start`` and ended by ``end`` (the
    reply, or now): tier 1 when the timer passed unanswered, then one more each time a tier's
    ``tier_due`` passed before the reply. 0 when the timer never fired."""
    if start is None or days is None or end <= start:
        return 0
    tier, due = 1, start
    for n in days[:2]:
        due = cal.after(due, n)
        if end <= due:
            return tier
        tier += 1
    return tier


class Side:
    """One bundle's rules applied to recorded rows, with everything per-input memoised: the replay's
    inner loop is plain tuple work (a year at 1 M cases is a million of these)."""

    def __init__(self, p, base, cal: Calendar, now: datetime):
        self.p, self.base, self.cal, self.now = p, base, cal, now
        self.sign_days = p.sign_days if p.sign_days is not None else base.sign_days
        self.tier_days = p.tier_days or base.tier_days
        self.routes: dict = {}
        self.days: dict = {}
        self.points = {"overdue": p.points("reply_overdue"), "sign": p.points("sign_overdue"),
                       1: p.points("supervision_tier1"), 2: p.points("supervision_tier2"),
                       3: p.points("supervision_tier3")}

    def department(self, category, recorded):
        """Only a case the deployed table routed follows this table (a hand-picked department stays)."""
        key = (category, recorded)
        hit = self.routes.get(key, False)
        if hit is False:
            hit = recorded
            if recorded is not None and category is not None and self.base.route(category) == recorded:
                hit = self.p.route(category) or recorded
            self.routes[key] = hit
        return hit

    def outcome(self, rec, fixed_deadline) -> tuple:
        """(department, deadline, days, decided, on_time, sign_overdue, delay_tier, sign_tier) of one
        recorded row ``rec`` (see ``RECORD``); ``fixed_deadline``: the recorded deadline, kept when
        the deployed rules do not reproduce it."""
        type_, category, difficulty, urgent, recorded, status, dispatched, signed, replied, extensions, day = rec
        cal, now = self.cal, self.now
        dept = self.department(category, recorded)
        deadline = days = None
        if fixed_deadline is not None:
            deadline = fixed_deadline
        elif dispatched is not None:
            key = (type_, difficulty, urgent)
            days = self.days.get(key, -1)
            if days == -1:
                days = self.days[key] = self.p.handle_days(type_, difficulty, urgent)
            if days is not None:
                deadline = cal.after_day(day, days)
                for ext in extensions or ():
                    if isinstance(ext, dict) and ext.get("approved") and isinstance(ext.get("days"), int):
                        deadline = cal.after(deadline, ext["days"])
        # 按期回复率 exactly as DEFINITIONS["on_time_reply_rate"] (app/reports/kpis.py): decided = a
        # deadline, not waiting for 改派, and replied or past due now; on time = replied by the deadline.
        returned = status == "returned"
        decided = deadline is not None and not returned and (replied is not None or deadline <= now)
        on_time = decided and replied is not None and replied <= deadline
        end = replied or now
        sign_overdue, sign_tier = False, 0
        if dispatched is not None and self.sign_days is not None:
            sign_due = cal.after_day(day, self.sign_days)
            signed_end = signed or (now if status == "dispatched" else None)
            if signed_end is not None and signed_end > sign_due:
                sign_overdue = True
                sign_tier = _tiers(sign_due, end, self.tier_days, cal)
        delay = _tiers(deadline, end, self.tier_days, cal) if (decided and not on_time) else 0
        return dept, deadline, days, decided, on_time, sign_overdue, delay, sign_tier

    def add(self, agg: dict, o: tuple) -> None:
        """Count one outcome into its department's figures (``FIGURES`` order)."""
        dept, _deadline, _days, decided, on_time, sign_overdue, delay, sign_tier = o
        vec = agg.get(dept or "")
        if vec is None:
            vec = agg[dept or ""] = [0] * len(FIGURES)
        vec[0] += 1
        if decided:
            vec[2] += 1
            if on_time:
                vec[1] += 1
            else:
                vec[3] += 1
                vec[8] += self.points["overdue"]
        if sign_overdue:
            vec[4] += 1
            vec[8] += self.points["sign"]
        for top in (delay, sign_tier):
            for t in range(1, top + 1):
                vec[4 + t] += 1
                vec[8] += self.points[t]


def as_outcome(o: tuple, replied) -> dict:
    dept, deadline, days, decided, on_time, sign_overdue, delay, sign_tier = o
    return {"department": dept, "deadline": deadline, "days": days, "decided": decided, "on_time": on_time,
            "overdue": decided and not on_time, "sign_overdue": sign_overdue, "delay_tier": delay,
            "sign_tier": sign_tier, "replied": replied}


def _comparable(o: tuple) -> tuple:
    """The outcome of a case: who had it, on time or not, 签收超时, the 督办 tier reached. A deadline
    that moves without changing any of these is not a changed outcome."""
    return (o[0],) + o[3:]


# -- streaming -------------------------------------------------------------------------------------
COLUMNS = (Case.id, Case.number, Case.type, Case.category, Case.difficulty, Case.urgent, Case.department,
           Case.status, Case.registered_at, Case.dispatched_at, Case.signed_at, Case.replied_at, Case.deadline,
           Case.extensions)


def _where(request: Request) -> list:
    lo, hi = instants(request.start, request.end)
    clauses = [Case.registered_at >= lo, Case.registered_at < hi]
    if request.type:
        clauses.append(Case.type == request.type)
    if request.category:
        clauses.append(Case.category == request.category)
    if request.department:
        clauses.append(Case.department == request.department)
    return clauses


def count(core, request: Request) -> int:
    with core.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Case).where(*_where(request))) or 0)


_INSTANTS = (8, 9, 10, 11, 12)  # registered, dispatched, signed, replied, deadline in COLUMNS


def _as_text(columns, dialect: str):
    """The instants and the extensions as text: ``datetime.fromisoformat`` (C) and a JSON parse only
    for a non-empty list are several times cheaper per row than the generic column types and the
    driver's timezone-aware loaders, and reading is most of the replay's time. SQLite stores them
    as text already; PostgreSQL casts (ISO 8601 with the session's UTC offset)."""
    out = list(columns)
    for i in _INSTANTS + (13,):
        column = columns[i]
        out[i] = (type_coerce(column, String()) if dialect == "sqlite" else cast(column, Text)).label(column.key)
    return out


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _decode(row) -> tuple:
    row = list(row)
    for i in _INSTANTS:
        row[i] = _instant(row[i])
    raw = row[13]
    row[13] = json.loads(raw) if raw and raw != "[]" else ()
    return tuple(row)


def stream(core, request: Request, batch: int):
    """Lists of row tuples (``COLUMNS``) in (registered_at, id) order, one short read per batch
    (keyset: no OFFSET, and no transaction held across the whole run)."""
    where, last = _where(request), None
    columns = _as_text(COLUMNS, core.db.engine.dialect.name)
    while True:
        query = select(*columns).where(*where)
        if last is not None:
            # ">= last" first: an index range start both planners use (the OR alone made PostgreSQL
            # walk the index from the range's start on every batch)
            query = query.where(Case.registered_at >= last[0],
                                or_(Case.registered_at > last[0],
                                    and_(Case.registered_at == last[0], Case.id > last[1])))
        with core.db.read() as session:
            rows = session.execute(query.order_by(Case.registered_at, Case.id).limit(batch)).all()
        if not rows:
            return
        rows = [_decode(r) for r in rows]
        yield rows
        last = (rows[-1][8], rows[-1][0])


# -- the whole run ---------------------------------------------------------------------------------
def run(core, request: Request, *, directory: str | None = None, budget: float | None = None,
        progress=None, now: datetime | None = None, batch: int | None = None) -> dict:
    """Replay ``request`` with the deployed rules and the draft's; the JSON result (see module doc).

    ``budget`` seconds: past it the replay stops between batches and the result is ``partial``.
    ``progress(processed, total)`` is called after every batch (the worker's heartbeat)."""
    now = now or utcnow()
    with core.db.read() as session:
        deployed, proposed, info = bundles(core, session, directory)
        calendar = Calendar(load_calendar(session))
    engine = core.engine.script_engine
    base, draft = whatif_rules.params(deployed, engine), whatif_rules.params(proposed, engine)
    changes = whatif_rules.classify(deployed.files, proposed.files, draft)
    total = count(core, request)
    started = time.monotonic()
    sides = {"deployed": Side(base, base, calendar, now), "draft": Side(draft, base, calendar, now)}
    before_side, after_side = sides["deployed"], sides["draft"]
    aggs: dict = {"deployed": {}, "draft": {}}
    changed, changed_count, processed, unreconstructed, partial = [], 0, 0, 0, False
    if progress:
        progress(0, total)
    for rows in stream(core, request, batch or BATCH):
        for row in rows:
            (_id, _number, type_, category, difficulty, urgent, department, status, _registered, dispatched,
             signed, replied, recorded_deadline, extensions) = row
            day = (dispatched + _LOCAL).date() if dispatched is not None else None  # UTC → Shanghai day
            rec = (type_, category, difficulty or "normal", bool(urgent), department, status, dispatched, signed,
                   replied, extensions, day)
            fixed = None
            before = before_side.outcome(rec, None)
            if recorded_deadline is not None and before[1] != recorded_deadline:
                fixed, unreconstructed = recorded_deadline, unreconstructed + 1
                before = before_side.outcome(rec, fixed)
            after = after_side.outcome(rec, fixed)
            before_side.add(aggs["deployed"], before)
            after_side.add(aggs["draft"], after)
            if _comparable(before) != _comparable(after):
                changed_count += 1
                if len(changed) < CHANGED_CAP:
                    changed.append(_changed(row, as_outcome(before, replied), as_outcome(after, replied)))
        processed += len(rows)
        if progress:
            progress(processed, total)
        if budget is not None and time.monotonic() - started > budget and processed < total:
            partial = True
            break
    return {
        "request": request.as_dict(), **info, "now": now.isoformat(),
        "status": "partial" if partial else "done", "total": total, "processed": processed,
        "unreconstructed": unreconstructed, "changed_count": changed_count, "changed_cap": CHANGED_CAP,
        "changed": changed, "kpi": KPI, "kpi_label": KPI_LABELS[KPI],
        "deployed": _finish(aggs["deployed"]), "draft": _finish(aggs["draft"]),
        "replayed": changes["replayed"], "not_replayed": changes["not_replayed"],
        "no_effect": changes["no_effect"], "parts_not_read": sorted(set(base.problems) | set(draft.problems)),
        "seconds": round(time.monotonic() - started, 3),
    }


def _changed(row: tuple, before: dict, after: dict) -> dict:
    def side(o):
        return {"department": o["department"], "deadline": o["deadline"].isoformat() if o["deadline"] else None,
                "on_time": o["on_time"], "overdue": o["overdue"], "sign_overdue": o["sign_overdue"],
                "tier": max(o["delay_tier"], o["sign_tier"]), "days": o["days"]}
    number, type_, category, dispatched, replied = row[1], row[2], row[3], row[9], row[11]
    return {"number": number, "type": type_, "category": category,
            "replied_at": replied.isoformat() if replied else None,
            "dispatched_at": dispatched.isoformat() if dispatched else None,
            "deployed": side(before), "draft": side(after),
            "reasons": whatif_text.reasons(before, after)}


def _figures(vec) -> dict:
    out = dict(zip(FIGURES, vec))
    out["points"] = round(out["points"], 2)
    den = out["on_time_den"]
    out[KPI] = round(out["on_time_num"] / den, 4) if den else None
    return out


def empty_figures() -> dict:
    """The figures of a department that has no case on one side (all zero, no rate)."""
    return _figures([0] * len(FIGURES))


def _finish(agg: dict) -> dict:
    total = [sum(column) for column in zip(*agg.values())] if agg else [0] * len(FIGURES)
    return {"total": _figures(total), "departments": {k: _figures(v) for k, v in sorted(agg.items())}}


def summary(result: dict) -> dict:
    """The short form a deployed version keeps (``process_versions.whatif_summary``)."""
    keep = ("request", "status", "total", "processed", "changed_count", "deployed_version", "draft_revision",
            "now", "unreconstructed")
    out = {k: result.get(k) for k in keep}
    out["deployed"] = result["deployed"]["total"]
    out["draft"] = result["draft"]["total"]
    out["departments"] = {k: {"deployed": v, "draft": result["draft"]["departments"].get(k)}
                          for k, v in result["deployed"]["departments"].items()}
    for k, v in result["draft"]["departments"].items():
        out["departments"].setdefault(k, {"deployed": None, "draft": v})
    out["not_replayed"] = len(result.get("not_replayed") or [])
    return out
