"""Open311 GeoReport v2 over Bihuan's cases: the service list, the request list and one request,
and posting a request as a case (the same CaseService.register as every channel, so the same BPMN).

A request is a case; its ``service_request_id`` is the case number. Nothing of the reporter is ever
returned: the description is the case text with phone and ID numbers masked (app/privacy/masking.py)
and the reporter's name masked wherever the text repeats it. ``status_notes`` is the public timeline's latest step
(app/public/timeline.py), never a form's note.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..cases.models import Case
from ..cases.presenters import mask_name
from ..org.models import Department
from ..privacy.masking import mask_free_text
from ..public.timeline import OPEN311_CLOSED, label_table, latest_step
from .catalog import GENERAL, code_for, services
from .render import w3

WINDOW = timedelta(days=90)   # "may not span more than 90 days"; the default range
CAP = 1000                    # "or first 1000 requests returned, whichever is smallest"
MAX_IDS = 1000
DESCRIPTION_MAX = 4000
EARLIEST = datetime(2000, 1, 1, tzinfo=SHANGHAI)
LATEST = datetime(2100, 1, 1, tzinfo=SHANGHAI)

# The columns a request is made of. The reporter's name is read only to mask it inside the text;
# the phone is never read (numbers in the text are masked by pattern).
COLUMNS = (Case.id, Case.number, Case.status, Case.category, Case.text, Case.address, Case.registered_at,
           Case.dispatched_at, Case.signed_at, Case.replied_at, Case.followed_up_at, Case.closed_at,
           Case.deadline, Case.department, Case.type, Case.reporter_name)


_DIGITS = re.compile(r"\d{4}")  # text without a run of digits holds no number to mask: skip the patterns


class Open311Error(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


@dataclass
class RequestRow:
    """The selected columns of one case, shaped like a Case for the public timeline."""
    id: int
    number: str
    status: str
    category: str | None
    text: str
    address: str | None
    registered_at: datetime
    dispatched_at: datetime | None
    signed_at: datetime | None
    replied_at: datetime | None
    followed_up_at: datetime | None
    closed_at: datetime | None
    deadline: datetime | None
    department: str | None
    type: str
    reporter_name: str | None = None  # read only to mask it where the resident wrote it into the text


def parse_w3(name: str, value: str) -> datetime:
    """A w3/ISO 8601 date or date-time; without an offset it is Shanghai time."""
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Open311Error(400, f"{name} '{value[:40]}' is not a w3 date-time, e.g. 2026-11-01T00:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    if not EARLIEST <= moment < LATEST:
        raise Open311Error(400, f"{name} {value[:40]} is out of range (2000 to 2099)")
    return moment


def window(start: str | None, end: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or utcnow()
    start_at = parse_w3("start_date", start) if start else None
    end_at = parse_w3("end_date", end) if end else None
    if start_at and end_at:
        if end_at < start_at:
            raise Open311Error(400, "end_date is before start_date")
        if end_at - start_at > WINDOW:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    elif start_at:
        end_at = start_at + WINDOW
    elif end_at:
        start_at = end_at - WINDOW
    else:
        end_at, start_at = now, now - WINDOW
    return start_at, end_at


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def query_requests(core, session: Session, *, ids: str | None = None, service_code: str | None = None,
                   start: str | None = None, end: str | None = None, status: str | None = None) -> list[dict]:
    query = select(*COLUMNS)
    wanted = _split(ids)
    if wanted:  # "This overrides all other arguments."
        if len(wanted) > MAX_IDS:
            raise Open311Error(400, f"at most {MAX_IDS} service_request_id values at once")
        query = query.where(Case.number.in_(wanted))
    else:
        start_at, end_at = window(start, end)
        query = query.where(Case.registered_at >= start_at, Case.registered_at <= end_at)
        codes = _split(service_code)
        if codes:
            by_code = {s.code: s for s in services(core, session)}
            unknown = [c for c in codes if c not in by_code]
            if unknown:
                raise Open311Error(400, f"unknown service_code '{unknown[0][:50]}'")
            categories = [by_code[c].category for c in codes if by_code[c].category]
            clauses = [Case.category.in_(categories)] if categories else []
            if GENERAL in codes:
                clauses.append(Case.category.is_(None))
            query = query.where(or_(*clauses))
        statuses = _split(status)
        if statuses:
            bad = [s for s in statuses if s not in ("open", "closed")]
            if bad:
                raise Open311Error(400, f"status '{bad[0][:20]}' is neither open nor closed")
            if set(statuses) == {"open"}:
                query = query.where(Case.status.not_in(OPEN311_CLOSED))
            elif set(statuses) == {"closed"}:
                query = query.where(Case.status.in_(OPEN311_CLOSED))
        # Newest first down the registered_at index, stopping at the cap: never a scan of the window.
        query = query.order_by(Case.registered_at.desc(), Case.id.desc())
    rows = [RequestRow(*row) for row in session.execute(query.limit(CAP)).all()]
    departments = {r.department for r in rows if r.department}
    names = dict(session.execute(select(Department.code, Department.name)
                                 .where(Department.code.in_(departments))).all()) if departments else {}
    known = {s.category: s for s in services(core, session)}
    labels = label_table()
    return [request_document(row, names.get(row.department, row.department), known, labels) for row in rows]


def request_document(row: RequestRow, department_name: str | None, known: dict, labels: dict) -> dict:
    service = known.get(row.category)
    step, step_at = latest_step(row)
    updated = max(at for at in (row.registered_at, row.dispatched_at, row.signed_at, row.replied_at,
                                row.followed_up_at, row.closed_at) if at is not None)
    closed = row.status in OPEN311_CLOSED
    status_label = labels.get(f"status:{row.status}", row.status)
    description = mask_free_text(row.text) if row.text and _DIGITS.search(row.text) else (row.text or "")
    if row.reporter_name and len(row.reporter_name) >= 2:
        description = description.replace(row.reporter_name, mask_name(row.reporter_name))
    description = description[:DESCRIPTION_MAX]
    return {
        "service_request_id": row.number,
        "status": "closed" if closed else "open",
        "status_notes": f"{status_label}（{labels.get(f'step:{step}', step)} {w3(step_at)[:10]}）",
        "service_name": service.name if service else (row.category or "其他诉求"),
        "service_code": code_for(row.category),
        "description": description,
        "agency_responsible": department_name,
        "service_notice": None,
        "requested_datetime": w3(row.registered_at),
        "updated_datetime": w3(row.closed_at if closed and row.closed_at else updated),
        "expected_datetime": w3(row.deadline) if not closed else None,
        "address": row.address,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def find_request(core, session: Session, number: str) -> dict:
    documents = query_requests(core, session, ids=number) if re.fullmatch(r"[A-Za-z0-9-]{1,30}", number) else []
    if not documents:
        raise Open311Error(404, f"service_request_id '{number[:40]}' not found")
    return documents[0]
