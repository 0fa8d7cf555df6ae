"""POST requests: an Open311 service request becomes a case on the ``web`` channel (or
``BIHUAN_OPEN311_CHANNEL``), registered by CaseService like any other, so it runs the same BPMN.

The form is application/x-www-form-urlencoded as the spec says (multipart is accepted too, some
clients send it); a JSON or XML body is refused, so no XML is ever parsed from a client. The
api_key is checked with the API domain's keys (scope ``intake``); the client's name is the audit
source. Every request is given a token (``external_source='open311'``, ``external_id``), which
``tokens/{token}`` resolves; it is returned instead of the id when the services are ``batch``.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from ..cases.models import CHANNELS, TYPES
from ..cases.services import TYPE_BY_LABEL
from ..errors import BihuanError, Invalid
from .catalog import DEFAULT_TYPE, attributes
from .services import DESCRIPTION_MAX, Open311Error

SOURCE = "open311"
SPEC_FIELDS = {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id",
               "email", "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url"}
ATTRIBUTE = re.compile(r"attribute\[([A-Za-z0-9_]{1,50})\](\[\])?")
PHONE = re.compile(r"\+?[0-9][0-9 -]{4,24}")


@dataclass
class Posted:
    service_code: str
    type: str
    text: str
    address: str | None
    reporter_name: str | None
    reporter_phone: str | None


def _number(name: str, value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise Open311Error(400, f"{name} '{value[:30]}' is not a number") from None
    if not low <= number <= high or number != number:
        raise Open311Error(400, f"{name} {value[:30]} is out of range ({low} to {high})")
    return number


def read_form(form) -> Posted:
    """The posted fields, checked; Open311Error(400) names the first problem."""
    unknown = [key for key in form.keys() if key not in SPEC_FIELDS and not ATTRIBUTE.fullmatch(key)]
    if unknown:
        raise Open311Error(400, f"unknown parameter '{unknown[0][:50]}'")
    values = {key: (form.get(key) or "").strip() for key in SPEC_FIELDS}
    if not values["service_code"]:
        raise Open311Error(400, "service_code was not provided")
    known_attributes = {a["code"] for a in attributes()}
    request_type = DEFAULT_TYPE
    for key in form.keys():
        match = ATTRIBUTE.fullmatch(key)
        if not match:
            continue
        if match.group(1) not in known_attributes:
            raise Open311Error(400, f"unknown attribute '{match.group(1)}' (this service defines: "
                                    f"{', '.join(sorted(known_attributes))})")
        given = (form.get(key) or "").strip()
        kind = TYPE_BY_LABEL.get(given, given)
        if kind not in TYPES:
            raise Open311Error(400, f"attribute[request_type] '{given[:20]}' is not one of {', '.join(TYPES)}")
        request_type = kind
    lat, lon = values["lat"], values["long"]
    if bool(lat) != bool(lon):
        raise Open311Error(400, "lat and long must be sent together")
    if not (lat or values["address_string"] or values["address_id"]):
        raise Open311Error(400, "a location is required: lat & long, address_string or address_id")
    address = values["address_string"][:300] or None
    if lat:
        point = f"{_number('lat', lat, -90, 90):.6f}, {_number('long', lon, -180, 180):.6f}"
        address = address or f"坐标 {point}"
    if not address and values["address_id"]:
        address = f"地址编号 {values['address_id'][:100]}"
    description = values["description"]
    if len(description) > DESCRIPTION_MAX:
        raise Open311Error(400, f"description is longer than {DESCRIPTION_MAX} characters")
    media = values["media_url"]
    if media and not re.fullmatch(r"https?://\S{1,1000}", media):
        raise Open311Error(400, "media_url must be an http(s) URL")
    phone = values["phone"] or None
    if phone and not PHONE.fullmatch(phone):
        raise Open311Error(400, "phone may hold only digits, spaces, + and -")
    name = (values["last_name"] + values["first_name"])[:50] or None  # Chinese order: family name first
    text = description or "（未附描述）"
    if lat:
        text += f"\n位置：{point}"
    if media:
        text += f"\n图片：{media}"
    return Posted(values["service_code"], request_type, text, address, name, phone)


def register(core, posted: Posted, category: str | None, client: str, username: str, channel: str) \
        -> tuple[str, str]:
    """(case number, token): one case in one transaction, through the case service."""
    if channel not in CHANNELS:
        raise Open311Error(400, f"the configured channel '{channel}' does not exist")
    token = secrets.token_urlsafe(18)

    def mark(_session, case, _actor):
        case.external_source, case.external_id = SOURCE, token

    try:
        case = core.cases.register(channel=channel, type=posted.type, text=posted.text, category=category,
                                   address=posted.address, reporter_name=posted.reporter_name,
                                   reporter_phone=posted.reporter_phone, user=username,
                                   source=f"open311:{client}"[:50], detail=False, attach=mark)
    except Invalid as exc:
        raise Open311Error(400, str(exc)) from None
    except BihuanError as exc:
        raise Open311Error(400, f"the request could not be registered: {exc}") from None
    return case["number"], token
