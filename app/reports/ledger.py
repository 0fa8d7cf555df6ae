"""台账 (ledgers): the case rows behind every figure, filtered, scoped and paged by keyset.

URL query parameters of ``/ledgers`` (the dashboard, the KPI page and the weekly report link to
them; the export and ``bihuan ledger export`` take the same filter):

    type=投诉              request type, Chinese label or identifier (咨询|求助|投诉|举报|建议)
    difficulty=complex     simple|normal|complex (简单|一般|复杂)
    department=CODE        handling department code (handlers are always held to their own)
    channel=phone          phone|grid|online|platform|web
    category=城市管理        exact category
    status=handling        registered|dispatched|returned|handling|replied|verified|closed|refused|merged
    overdue=1              past the deadline and the department still owes the reply
    tier=1|2|3             current supervision tier
    grid=G01               grid code
    co_handler=CODE        a unit co-handles the case (联动处置 协办单位: a row in co_handlers)
    person=USERNAME        the case's 责任人: its lead handler task is assigned to that person now, or,
                           none being assigned, that person replied (app/reports/responsible.py)
    date_field=registered|closed   which timestamp from/to apply to (default registered)
    from=YYYY-MM-DD&to=YYYY-MM-DD  Shanghai days, both inclusive
    kpi=<key>&part=num|den together with from/to: exactly the cases counted in that KPI's
                           numerator or denominator (app/reports/kpis.py, kpi_clause); the KPI's
                           own timestamp then selects the range, not date_field
    sort=registered_at|deadline|closed_at|dispatched_at|followed_up_at|number   &order=desc|asc
                           (indexed columns only; by default the timestamp the range is on:
                           closed_at for date_field=closed, the KPI's own for a drill-down)
    after=<cursor>         keyset pagination: the cursor of the last row of the previous page

Sorting by a timestamp other than registration lists only the cases that have one (NULLs have no place in a
keyset order). Pages never use OFFSET: each is one index walk from the cursor.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterator, Mapping

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI, CalendarGap, parse_instant

from ..cases.models import CHANNELS, DIFFICULTIES, STATUSES, TYPES, Case
from ..auth.models import User
from ..errors import Invalid
from ..joint.models import CoHandler
from ..org.models import Department
from ..supervision.models import TIERS
from .kpis import KPI_KEYS, in_range, kpi_clause, parse_range
from .responsible import person_is

PAGE_SIZE = 50
SORTS = {"registered_at": Case.registered_at, "deadline": Case.deadline, "closed_at": Case.closed_at,
         "dispatched_at": Case.dispatched_at, "followed_up_at": Case.followed_up_at, "number": Case.number}
NULLABLE_SORTS = {"deadline", "closed_at", "dispatched_at", "followed_up_at"}
# The columns a ledger row shows (plus every sort key, for the cursor). Pages and exports read
# these as plain rows, not Case entities: an entity costs several times more to load, and a
# 100 000-row export is mostly that loading.
ROW_COLUMNS = (Case.id, Case.number, Case.registered_at, Case.channel, Case.type, Case.difficulty,
               Case.category, Case.text, Case.address, Case.grid, Case.department, Case.deadline,
               Case.status, Case.supervision_tier, Case.satisfaction, Case.closed_at, Case.reporter_phone,
               Case.dispatched_at, Case.followed_up_at)
TYPE_BY_LABEL = {label: key for key, label in TYPES.items()}
DIFFICULTY_BY_LABEL = {label: key for key, label in DIFFICULTIES.items()}
OWED_REPLY = ("dispatched", "handling")  # statuses in which the department still owes its reply
SATISFACTION = {"satisfied": "满意", "mostly_satisfied": "基本满意", "unsatisfied": "不满意", "unreachable": "联系不上"}
FILTER_KEYS = ("type", "difficulty", "department", "channel", "category", "status", "overdue", "tier", "grid",
               "co_handler", "person", "date_field", "from", "to", "kpi", "part", "sort", "order")


@dataclass
class LedgerFilter:
    type: str | None = None
    difficulty: str | None = None
    department: str | None = None
    channel: str | None = None
    category: str | None = None
    status: str | None = None
    overdue: bool = False
    tier: int | None = None
    grid: str | None = None
    co_handler: str | None = None
    person: str | None = None
    date_field: str = "registered"
    start: date | None = None
    end: date | None = None
    kpi: str | None = None
    part: str | None = None
    sort: str = "registered_at"
    order: str = "desc"
    department_name: str | None = field(default=None, compare=False)
    co_handler_name: str | None = field(default=None, compare=False)
    person_name: str | None = field(default=None, compare=False)

    def query_args(self) -> dict:
        """The URL parameters that reproduce this filter (for links, exports and the next page)."""
        out = {"type": TYPES.get(self.type) if self.type else None, "difficulty": self.difficulty,
               "department": self.department, "channel": self.channel, "category": self.category,
               "status": self.status, "overdue": "1" if self.overdue else None,
               "tier": str(self.tier) if self.tier else None, "grid": self.grid,
               "co_handler": self.co_handler, "person": self.person,
               "date_field": self.date_field if self.start and self.date_field != "registered" else None,
               "from": self.start.isoformat() if self.start else None,
               "to": self.end.isoformat() if self.end else None, "kpi": self.kpi, "part": self.part,
               "sort": self.sort if self.sort != default_sort(self) else None,
               "order": self.order if self.order != "desc" else None}
        return {k: v for k, v in out.items() if v}

    def title(self) -> str:
        """The ledger's name: 投诉台账 · 复杂, or 全部台账."""
        name = f"{TYPES[self.type]}台账" if self.type else "全部台账"
        return name + (f" · {DIFFICULTIES[self.difficulty]}" if self.difficulty else "")

    def describe(self) -> str:
        """The filter in words, for the export's title row."""
        parts = []
        if self.department:
            parts.append(f"部门：{self.department_name or self.department}")
        if self.channel:
            parts.append(f"渠道：{CHANNELS[self.channel]}")
        if self.category:
            parts.append(f"类别：{self.category}")
        if self.status:
            parts.append(f"状态：{STATUSES[self.status]}")
        if self.overdue:
            parts.append("仅超期")
        if self.tier:
            parts.append(f"督办：{TIERS[self.tier]}")
        if self.grid:
            parts.append(f"网格：{self.grid}")
        if self.co_handler:
            parts.append(f"协办单位：{self.co_handler_name or self.co_handler}")
        if self.person:
            parts.append(f"责任人：{self.person_name or self.person}")
        if self.start:
            which = "指标" if self.kpi else ("办结" if self.date_field == "closed" else "登记")
            parts.append(f"{which}日期：{self.start.isoformat()} 至 {self.end.isoformat()}")
        if self.kpi:
            from .kpis import KPI_LABELS
            parts.append(f"{KPI_LABELS.get(self.kpi, self.kpi)}（{'分子' if self.part == 'num' else '分母'}）")
        return "；".join(parts) or "无筛选"


def _choice(value, allowed: Mapping, name: str, by_label: Mapping | None = None):
    value = (value or "").strip()
    if not value:
        return None
    if by_label and value in by_label:
        return by_label[value]
    if value in allowed:
        return value
    raise Invalid(f"unknown {name} '{value}': use one of {', '.join(allowed)}", fields=[(name, "unknown")])


def _printable(value: str, name: str) -> str:
    """A code or username as typed: at most 50 printable characters (a NUL byte would be a database
    error on PostgreSQL, not the user's clear message)."""
    if len(value) > 50 or not value.isprintable():
        what = {"co_handler": "co-handling unit", "person": "person"}[name]
        raise Invalid(f"unknown {what} {value[:50]!r}", fields=[(name, "unknown")])
    return value


def parse_filter(session: Session, args: Mapping) -> LedgerFilter:
    """URL parameters (or CLI options in the same names) -> LedgerFilter; Invalid on bad input."""
    get = lambda k: (args.get(k) or "").strip() or None  # noqa: E731 - one-line accessor
    f = LedgerFilter(
        type=_choice(get("type"), TYPES, "type", TYPE_BY_LABEL),
        difficulty=_choice(get("difficulty"), DIFFICULTIES, "difficulty", DIFFICULTY_BY_LABEL),
        channel=_choice(get("channel"), CHANNELS, "channel"),
        status=_choice(get("status"), STATUSES, "status"),
        category=get("category"), grid=get("grid"),
        overdue=(get("overdue") or "").lower() in ("1", "true", "yes", "on"),
    )
    if get("tier"):
        if get("tier") not in ("1", "2", "3"):
            raise Invalid(f"unknown supervision tier '{get('tier')}': use 1, 2 or 3", fields=[("tier", "1|2|3")])
        f.tier = int(get("tier"))
    if get("department"):
        name = session.scalar(select(Department.name).where(Department.code == get("department")))
        if name is None:
            raise Invalid(f"unknown department '{get('department')}'", fields=[("department", "unknown")])
        f.department, f.department_name = get("department"), name
    if get("co_handler"):
        code = _printable(get("co_handler"), "co_handler")
        name = session.scalar(select(Department.name).where(Department.code == code))
        if name is None:
            raise Invalid(f"unknown co-handling unit '{code}'", fields=[("co_handler", "unknown")])
        f.co_handler, f.co_handler_name = code, name
    if get("person"):
        username = _printable(get("person"), "person")
        name = session.scalar(select(User.display_name).where(User.username == username))
        if name is None:
            raise Invalid(f"unknown person '{username}': give a username", fields=[("person", "unknown")])
        f.person, f.person_name = username, name
    f.date_field = _choice(get("date_field"), {"registered": 1, "closed": 1}, "date_field") or "registered"
    if get("from") or get("to"):
        if not (get("from") and get("to")):
            raise Invalid("a date range needs both from and to (YYYY-MM-DD)", fields=[("from", "both needed")])
        f.start, f.end = parse_range(get("from"), get("to"))
    if get("kpi"):
        if get("kpi") not in KPI_KEYS:
            raise Invalid(f"unknown KPI '{get('kpi')}': use one of {', '.join(KPI_KEYS)}", fields=[("kpi", "unknown")])
        if f.start is None:
            raise Invalid("a KPI drill-down needs its range: from and to (YYYY-MM-DD)", fields=[("from", "needed")])
        f.kpi, f.part = get("kpi"), _choice(get("part") or "num", {"num": 1, "den": 1}, "part")
    f.sort = _choice(get("sort"), SORTS, "sort") or default_sort(f)
    f.order = _choice(get("order"), {"desc": 1, "asc": 1}, "order") or "desc"
    return f


def default_sort(f: LedgerFilter) -> str:
    """Newest first by the timestamp the range is on, so that a page walks the index of its range
    instead of sorting every row the range holds: registration, 销号, or the KPI's own timestamp."""
    if f.kpi:
        from .kpis import timestamp_of
        column = timestamp_of(f.kpi)
        return next((name for name, col in SORTS.items() if col is column), "registered_at")
    return "closed_at" if f.start and f.date_field == "closed" else "registered_at"


def where_clauses(f: LedgerFilter, scope=None, now: datetime | None = None) -> list:
    """The WHERE clauses over Case that select exactly this filter's rows (page, export and count)."""
    now = now or utcnow()
    if isinstance(scope, (list, tuple)):  # case_scope_parts: any of them
        scope = scope[0] if len(scope) == 1 else or_(*scope)
    clauses = [] if scope is None else [scope]
    for column, value in ((Case.type, f.type), (Case.difficulty, f.difficulty), (Case.department, f.department),
                          (Case.channel, f.channel), (Case.category, f.category), (Case.status, f.status),
                          (Case.grid, f.grid), (Case.supervision_tier, f.tier)):
        if value is not None:
            clauses.append(column == value)
    if f.co_handler is not None:  # the unit's parts: one range of ix_co_handlers_unit_dispatched
        clauses.append(Case.id.in_(select(CoHandler.case_id).where(CoHandler.unit == f.co_handler)))
    if f.person is not None:
        clauses.append(person_is(f.person))
    if f.overdue:
        clauses += [Case.deadline < now, Case.status.in_(OWED_REPLY)]
    if f.kpi:
        clauses.append(kpi_clause(f.kpi, f.part, f.start, f.end, now))
    elif f.start:
        clauses.append(in_range(Case.closed_at if f.date_field == "closed" else Case.registered_at, f.start, f.end))
    if f.sort in NULLABLE_SORTS:
        clauses.append(SORTS[f.sort].is_not(None))
    return clauses


def _order(f: LedgerFilter):
    column = SORTS[f.sort]
    return (column.desc(), Case.id.desc()) if f.order == "desc" else (column.asc(), Case.id.asc())


def _after(f: LedgerFilter, cursor: tuple):
    """Keyset condition: rows strictly after (value, id) in the page order."""
    column = SORTS[f.sort]
    value, case_id = cursor
    if f.sort != "number":
        value = parse_instant(value)
    if f.order == "desc":
        return or_(column < value, and_(column == value, Case.id < case_id))
    return or_(column > value, and_(column == value, Case.id > case_id))


def encode_cursor(f: LedgerFilter, case: Case) -> str:
    value = getattr(case, f.sort)
    raw = json.dumps([value.isoformat() if isinstance(value, datetime) else value, case.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple | None:
    if not cursor:
        return None
    try:
        value, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return value, int(case_id)
    except (ValueError, TypeError):
        raise Invalid("invalid page cursor: start again from the first page", fields=[("after", "invalid")]) from None


def query(f: LedgerFilter, scope=None, cursor: tuple | None = None, now: datetime | None = None):
    clauses = where_clauses(f, scope, now)
    if cursor is not None:
        clauses.append(_after(f, cursor))
    return select(*ROW_COLUMNS).where(*clauses).order_by(*_order(f))


def page(session: Session, f: LedgerFilter, *, scope=None, after: str | None = None,
         limit: int = PAGE_SIZE) -> dict:
    """One page of rows: {"rows": [row dicts], "next": cursor or None}."""
    now = utcnow()
    cases = _fetch(session, f, scope, decode_cursor(after), now, limit + 1)
    more = len(cases) > limit
    cases = cases[:limit]
    rows = present(session, cases, now)
    return {"rows": rows, "next": encode_cursor(f, cases[-1]) if more else None}


def _fetch(session: Session, f: LedgerFilter, scope, cursor, now: datetime, limit: int) -> list:
    """The next ``limit`` rows in page order. A scope given as parts (``case_scope_parts``: a
    handler's department, and the cases it co-handles) is one query per part, each down its index
    and limited, merged here: the first ``limit`` of the union are among the parts' first
    ``limit``. As one OR, the database collected and sorted the whole department (412 ms for a
    handler's first page at 1 000 000 cases)."""
    parts = scope if isinstance(scope, (list, tuple)) else [scope]
    if len(parts) == 1:
        return session.execute(query(f, parts[0], cursor, now).limit(limit)).all()
    # Every part holds only rows with a value in the sort column (where_clauses drops the NULLs).
    return merge_limited(session, [query(f, part, cursor, now) for part in parts], limit,
                         key=lambda r: (getattr(r, f.sort), r.id), reverse=f.order == "desc")


def merge_limited(session: Session, statements, limit: int, key, reverse: bool = False) -> list:
    """The first ``limit`` rows, in ``key`` order, of the union of ``statements`` (each selecting
    ``id`` and ordered by ``key``): each runs down its own index, limited, and the few rows are
    merged here. An OR or an IN over the same parts would make the database sort all their rows."""
    rows = {}
    for statement in statements:
        for row in session.execute(statement.limit(limit)).all():
            rows[row.id] = row
    return sorted(rows.values(), key=key, reverse=reverse)[:limit]


def count(session: Session, f: LedgerFilter, scope=None) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(*where_clauses(f, scope)))


def iter_cases(session: Session, f: LedgerFilter, scope=None, batch: int = 2000,
               now: datetime | None = None) -> Iterator[list]:
    """Every row of the filter in page order (ROW_COLUMNS), in keyset batches (exports stream these)."""
    now = now or utcnow()
    cursor = None
    while True:
        cases = _fetch(session, f, scope, cursor, now, batch)
        if not cases:
            return
        yield cases
        last = cases[-1]
        value = getattr(last, f.sort)
        cursor = (value.isoformat() if isinstance(value, datetime) else value, last.id)
        if len(cases) < batch:
            return


def department_names(session: Session) -> dict:
    return dict(session.execute(select(Department.code, Department.name)).all())


def working_days_left(calendar, deadline: datetime | None, now: datetime) -> int | None:
    """Working days from now to the deadline; negative when overdue (working days past it)."""
    if deadline is None:
        return None
    try:
        if deadline >= now:
            return calendar.working_days_between(now, deadline)
        return -max(calendar.working_days_between(deadline, now), 1)
    except CalendarGap:
        return None


def present(session: Session, cases: list, now: datetime, names: dict | None = None,
            calendar=None) -> list[dict]:
    """The ledger's columns for each case row (ROW_COLUMNS or a Case; times as aware Shanghai datetimes)."""
    from ..calendar.services import load_calendar
    names = names if names is not None else department_names(session)
    calendar = calendar or load_calendar(session)
    rows = []
    for c in cases:
        owes = c.status in OWED_REPLY
        rows.append({
            "id": c.id, "number": c.number, "registered_at": _local(c.registered_at),
            "channel": CHANNELS.get(c.channel, c.channel), "type": TYPES.get(c.type, c.type),
            "difficulty": DIFFICULTIES.get(c.difficulty, c.difficulty or ""), "category": c.category or "",
            "summary": summary(c.text), "address": c.address or "", "grid": c.grid or "",
            "department": names.get(c.department, c.department or ""), "department_code": c.department,
            "deadline": _local(c.deadline), "status": STATUSES.get(c.status, c.status),
            "days_left": working_days_left(calendar, c.deadline, now) if owes else None,
            "overdue": bool(owes and c.deadline is not None and c.deadline < now),
            "tier": c.supervision_tier or 0, "satisfaction": SATISFACTION.get(c.satisfaction, c.satisfaction or ""),
            "closed_at": _local(c.closed_at), "reporter_phone": c.reporter_phone,
        })
    return rows


def summary(text: str | None, length: int = 40) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[:length - 1] + "…"


def _local(value: datetime | None) -> datetime | None:
    return value.astimezone(SHANGHAI) if value else None
