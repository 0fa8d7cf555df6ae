"""Every error of the JSON API in one shape: RFC 9457 problem details (application/problem+json).

    {"type": "urn:bihuan:problem:validation", "title": "Unprocessable Content", "status": 422,
     "detail": "the request has invalid fields", "errors": [{"field": "text", "message": "required"}]}

Domain errors (app/errors.py), Werkzeug's HTTP errors (404, 405, 413, 415, 429), webargs'
validation errors and a database refusal caused by the input all end here; a client's mistake is
never a 500.
"""
from __future__ import annotations

import http
import logging

from flask import Flask, jsonify, request
from marshmallow import Schema, fields
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from workflows.workdays import CalendarGap

from ..errors import BihuanError, Invalid

PREFIX = "/api/v1"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


class FieldErrorSchema(Schema):
    field = fields.String(required=True)
    message = fields.String(required=True)


class ProblemSchema(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Nested(FieldErrorSchema))


def problem(status: int, detail: str, code: str | None = None, errors: list[dict] | None = None, headers=None):
    body = {"type": f"urn:bihuan:problem:{code}" if code else "about:blank",
            "title": http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "Error",
            "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = MEDIA_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages, path: str = "") -> list[dict]:
    """webargs/marshmallow messages ({"json": {"text": ["..."]}}) -> [{"field", "message"}]."""
    out = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "headers", "view_args") and not path:
                out += _flatten(value, "")
            else:
                out += _flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(messages, (list, tuple)) and messages and all(isinstance(m, str) for m in messages):
        out += [{"field": path or "_body", "message": m} for m in messages]
    elif isinstance(messages, (list, tuple)):
        for m in messages:
            out += _flatten(m, path)
    else:
        out.append({"field": path or "_body", "message": str(messages)})
    return out


def from_domain(exc: BihuanError):
    if isinstance(exc, Invalid):
        errors = [{"field": f, "message": m} for f, m in exc.fields]
        return problem(422, str(exc), "validation", errors)
    headers = {"WWW-Authenticate": 'Bearer realm="bihuan"'} if exc.http_status == 401 else None
    return problem(exc.http_status, str(exc), exc.code, headers=headers)


def from_http(exc: HTTPException):
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:  # webargs: a malformed JSON body is a 400, invalid fields a 422
        errors = _flatten(messages)
        if status == 400 or any(e["message"] == "Invalid JSON body." for e in errors):
            return problem(400, "the body is not valid JSON", "malformed", errors)
        return problem(422, "the request has invalid fields", "validation", errors)
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    detail = {404: "no such resource", 405: "method not allowed here", 413: "the body is larger than 1 MB",
              415: "send the body as application/json",
              429: "too many requests for this key: slow down"}.get(status, exc.description or exc.name)
    response = problem(status, detail, {429: "rate_limited", 413: "too_large", 415: "media_type"}.get(status),
                       headers=headers)
    if status == 429:
        retry = getattr(exc, "retry_after", None)
        response.headers.setdefault("Retry-After", str(retry or 60))
    return response


def register_blueprint_handlers(blueprint) -> None:
    """Once, at import: a blueprint takes no handlers after its first registration."""
    blueprint.register_error_handler(BihuanError, from_domain)
    blueprint.register_error_handler(HTTPException, from_http)
    blueprint.register_error_handler(CalendarGap, lambda exc: problem(422, str(exc), "calendar"))
    # A value the database refuses (e.g. out of its range) is the input's fault, not the server's.
    blueprint.register_error_handler(DataError, lambda exc: problem(422, "a value is out of range", "out_of_range"))


def register(app: Flask) -> None:
    """Problem details for routing errors (404/405/413) under the API's prefix; pages keep their own."""
    handlers = app.error_handler_spec.setdefault(None, {}).setdefault(None, {})
    earlier_http, earlier_domain = handlers.get(HTTPException), handlers.get(BihuanError)

    def _http(exc: HTTPException):
        if request.path.startswith(PREFIX + "/") or request.path == PREFIX:
            return from_http(exc)
        return earlier_http(exc) if earlier_http else exc

    def _domain(exc: BihuanError):
        if request.path.startswith(PREFIX + "/"):
            return from_domain(exc)
        return earlier_domain(exc) if earlier_domain else (str(exc), exc.http_status)

    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(BihuanError, _domain)
