"""Per-key rate limits (Flask-Limiter): each API key has its own budget, 429 with Retry-After past it.

The counters live in memory by default (one process: the embedded default); several workers share
them through a storage URI, e.g. ``BIHUAN_RATELIMIT_STORAGE_URI=redis://localhost:6379`` (any
storage the ``limits`` library supports). A client's budget is its ``rate_limit`` (requests a
minute), else ``BIHUAN_API_RATE_LIMIT`` (default 600). Requests without a usable key are counted
per address, so guessing keys is limited too.

    limiter = current_app.extensions["bihuan_limiter"]   # other domains may limit their routes with it
"""
from __future__ import annotations

import time

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy import select

from .keys import KEY
from .models import ApiClient, ApiKey

DEFAULT_PER_MINUTE = 600
CACHE_SECONDS = 30.0
_cache: dict[tuple[int, str], tuple[float, int]] = {}


def presented_key() -> str:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("X-API-Key", "").strip()


def key_prefix() -> str | None:
    match = KEY.match(presented_key())
    return match.group(1) if match else None


def rate_key() -> str:
    prefix = key_prefix()
    return f"key:{prefix}" if prefix else f"addr:{get_remote_address()}"


def _default() -> int:
    try:
        return max(1, int(current_app.config.get("API_RATE_LIMIT") or DEFAULT_PER_MINUTE))
    except (TypeError, ValueError):
        return DEFAULT_PER_MINUTE


def rate_limit() -> str:
    """The budget of the presented key's client (cached briefly: one lookup per key per 30 s)."""
    prefix = key_prefix()
    if not prefix:
        return f"{_default()} per minute"
    slot = (id(current_app), prefix)
    cached = _cache.get(slot)
    if cached and cached[0] > time.monotonic():
        return f"{cached[1]} per minute"
    with current_app.extensions["bihuan"].db.read() as session:
        value = session.scalar(select(ApiClient.rate_limit).join(ApiKey, ApiKey.client_id == ApiClient.id)
                               .where(ApiKey.prefix == prefix))
    per_minute = value or _default()
    _cache[slot] = (time.monotonic() + CACHE_SECONDS, per_minute)
    return f"{per_minute} per minute"


def init_limiter(app: Flask, blueprint) -> Limiter:
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)  # X-RateLimit-* and Retry-After
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter = Limiter(key_func=rate_key, app=app, default_limits=[])
    limiter.limit(rate_limit, key_func=rate_key)(blueprint)
    app.extensions["bihuan_limiter"] = limiter
    return limiter
