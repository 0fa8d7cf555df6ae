"""Case search (案件查询): one indexed query, newest first, scoped to what the user may open.

Built to stay fast on 1 000 000 cases: every filter maps onto an indexed column, the text
("内容或地址") onto a trigram full-text index (app/cases/fulltext.py; fragments under three
characters scan the newest cases only, and say so), the order is ``registered_at DESC`` (indexed)
and a page asks for one row more than it shows instead of counting, so a query stops as soon as
it has filled the page.

    criteria = Criteria.from_args(request.args)
    result = search_cases(session, user, criteria, page=1)   # result.rows, result.has_next
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone

from flask_babel import gettext as _
from sqlalchemy import false, func, or_, select, union
from sqlalchemy.orm import Session

from workflows.workdays import SHANGHAI

from ..calendar.services import iso_day
from ..org.models import Department
from ..privacy.crypto import blind_index
from . import fulltext
from .models import CHANNELS, STATUSES, TYPES, Case
from .visibility import case_scope, case_scope_parts, may_reveal_reporter

PAGE_SIZE = 20
RECENT_WINDOW = 20_000  # newest cases a text search on PostgreSQL tries first (search_cases)
MAX_PAGE = 500  # deep OFFSETs cost as much as the rows they skip; nobody pages 10 000 rows by hand
NUMBER = re.compile(r"^HD-\d{8}-\d{4,}$")
# Only what a results row shows: the text is cut in the template, the rest of the row is never loaded.
COLUMNS = (Case.id, Case.number, Case.registered_at, Case.channel, Case.type, Case.status, Case.department,
           Case.text, Case.address, Case.reporter_phone, Case.deadline, Case.supervision_tier, Case.urgent)


@dataclass
class Criteria:
    number: str = ""
    phone: str = ""
    q: str = ""
    status: str = ""
    department: str = ""
    channel: str = ""
    type: str = ""
    date_from: date | None = None
    date_to: date | None = None
    errors: dict = field(default_factory=dict)  # field -> message, shown next to the field

    @classmethod
    def from_args(cls, args) -> "Criteria":
        """Read the search form; values that cannot be searched are dropped and reported."""
        c = cls(number=args.get("number", "").strip().upper(), phone=args.get("phone", "").strip(),
                q=args.get("q", "").strip()[:100], status=args.get("status", ""),
                department=args.get("department", "").strip(), channel=args.get("channel", ""),
                type=args.get("type", ""))
        for name, allowed in (("status", STATUSES), ("channel", CHANNELS), ("type", TYPES)):
            if getattr(c, name) and getattr(c, name) not in allowed:
                c.errors[name] = _("无此选项")
                setattr(c, name, "")
        if c.phone and not all(ch.isdigit() or ch in "+- " for ch in c.phone):
            c.errors["phone"] = _("电话号码只能包含数字")
            c.phone = ""
        for name in ("date_from", "date_to"):
            raw = args.get(name, "").strip()
            if raw:
                try:
                    setattr(c, name, iso_day(raw))
                except ValueError:
                    c.errors[name] = _("日期格式应为 YYYY-MM-DD")
        return c

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self) if f.name != "errors")

    def query_args(self) -> dict:
        """The criteria as URL parameters, for pagination links."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "errors" and value:
                out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out


@dataclass
class SearchResult:
    rows: list
    has_next: bool
    page: int
    note: str = ""  # shown above the results: the search was narrowed (short text fragment)


def shanghai_day_start(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI).astimezone(timezone.utc)


def _number_filter(session: Session, number: str):
    if NUMBER.match(number):
        return Case.number == number
    if session.get_bind().dialect.name == "sqlite":
        # A half-open range uses the unique index on number; SQLite's LIKE would not (it is case-folding).
        return Case.number.between(number, number + "\uffff")
    # In the "C" collation, as the index of migration 0043: LIKE's prefix becomes an index range.
    return _number_order(session).startswith(number, autoescape=True)


def _number_order(session: Session):
    """The number as its index orders it: SQLite's unique index (binary), PostgreSQL's "C" one."""
    return Case.number if session.get_bind().dialect.name == "sqlite" else Case.number.collate("C")


def _contains(session: Session, column, fragment: str):
    """Plain substring match (no LIKE wildcards to escape). On SQLite instr() is about a third
    faster than LIKE on Chinese text, which matters when a rare fragment scans every row."""
    if session.get_bind().dialect.name == "sqlite":
        return func.instr(column, fragment) > 0
    return func.strpos(column, fragment) > 0


def build_query(session: Session, user, criteria: Criteria, newer_than: int | None = None, scope=None):
    """The search as one query. ``newer_than`` (PostgreSQL, indexed text only): look for the text in
    the cases with a larger id only, by walking the primary key and testing each row, not through the
    trigram index (see ``search_cases``). ``scope``: one of the user's scope clauses instead of all of
    them, and no short-fragment scan (``_bounded_scan_by_part`` builds its windows with it)."""
    if criteria.phone and not may_reveal_reporter(user):
        # Whether a number has filed a case is personal data too: only the roles that call residents
        # back (operator, dispatcher) may ask.
        criteria.errors["phone"] = _("只有受理员和指挥中心可以按电话号码查询")
        return select(*COLUMNS).where(false())  # nothing at all, not everything without the filter
    query = select(*COLUMNS).where(case_scope(user) if scope is None else scope)
    if criteria.number:
        query = query.where(_number_filter(session, criteria.number))
    if criteria.phone:
        query = query.where(Case.reporter_phone_index == blind_index(criteria.phone))
    id_order = Case.id
    if criteria.q and fulltext.indexable(criteria.q) and newer_than is not None:
        # strpos() cannot use the trigram index, so the planner walks the id range instead.
        query = query.where(Case.id > newer_than, or_(_contains(session, Case.text, criteria.q),
                                                      _contains(session, Case.address, criteria.q)))
    elif criteria.q and fulltext.indexable(criteria.q):
        query, id_order = fulltext.restrict(query, session.get_bind().dialect.name, criteria.q)
    for name in ("status", "department", "channel", "type"):
        value = getattr(criteria, name)
        if value:
            query = query.where(getattr(Case, name) == value)
    if criteria.date_from:
        query = query.where(Case.registered_at >= shanghai_day_start(criteria.date_from))
    if criteria.date_to:
        query = query.where(Case.registered_at < shanghai_day_start(criteria.date_to + timedelta(days=1)))
    # Ids are given out at registration, so id order is registration order; a text match hands
    # out matching ids newest first and a page is the first of them, with or without dates (in
    # registered_at order the index would have to collect every match of the range first).
    by_id = bool(criteria.q)
    if by_id:
        query = query.order_by(id_order.desc())
    elif criteria.number and not NUMBER.match(criteria.number):
        # A prefix (a day, a month) is newest first by number: numbers run in registration order
        # (HD-date-sequence), and the number's own index then gives both the range and the order.
        # Ordered by registration time, PostgreSQL walked that index back to the day (1.2 s at 1 M).
        query = query.order_by(_number_order(session).desc())
    else:
        query = query.order_by(Case.registered_at.desc(), Case.id.desc())
    if scope is None and criteria.q and not fulltext.indexable(criteria.q):
        parts = case_scope_parts(user)
        if len(parts) > 1:
            return _bounded_scan_by_part(session, user, criteria, parts)
        query = _bounded_scan(session, query, criteria.q, by_id)
    return query


def _bounded_scan(session: Session, query, fragment: str, by_id: bool):
    """A fragment too short for the trigram index (one or two characters, e.g. "路灯") is looked
    for in the newest ``SHORT_SCAN_LIMIT`` cases passing the other filters only, so the time it
    takes stays bounded however many cases there are; the page says so (``SearchResult.note``)."""
    newest = query.limit(fulltext.SHORT_SCAN_LIMIT).subquery()
    order = (newest.c.id.desc(),) if by_id else (newest.c.registered_at.desc(), newest.c.id.desc())
    return (select(newest).where(or_(_contains(session, newest.c.text, fragment),
                                     _contains(session, newest.c.address, fragment)))
            .order_by(*order))


def _bounded_scan_by_part(session: Session, user, criteria: Criteria, parts: list):
    """``_bounded_scan`` for a user whose scope has several parts (a handler: the department's cases
    and those it co-handles). As one OR the database collects every case of the department and sorts
    them all (half a second at 1 000 000 cases); instead each part's newest ``SHORT_SCAN_LIMIT`` ids
    are read down its own index (a department's by registration time: the index alone, when no other
    filter needs the row), and the fragment is looked for in the cases of the newest
    ``SHORT_SCAN_LIMIT`` of those ids."""
    windows = [select(build_query(session, user, criteria, scope=part).with_only_columns(Case.id)
                      .order_by(None).order_by(Case.registered_at.desc(), Case.id.desc())
                      .limit(fulltext.SHORT_SCAN_LIMIT).subquery())
               for part in parts]
    both = union(*windows).subquery()  # a case can be in two parts: UNION, not UNION ALL
    newest = select(both.c.id).order_by(both.c.id.desc()).limit(fulltext.SHORT_SCAN_LIMIT).subquery()
    return (select(*COLUMNS).join(newest, newest.c.id == Case.id)
            .where(or_(_contains(session, Case.text, criteria.q), _contains(session, Case.address, criteria.q)))
            .order_by(Case.id.desc()))


def search_cases(session: Session, user, criteria: Criteria, page: int = 1) -> SearchResult:
    """One page of matching cases, newest first; ``has_next`` from one extra row, never a COUNT."""
    page = min(max(int(page or 1), 1), MAX_PAGE)
    rows = None
    if _newest_first(session, criteria):
        # A common fragment ("路灯不亮" is in one case of fifty) makes PostgreSQL collect every
        # match from the trigram index and sort them (hundreds of ms at 1 000 000 cases), though
        # the page is among the newest few thousand. So look in the newest RECENT_WINDOW cases
        # first, in id order; only when they do not fill the page is the index asked, and then
        # the fragment is rare enough for the index to be quick.
        newest = session.scalar(select(func.max(Case.id))) or 0
        window = build_query(session, user, criteria, newer_than=newest - RECENT_WINDOW)
        rows = session.execute(window.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
        if len(rows) <= PAGE_SIZE:
            rows = None  # not a full page in the window: the whole table through the index
    if rows is None:
        query = build_query(session, user, criteria).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
        rows = session.execute(query).all()
    note = ""
    if criteria.q and not fulltext.indexable(criteria.q):
        note = _("少于三个字的内容只在最新的 %(limit)s 件工单中查找；输入三个字以上可查全部工单。",
                 limit=f"{fulltext.SHORT_SCAN_LIMIT:,}")
    return SearchResult(rows=rows[:PAGE_SIZE], has_next=len(rows) > PAGE_SIZE, page=page, note=note)


def _newest_first(session: Session, criteria: Criteria) -> bool:
    """Whether the newest-cases window is tried first: text long enough for the index, on
    PostgreSQL (SQLite's FTS5 already walks matches newest first), and no number or phone, which
    are selective on their own."""
    return bool(criteria.q and fulltext.indexable(criteria.q) and not criteria.number and not criteria.phone
                and session.get_bind().dialect.name == "postgresql")


def department_names(session: Session) -> dict[str, str]:
    """code -> name of every department (a short table), for labels and the filter's choices."""
    return dict(session.execute(select(Department.code, Department.name).order_by(Department.id)).all())
