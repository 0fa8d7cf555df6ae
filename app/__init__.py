"""Bihuan 闭环: the Flask application factory.

    app = create_app()          # builds a Core from BIHUAN_DATABASE_URL or instance/bihuan.db
    app = create_app(core=core) # or shares one the caller already built (CLI, tests)
"""
from __future__ import annotations

from flask import Flask, redirect, url_for


def create_app(config: dict | None = None, core=None, instance_path: str | None = None) -> Flask:
    from .core import Core
    from .observability.setup import init_operations
    from .web import init_web
    from .web.nav import home_endpoint
    from .web.secret_key import configure_secret_key

    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.from_mapping(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=60 * 1024 * 1024,  # uploads beyond this are refused before any parsing
    )
    # BIHUAN_SECRET_KEY, BIHUAN_SESSION_COOKIE_SECURE=true and friends come from the environment.
    app.config.from_prefixed_env("BIHUAN")
    if config:
        app.config.update(config)
    configure_secret_key(app)  # before anything is served: a weak key refuses to start
    app.extensions["bihuan"] = core or Core(app.config.get("DATABASE_URL"))
    init_web(app)
    register_blueprints(app)
    init_operations(app, app.extensions["bihuan"])  # /metrics, /healthz, request ids, proxy, static caching

    @app.get("/")
    def index():
        from flask_login import current_user
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        return redirect(url_for(home_endpoint(current_user)))

    return app


def register_blueprints(app: Flask) -> None:
    """Every domain's pages. Imported by name: a module that fails to import stops the app."""
    from .admin.views import bp as admin
    from .api.health import bp as health
    from .api.readiness import bp as readiness
    from .attachments.views import bp as attachments
    from .audit.views import bp as audit
    from .auth.views import bp as auth
    from .calendar.views import bp as calendar
    from .cases.views import bp as cases
    from .designer.views import bp as designer
    from .documents.views import bp as documents
    from .feeds.views import bp as feeds
    from .intake.views import bp as intake
    from .joint.views import bp as joint
    from .notifications.views import bp as notifications
    from .open311.views import bp as open311
    from .public.views import bp as public
    from .org.views import bp as org
    from .reports.dashboard_views import bp as dashboard
    from .reports.score_views import bp as scores
    from .reports.views import bp as reports
    from .reports.weekly_views import bp as weekly
    from .supervision.views import bp as supervision
    from .tasks.views import bp as tasks
    from .volunteers import phone_views, views as volunteer_views

    for blueprint in (auth, intake, tasks, cases, supervision, designer, admin, calendar, audit, health, reports,
                      dashboard, notifications, attachments, documents):
        app.register_blueprint(blueprint)
    from .processes.whatif_pages import bp as whatif
    app.register_blueprint(whatif)  # the designer's 分析影响 and 预期与实际 (/designer/whatif, /designer/versions)
    app.register_blueprint(org)  # 组织架构 /org, 网格地图 /map
    app.register_blueprint(joint)  # 联动处置 records, 批示督办
    for blueprint in (scores, weekly):  # 考核计分, 调度研判专报
        app.register_blueprint(blueprint)
    app.register_blueprint(readiness)  # /readyz
    from .api import init_api
    init_api(app)  # /api/v1 (OpenAPI, rate limits, problem details), its docs and 接口客户端
    app.register_blueprint(public)  # /status, no login
    app.register_blueprint(feeds)  # 网络舆情导入
    app.register_blueprint(open311)  # Open311 GeoReport v2
    for blueprint in (volunteer_views.bp, phone_views.bp):  # 志愿者积分: /volunteers and the phone pages /v/
        app.register_blueprint(blueprint)
    from .patrol.views import bp as patrol  # 网格巡查
    app.register_blueprint(patrol)
