"""What production serving adds to the app: proxy headers when configured, static caching,
request ids and request metrics, the pool gauge, and the /healthz and /metrics pages."""
from __future__ import annotations

from flask import Flask, request

from ..errors import Invalid

# Vendored libraries change only when package.json does (a deploy): a browser keeps them a week.
VENDOR_MAX_AGE = 7 * 24 * 3600
MAX_PROXY_HOPS = 5


def production_mode(app: Flask) -> bool:
    """``BIHUAN_ENV=production`` (app.wsgi sets it for gunicorn), never in debug or testing."""
    return str(app.config.get("ENV", "")).lower() == "production" and not (app.debug or app.testing)


def init_operations(app: Flask, core) -> None:
    _proxy_fix(app)
    _static_caching(app)
    from . import metrics
    from .logging import init_request_logging
    from .views import bp
    init_request_logging(app)
    app.register_blueprint(bp)
    metrics.instrument_pool(core.db.engine)


def _proxy_fix(app: Flask) -> None:
    """Trust ``X-Forwarded-For/-Proto/-Host/-Port/-Prefix`` from exactly ``BIHUAN_PROXY_HOPS`` proxies.

    Unset (or 0), the headers are ignored: a client talking to gunicorn directly could otherwise
    claim any address (the login throttle keys on it) or scheme.
    """
    hops = app.config.get("PROXY_HOPS")
    if hops in (None, "", 0):
        return
    try:
        hops = int(hops)
        if not 0 <= hops <= MAX_PROXY_HOPS:
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(f"refusing to start: BIHUAN_PROXY_HOPS must be a number of proxies from 0 to "
                      f"{MAX_PROXY_HOPS}, not '{hops}'") from None
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)


def _static_caching(app: Flask) -> None:
    @app.after_request
    def _cache(response):
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        filename = (request.view_args or {}).get("filename", "")
        if filename.startswith("vendor/"):
            response.cache_control.no_cache = None  # send_file's default without a max-age
            response.cache_control.public = True
            response.cache_control.max_age = VENDOR_MAX_AGE
        else:
            # Our own js/css change with every deploy: the browser keeps them but asks each time
            # (ETag / Last-Modified, answered 304 when unchanged).
            response.cache_control.public = True
            response.cache_control.no_cache = True
            response.cache_control.max_age = 0
        return response
