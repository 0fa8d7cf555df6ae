"""Other systems talk to Bihuan here: the JSON API (/api/v1/, v1.py), its keys (keys.py), the
webhook outbox (webhooks.py), cases handed over by external id (ingest.py) and the health page."""
from __future__ import annotations

from flask import Blueprint, Flask, render_template


def init_api(app: Flask) -> None:
    """The JSON API with its generated OpenAPI document, problem details, rate limits, its docs page
    and the admins' client pages."""
    from flask_smorest import Api
    from flask_smorest.utils import prepare_response

    from . import problems
    from .admin import bp as admin_bp
    from .limits import init_limiter
    from .v1 import bp as v1_bp

    class BihuanApi(Api):
        ERROR_SCHEMA = problems.ProblemSchema

        def _register_error_handlers(self):
            pass  # problems.register: RFC 9457 under /api/v1 only; the pages keep theirs

        def _register_responses(self):
            # Error responses in the document carry the media type the API sends them with.
            import http
            for status in http.HTTPStatus:
                response = {"description": status.phrase}
                if not (100 <= status < 200) and status not in (204, 304):
                    response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, problems.MEDIA_TYPE)
                self.spec.components.response(status.name, response, lazy=True)
            response = {"description": "A problem (RFC 9457)", "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, problems.MEDIA_TYPE)
            self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    for key, value in {"API_TITLE": "Bihuan 闭环 API", "API_VERSION": "1.0", "OPENAPI_VERSION": "3.1.0",
                       "OPENAPI_URL_PREFIX": "/api/v1", "OPENAPI_JSON_PATH": "openapi.json"}.items():
        app.config.setdefault(f"API_V1_{key}", value)
    api = BihuanApi(app, config_prefix="API_V1", spec_kwargs={"info": {"description": (
        "Cases, timelines, ready tasks, supervision items and KPIs of Bihuan for registered client systems. "
        "Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`; errors are RFC 9457 problem "
        "details; POST bodies are JSON of at most 1 MB.")}})
    api.spec.components.security_scheme("ApiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"})
    api.spec.components.security_scheme("Bearer", {"type": "http", "scheme": "bearer"})
    api.register_blueprint(v1_bp)
    from ..web import csrf
    csrf.exempt(v1_bp)  # machines authenticate with a key on every call; no cookie, so no CSRF to forge
    problems.register(app)
    init_limiter(app, v1_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(docs_bp)


docs_bp = Blueprint("api_docs", __name__, template_folder="templates")


@docs_bp.get("/api/v1/docs")
def docs():
    return render_template("api/docs.html", spec_url="/api/v1/openapi.json")
