"""Open311 documents in XML (required by the spec) and JSON (its Spark-convention mapping of the XML).

A document is plain Python: dicts in element order, lists whose element name comes from
``ITEMS`` (``services`` holds ``service`` elements, ...). XML is built with lxml, which escapes all
text; characters XML 1.0 cannot carry (control characters a resident's text may hold) are dropped.
"""
from __future__ import annotations

import json
import re
from datetime import datetime

from flask import Response
from lxml import etree

from workflows.workdays import SHANGHAI

ITEMS = {"services": "service", "attributes": "attribute", "values": "value", "endpoints": "endpoint",
         "formats": "format", "service_requests": "request", "errors": "error"}
FORMATS = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def w3(value: datetime | None) -> str | None:
    """ISO 8601 with the offset, as the spec requires: Shanghai time, e.g. 2026-11-02T10:00:00+08:00."""
    if value is None:
        return None
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element, value, name: str) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(etree.SubElement(element, key), child, key)
    elif isinstance(value, list):
        for item in value:
            _fill(etree.SubElement(element, ITEMS[name]), item, ITEMS[name])
    else:
        element.text = _text(value)


def to_xml(root: str, value) -> bytes:
    element = etree.Element(root)
    _fill(element, value, root)
    # The declaration exactly as the spec shows it: version="1.0" encoding="UTF-8".
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(element, encoding="utf-8",
                                                                      pretty_print=True)


def respond(fmt: str, root: str, value, status: int = 200) -> Response:
    if fmt == "json":
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        body = to_xml(root, value)
    return Response(body, status=status, content_type=FORMATS.get(fmt, FORMATS["xml"]))


def errors(fmt: str, status: int, *messages: str, code: int | None = None) -> Response:
    return respond(fmt, "errors", [{"code": code or status, "description": message} for message in messages],
                   status)
