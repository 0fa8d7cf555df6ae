"""Cases handed over by another system, keyed by that system's own number.

    case, created = upsert_external(core, source="platform", external_id="12345-20261102-0001",
                                    user="api-platform", audit_source="api:platform",
                                    fields={"channel": "platform", "type": "投诉", "text": "..."})

The first push registers the case through the case service (the same BPMN, checks and audit as
the 受理 page) with ``external_source``/``external_id`` set in the same transaction. A later push
of the same order updates what the order may change while the case runs (the text and the
address) and writes one audit row; a push that would change what the process already decided
(channel, type, category, urgency) is a conflict, never a second case. Two concurrent first pushes
race on the unique index (migration 0030): the loser becomes an update.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from workflows.clock import utcnow

from ..cases.models import Case
from ..cases.services import MAX_TEXT, TYPE_BY_LABEL, audit
from ..errors import Conflict, Invalid

UPDATABLE = ("text", "address")
FIXED = ("channel", "type", "category", "urgent")
REGISTER_FIELDS = ("channel", "type", "text", "category", "address", "reporter_name", "reporter_phone", "grid",
                   "urgent")


def find_external(session, source: str, external_id: str) -> Case | None:
    return session.scalars(select(Case).where(Case.external_source == source,
                                              Case.external_id == external_id)).first()


def upsert_external(core, *, source: str, external_id: str, user: str | None, fields: dict,
                    audit_source: str, attach=None) -> tuple[str, bool]:
    """Register the order as a case, or apply an update to the case it became.
    Returns (case number, created). ``attach(session, case, created)`` runs inside the transaction
    (the API records the idempotent answer there)."""
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 100:
        raise Invalid("external_id must be 1-100 characters", fields=[("external_id", "1-100 characters")])
    with core.db.read() as session:
        existing = find_external(session, source, external_id)
    if existing is None:
        def mark(session, case, actor):
            case.external_source, case.external_id = source, external_id
            if attach is not None:
                attach(session, case, True)
        try:
            result = core.cases.register(**{k: fields[k] for k in REGISTER_FIELDS if k in fields}, user=user,
                                         source=audit_source, detail=False, attach=mark)
            return result["number"], True
        except IntegrityError:
            with core.db.read() as session:  # a concurrent first push won the unique index
                if find_external(session, source, external_id) is None:
                    raise
    return _update(core, source, external_id, fields, user, audit_source, attach), False


def _update(core, source: str, external_id: str, fields: dict, user: str | None, audit_source: str,
            attach=None) -> str:
    with core.db.unit_of_work() as session:
        case = find_external(session, source, external_id)
        wanted = dict(fields)
        if "type" in wanted:
            wanted["type"] = TYPE_BY_LABEL.get(wanted["type"], wanted["type"])
        fixed = [name for name in FIXED if name in wanted and wanted[name] is not None
                 and wanted[name] != getattr(case, name)]
        if fixed:
            raise Conflict(f"order '{external_id}' is case {case.number}; its {', '.join(fixed)} cannot change "
                           f"once registered", )
        changes = {}
        for name in UPDATABLE:
            if name not in wanted:
                continue
            value = (wanted[name] or "").strip() or None
            if name == "text":
                if not value:
                    raise Invalid("text is required", fields=[("text", "required")])
                if len(value) > MAX_TEXT:
                    raise Invalid(f"text is longer than {MAX_TEXT} characters", fields=[("text", "too long")])
            if value != getattr(case, name):
                changes[name] = [getattr(case, name), value]
                setattr(case, name, value)
        if changes:
            audit(session, actor=user or "cli", action="external_update", case=case, source=audit_source,
                  changes={"external_id": external_id, **changes}, at=utcnow())
        if attach is not None:
            attach(session, case, False)
        return case.number
