"""我的待办: the ready tasks of a user's roles (handler work only for the own department).

Built for a large table: the page is one query on ``ready_tasks`` walked in the order of the index
``(role, department, due_at)`` and joined to ``cases`` by primary key, LIMIT page size + 1 (the extra
row only says there is a next page). Tab counts are COUNTs that the same index, or the assignee
index, answers: one pass over the first COUNT_CAP doable tasks counts every tab when the backlog is
smaller, and beyond it each tab stops at COUNT_CAP (the tab then says "500+"): a city's backlog of a
role can hold hundreds of thousands of tasks, and an exact COUNT would walk them all on every page
view. Only a filter on case columns joins ``cases``, and then the one pass is all there is.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, false, func, literal, or_, select, union_all

from workflows.clock import utcnow

from ..cases.models import CHANNELS, TYPES, Case, ReadyTask, WorkflowInstance
from ..joint.hooks import INSTRUCT_ROLES, LEADER_ROLE, personal_task
from ..supervision.models import TIERS, SupervisionItem

PAGE_SIZE = 50
TABS = ("all", "mine", "unclaimed", "overdue")
SORTS = ("due", "-due")
COUNT_CAP = 500


@dataclass(frozen=True)
class Filters:
    tab: str = "all"
    sort: str = "due"
    type: str = ""
    category: str = ""
    channel: str = ""
    tier: int | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "Filters":
        """Unknown or malformed values fall back to the defaults instead of failing the page."""
        tier = args.get("tier", "")
        page = args.get("page", "1")
        return cls(
            tab=args.get("tab") if args.get("tab") in TABS else "all",
            sort=args.get("sort") if args.get("sort") in SORTS else "due",
            type=args.get("type") if args.get("type") in TYPES else "",
            category=(args.get("category") or "").strip()[:50],
            channel=args.get("channel") if args.get("channel") in CHANNELS else "",
            tier=int(tier) if tier.isdigit() and (int(tier) in TIERS or tier == "0") else None,
            page=max(1, min(int(page), 10_000)) if page.isdigit() else 1,
        )

    def args(self, **changes) -> dict:
        """Query arguments for a link to this list with some values changed; defaults left out."""
        values = {"tab": self.tab, "sort": self.sort, "type": self.type, "category": self.category,
                  "channel": self.channel, "tier": self.tier, "page": self.page, **changes}
        defaults = {"tab": "all", "sort": "due", "page": 1}
        return {k: v for k, v in values.items() if v not in (None, "") and defaults.get(k) != v}

    @property
    def on_cases(self) -> bool:
        return bool(self.type or self.category or self.channel or self.tier is not None)


@dataclass(frozen=True)
class Row:
    id: str
    name: str
    bpmn_id: str
    due_at: datetime | None
    assignee: str | None
    department: str | None
    number: str
    type: str
    category: str | None
    channel: str
    text: str
    urgent: bool
    tier: int
    redo_count: int = 0
    extended: bool = False
    case_tier: int = 0
    # A supervision task is about the department its item was opened against, which need not be the
    # case's current one (the case may have been reassigned since).
    concerned: tuple[str, ...] = ()
    # 领导签批销号: the instructing person's own from the start (no claim, no giving back).
    personal: bool = False


def task_clauses(roles, department: str | None, by_role_index: bool = True, username: str | None = None) -> list:
    """One condition per kind of task a user with ``roles`` (and ``department``) may do.

    Tasks of other roles never carry a department (the projection stores it for handler work
    only); saying so lets the database read them in due order straight off the role index.
    ``by_role_index=False`` states the same conditions in a form no index matches (``role || ''``),
    for queries that should start from the assignee index instead: a user's claimed tasks are
    few, their role's tasks may be tens of thousands.

    领导签批销号 (``LEADER_ROLE``) is the instructing person's own task whatever their roles (a party
    tier supervisor instructs too), so it is listed by its assignee (``username``), never by role:
    one leader does not see, nor sign off, another's instruction (app/joint/hooks.py). Only the
    roles that instruct get that clause, so everyone else's list stays one walk of one index.
    """
    role_col = ReadyTask.role if by_role_index else ReadyTask.role.concat("")
    dept_col = ReadyTask.department if by_role_index else ReadyTask.department.concat("")
    clauses = [and_(role_col == role, ReadyTask.department.is_(None))
               for role in sorted(set(roles) - {"handler", LEADER_ROLE})]
    if "handler" in roles and department:
        clauses.append(and_(role_col == "handler", dept_col == department))
    if username and set(roles) & INSTRUCT_ROLES:
        # ... and a released sign-off (its instructing person deactivated) is everyone's who may instruct.
        clauses.append(and_(role_col == LEADER_ROLE, ReadyTask.department.is_(None),
                            or_(ReadyTask.assignee == username, ReadyTask.assignee.is_(None))))
    return clauses


def task_clause(roles, department: str | None, by_role_index: bool = True, username: str | None = None):
    """The tasks a user may do, as one condition (see ``task_clauses``)."""
    clauses = task_clauses(roles, department, by_role_index, username)
    if not clauses:
        return false()
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def _case_filters(filters: Filters) -> list:
    where = []
    if filters.type:
        where.append(Case.type == filters.type)
    if filters.category:
        where.append(Case.category == filters.category)
    if filters.channel:
        where.append(Case.channel == filters.channel)
    if filters.tier is not None:
        where.append(Case.supervision_tier == filters.tier)
    return where


def _tab_clause(tab: str, username: str, now: datetime):
    return {"mine": ReadyTask.assignee == username,
            "unclaimed": ReadyTask.assignee.is_(None),
            "overdue": ReadyTask.due_at <= now}.get(tab)


PAGE_COLUMNS = (ReadyTask.id, ReadyTask.name, ReadyTask.bpmn_id, ReadyTask.due_at, ReadyTask.assignee,
                Case.department, Case.number, Case.type, Case.category, Case.channel,
                func.substr(Case.text, 1, 60).label("text"), Case.urgent, ReadyTask.supervision_tier.label("task_tier"),
                Case.supervision_tier.label("case_tier"), Case.redo_count, Case.extensions, Case.id.label("case_id"),
                ReadyTask.role)


def _due_order(column, sort: str):
    # Tasks without a due time sort after every dated one, in both directions of the index.
    return column.asc().nulls_last() if sort == "due" else column.desc().nulls_first()


def page_query(user, filters: Filters, now: datetime):
    by_role_index = filters.tab != "mine"
    clauses = task_clauses(user.roles, user.department, by_role_index, user.username)
    where = [*_case_filters(filters)]
    tab = _tab_clause(filters.tab, user.username, now)
    if tab is not None:
        where.append(tab)
    base = select(*PAGE_COLUMNS).join(Case, Case.id == ReadyTask.case_id).where(*where)
    offset, limit = (filters.page - 1) * PAGE_SIZE, PAGE_SIZE + 1
    if len(clauses) < 2 or not by_role_index:
        query = base.where(task_clause(user.roles, user.department, by_role_index, user.username))
        return query.order_by(_due_order(ReadyTask.due_at, filters.sort)).limit(limit).offset(offset)
    # Several roles: an OR over them would make the database sort every task of every role for
    # each page. Instead each role's tasks are read in due order off its index, only as far as
    # this page reaches, and the few rows that come back are merged.
    parts = [base.where(clause).order_by(_due_order(ReadyTask.due_at, filters.sort)).limit(offset + limit)
             .subquery() for clause in clauses]
    merged = union_all(*[select(part) for part in parts]).subquery()
    return (select(merged).order_by(_due_order(merged.c.due_at, filters.sort)).limit(limit).offset(offset))


def page(session, user, filters: Filters, now: datetime | None = None) -> tuple[list[Row], bool]:
    """One page of the worklist and whether another page follows."""
    query = page_query(user, filters, now or utcnow())
    found = session.execute(query).all()
    concerned = _concerned(session, [(r[16], r[12]) for r in found[:PAGE_SIZE] if r[12]])
    rows = [Row(id=r[0], name=r[1], bpmn_id=r[2], due_at=r[3], assignee=r[4], department=r[5], number=r[6],
                type=r[7], category=r[8], channel=r[9], text=r[10] or "", urgent=bool(r[11]),
                tier=r[12] or r[13] or 0, redo_count=r[14] or 0, case_tier=r[13] or 0,
                extended=any(isinstance(e, dict) and e.get("approved") for e in (r[15] or [])),
                concerned=concerned.get((r[16], r[12]), ()), personal=personal_task(r[17], r[4]))
            for r in found]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def version_labels(core, session, numbers) -> dict[str, dict[str, str]]:
    """case number -> the English of its process version's own labels (``Bundle.labels``), for the
    task names of a page: one query by the cases' unique numbers, each version parsed once (cached)."""
    numbers = set(numbers)
    if not numbers:
        return {}
    found = session.execute(select(Case.number, WorkflowInstance.process_version_id)
                            .join(WorkflowInstance, WorkflowInstance.case_id == Case.id)
                            .where(Case.number.in_(numbers))).all()
    return {number: core.bundles.get(session, version_id).labels for number, version_id in found}


def _concerned(session, keys: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[str, ...]]:
    """(case id, tier) -> the departments of the live supervision items at that tier: one query for the page."""
    if not keys:
        return {}
    result: dict[tuple[int, int], list[str]] = {}
    rows = session.execute(select(SupervisionItem.case_id, SupervisionItem.tier, SupervisionItem.department)
                           .where(SupervisionItem.case_id.in_({case_id for case_id, _t in keys}),
                                  SupervisionItem.status.in_(("open", "replied")))
                           .order_by(SupervisionItem.opened_at))
    for case_id, tier, department in rows:
        names = result.setdefault((case_id, tier), [])
        if department and department not in names:
            names.append(department)
    return {key: tuple(value) for key, value in result.items()}


def counts(session, user, filters: Filters, now: datetime | None = None) -> dict:
    """How many tasks each tab holds under the current filters, each counted up to COUNT_CAP;
    ``capped`` names the tabs whose count stopped there."""
    now = now or utcnow()
    doable = task_clause(user.roles, user.department, username=user.username)
    if filters.on_cases:
        # A filter on case columns needs the join for every count: the one pass is all there is.
        found = _one_pass(session, user, doable, now, filters)
        return {**found, "capped": TABS if found["all"] >= COUNT_CAP else ()}
    # One pass over the first COUNT_CAP doable tasks: a backlog below the cap (an office's usual
    # day) is counted exactly by it, every tab at once.
    found = _one_pass(session, user, doable, now)
    if found["all"] < COUNT_CAP:
        return {**found, "capped": ()}
    # A backlog beyond the cap (a city's): each tab is its own walk of an index, stopped at COUNT_CAP.
    found["overdue"] = _capped_count(session, doable, ReadyTask.due_at <= now)
    found["unclaimed"] = _capped_count(session, doable, ReadyTask.assignee.is_(None))
    # A user's own claims are few: the assignee index, by equality.
    found["mine"] = _capped_count(session, ReadyTask.assignee == user.username,
                                  task_clause(user.roles, user.department, False, user.username))
    return {**found, "capped": tuple(tab for tab, count in found.items() if count >= COUNT_CAP)}


def _capped_count(session, *where) -> int:
    first = select(literal(1)).select_from(ReadyTask).where(*where).limit(COUNT_CAP).subquery()
    return session.scalar(select(func.count()).select_from(first)) or 0


def _one_pass(session, user, doable, now: datetime, filters: Filters | None = None) -> dict[str, int]:
    """Every tab's count among the first COUNT_CAP doable tasks (joined to their cases when
    ``filters`` has case columns), in one query."""
    matches = select(ReadyTask.assignee.label("assignee"), ReadyTask.due_at.label("due_at")).where(doable)
    if filters is not None:
        matches = matches.join(Case, Case.id == ReadyTask.case_id).where(*_case_filters(filters))
    matches = matches.limit(COUNT_CAP).subquery()
    total, claimed, mine, late = session.execute(select(
        func.count(), func.count(matches.c.assignee),
        func.count(case((matches.c.assignee == user.username, 1))),
        func.count(case((matches.c.due_at <= now, 1))))).one()
    return {"all": total, "mine": mine, "unclaimed": total - claimed, "overdue": late}
