"""The JSON API's request and response shapes (marshmallow); the OpenAPI document is made from them.

Reporters' names and phones may be sent when registering, and are never returned (no schema
here has them on the way out).
"""
from __future__ import annotations

from datetime import date

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from ..cases.models import CHANNELS, STATUSES, TYPES
from ..cases.services import MAX_TEXT
from ..reports.kpis import BY

FIRST_YEAR, LAST_YEAR = 2000, 2099
# Dates out of this range are refused; the pattern tells clients (and the OpenAPI document) so.
DATE = {"pattern": r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$", "description": "YYYY-MM-DD, a Shanghai day, 2000-2099"}
TYPE_VALUES = sorted(TYPES) + sorted(TYPES.values())


def _in_years(value: date) -> None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValidationError(f"a date between {FIRST_YEAR} and {LAST_YEAR}")


class Strict(Schema):
    class Meta:
        unknown = RAISE  # an unknown field is a mistake to report, not to drop


class CaseCreate(Strict):
    channel = fields.String(load_default="web", validate=validate.OneOf(sorted(CHANNELS)),
                            metadata={"description": "intake channel; the governance platform sends 'platform'"})
    type = fields.String(required=True, validate=validate.OneOf(TYPE_VALUES),
                         metadata={"description": "inquiry|help|complaint|report|suggestion (or 咨询/求助/投诉/举报/建议)"})
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))
    category = fields.String(allow_none=True, validate=validate.Length(max=50))
    address = fields.String(allow_none=True, validate=validate.Length(max=300))
    grid = fields.String(allow_none=True, validate=validate.Length(max=50))
    urgent = fields.Boolean(load_default=False)
    reporter_name = fields.String(allow_none=True, validate=validate.Length(max=100), load_only=True,
                                  metadata={"description": "stored encrypted, never returned"})
    reporter_phone = fields.String(allow_none=True, validate=validate.Regexp(r"^[0-9+\- ]{0,30}$"), load_only=True,
                                   metadata={"description": "digits, spaces, + and -; stored encrypted, never returned"})
    external_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=100),
                                metadata={"description": "your own number for the order (e.g. the 12345 work order "
                                                         "number): unique per client; a second POST with it updates "
                                                         "the case (text, address) instead of making another"})

    @validates("text")
    def _text(self, value, **_kw):
        if not value.strip():
            raise ValidationError("must not be blank")


class TaskOut(Schema):
    id = fields.String(required=True)
    case = fields.String(required=True)
    task = fields.String(required=True, metadata={"description": "the BPMN task id, e.g. sign_for, handle"})
    name = fields.String(required=True)
    role = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    due = fields.String(allow_none=True, metadata={"description": "ISO 8601 instant"})
    assignee = fields.String(allow_none=True)
    form = fields.String(allow_none=True, metadata={"description": "the JSON Schema the data must satisfy"})


class CaseOut(Schema):
    number = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": sorted(STATUSES)})
    channel = fields.String(required=True)
    type = fields.String(required=True)
    category = fields.String(allow_none=True)
    difficulty = fields.String(allow_none=True)
    urgent = fields.Boolean(required=True)
    text = fields.String(required=True)
    address = fields.String(allow_none=True)
    grid = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    registered_at = fields.String(required=True)
    dispatched_at = fields.String(allow_none=True)
    replied_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)
    deadline = fields.String(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    supervision_tier = fields.Integer(required=True)
    external_id = fields.String(allow_none=True)
    tasks = fields.List(fields.Nested(TaskOut), required=True)


class CaseQuery(Schema):
    status = fields.String(validate=validate.OneOf(sorted(STATUSES)))
    department = fields.String(validate=validate.Length(max=50))
    channel = fields.String(validate=validate.OneOf(sorted(CHANNELS)))
    type = fields.String(validate=validate.OneOf(sorted(TYPES)))
    external_id = fields.String(validate=validate.Length(min=1, max=100))
    registered_from = fields.Date(validate=_in_years, metadata=DATE)
    registered_to = fields.Date(validate=_in_years, metadata=DATE)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(max=200),
                          metadata={"description": "the `next` cursor of the previous page"})


class CasePage(Schema):
    items = fields.List(fields.Nested(CaseOut), required=True)
    next = fields.String(allow_none=True, required=True,
                         metadata={"description": "pass as `after` for the next page; null on the last"})


class TimelineEntry(Schema):
    at = fields.String(required=True)
    action = fields.String(required=True)
    task = fields.String(allow_none=True)
    task_name = fields.String(allow_none=True)
    actor = fields.String(required=True)


class SupervisionOut(Schema):
    tier = fields.Integer(required=True)
    reason = fields.String(required=True)
    department = fields.String(allow_none=True)
    status = fields.String(required=True)
    opened_at = fields.String(allow_none=True)
    due = fields.String(allow_none=True)
    escalated_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)
    measure = fields.String(allow_none=True)


class TaskQuery(Schema):
    case = fields.String(validate=validate.Length(max=30))


class TaskComplete(Strict):
    data = fields.Dict(keys=fields.String(), required=True,
                       metadata={"description": "the task form's fields, validated by its JSON Schema"})


class TaskResult(Schema):
    number = fields.String(required=True)
    status = fields.String(required=True)
    tasks = fields.List(fields.Nested(TaskOut), required=True)


class KpiQuery(Schema):
    from_ = fields.Date(required=True, data_key="from", validate=_in_years, metadata=DATE)
    to = fields.Date(required=True, validate=_in_years, metadata=DATE)
    by = fields.String(validate=validate.OneOf(sorted(BY)))


class KpiOut(Schema):
    from_ = fields.String(data_key="from", required=True)
    to = fields.String(required=True)
    by = fields.String(allow_none=True)
    total = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    rows = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True)), required=True)
