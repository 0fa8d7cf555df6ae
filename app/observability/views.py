"""``/healthz`` (the process is alive: no database) and ``/metrics`` (Prometheus, token or localhost)."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request

from . import metrics

bp = Blueprint("observability", __name__)
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1"})


@bp.get("/healthz")
def healthz():
    # Liveness only: a database outage must not make the orchestrator kill healthy workers.
    return jsonify({"status": "alive"})


@bp.get("/metrics")
def metrics_page():
    if not _allowed():
        return Response("metrics need the token (Authorization: Bearer ...) or a request from this machine\n",
                        403, mimetype="text/plain")
    body, content_type = metrics.render(current_app.extensions["bihuan"])
    return Response(body, 200, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def _allowed() -> bool:
    """With ``BIHUAN_METRICS_TOKEN`` set, the bearer token; without, only a direct local client.

    A request a proxy forwarded arrives from the proxy's address (often 127.0.0.1) whoever sent it,
    so one carrying ``X-Forwarded-For`` never counts as local.
    """
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), str(token).encode())
    return request.remote_addr in LOCAL_ADDRESSES and "X-Forwarded-For" not in request.headers
