"""Structured logs: in production mode one JSON object per line, with the request id.

The request id comes from the ``X-Request-Id`` header a proxy set (when it looks like an id) or is
made here; it is answered in the same header and put on every log line written while the request
runs, so one request can be followed from the proxy's access log into ours.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

REQUEST_ID_HEADER = "X-Request-Id"
# Anything else a client sends is replaced: a header must not inject text into the log.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_requests_log = logging.getLogger("app.requests")
request_id: ContextVar[str | None] = ContextVar("bihuan_request_id", default=None)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():  # extra={...} fields, e.g. case=...
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _RequestIdFilter(logging.Filter):
    def filter(self, record):  # plain-text lines get the id too
        record.request_id = request_id.get() or "-"
        return True


def configure_json_logging(level: int = logging.INFO, stream=None) -> None:
    """Replace the root handlers with one JSON line per record on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING) if level > logging.DEBUG else level)
    for name in ("app", "workflows", "gunicorn.error"):
        logging.getLogger(name).setLevel(level)


def init_request_logging(app) -> None:
    """Request ids in and out, and the request metrics by route (URL rule, not the raw path)."""
    from flask import g, request

    from .metrics import observe_request

    @app.before_request
    def _start():
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        g.request_token = request_id.set(g.request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        rid = g.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        if started is not None:
            # The rule keeps the label set small (/cases/<number>, not one label per case);
            # an unmatched path is one label, "<unmatched>".
            rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            seconds = time.perf_counter() - started
            observe_request(request.method, rule, response.status_code, seconds)
            if app.config.get("ENV") == "production":
                from ..web.serving import redact
                _requests_log.info("%s %s %s", request.method, rule, response.status_code, extra={
                    "method": request.method, "route": rule, "path": redact(request.full_path.rstrip("?")),
                    "status": response.status_code, "ms": round(seconds * 1000, 1),
                    "remote": request.remote_addr})
        return response

    @app.teardown_request
    def _reset(_exc):
        token = g.pop("request_token", None)
        if token is not None:
            request_id.reset(token)


def configure_from_environment() -> None:
    """For entry points without the CLI (app.wsgi): JSON lines in production mode, plain text else."""
    import os
    name = os.environ.get("BIHUAN_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    level = getattr(logging, name, None)
    if not isinstance(level, int):
        raise SystemExit(f"error: invalid BIHUAN_LOG_LEVEL '{name}'")
    if os.environ.get("BIHUAN_ENV", "").lower() == "production":
        configure_json_logging(level)
    else:
        logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for logger in ("app", "workflows"):
            logging.getLogger(logger).setLevel(level)
