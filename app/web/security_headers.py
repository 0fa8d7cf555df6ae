"""Security headers on every response, and the per-request nonce that lets our few inline scripts run.

The Content-Security-Policy allows scripts, styles, images, fonts and connections from our own
origin only (the browser libraries are vendored, never from a CDN); an inline ``<script>`` runs only
with this request's nonce (``csp_nonce()`` in templates), so injected markup cannot run script.
Inline *styles* stay allowed: the diagram libraries set element styles, and a style cannot run code.
No page is meant to be framed (frame-ancestors 'none'). HSTS is sent only when cookies are marked
Secure (``BIHUAN_SESSION_COOKIE_SECURE``), i.e. when the site is served over HTTPS.
"""
from __future__ import annotations

import secrets

from flask import Flask, g


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def policy(nonce: str) -> str:
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def init_security_headers(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy(csp_nonce()))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        # The grid workers' phone page takes photos and the location; nothing else may.
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
