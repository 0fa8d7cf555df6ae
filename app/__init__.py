"""Bihuan 闭环: the Flask application factory.

    app = create_app()          # builds a Core from BIHUAN_DATABASE_URL or instance/bihuan.db
    app = create_app(core=core) # or shares one the caller already built (CLI, tests)
"""
from __future__ import annotations

from flask import Flask


def create_app(config: dict | None = None, core=None) -> Flask:
    from .api.health import bp as health_bp
    from .core import Core

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SECRET_KEY="dev-only-change-me", SESSION_COOKIE_HTTPONLY=True,
                            SESSION_COOKIE_SAMESITE="Lax")
    app.config.from_prefixed_env("BIHUAN")
    if config:
        app.config.update(config)
    app.extensions["bihuan"] = core or Core(app.config.get("DATABASE_URL"))
    app.register_blueprint(health_bp)
    return app
