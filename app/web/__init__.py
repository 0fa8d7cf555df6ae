"""What every browser page shares: login, CSRF, language, time formatting, layout and error pages.

Domain blueprints (intake, tasks, cases, supervision, designer, admin) live in their own
folders; this package only wires the cross-cutting parts into the app.
"""
from __future__ import annotations

from flask import Flask, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from . import errors, formatting, terms
from ..auth.sessions import init_session_limits
from .access import WebUser, load_web_user
from .security_headers import init_security_headers
from .nav import nav_items

LANGUAGES = ("zh_CN", "en")
csrf = CSRFProtect()


def _select_locale() -> str:
    # An explicit choice (stored by /lang/<code>) wins; zh_CN is the default for everyone else.
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else "zh_CN"


def init_web(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh_CN")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a caseworker may keep a form open all day
    Babel(app, locale_selector=_select_locale)
    csrf.init_app(app)

    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = None  # the login page explains itself
    login.session_protection = "strong"
    login.user_loader(lambda user_id: load_web_user(app.extensions["bihuan"], user_id))
    login.anonymous_user = WebUser.anonymous
    init_session_limits(app)
    from ..auth.views import init_totp_requirement  # here: auth.views imports this package
    init_totp_requirement(app)
    init_security_headers(app)

    formatting.register(app)
    terms.register(app)
    errors.register(app)

    @app.context_processor
    def _layout():
        return {"nav_items": nav_items(), "current_lang": _select_locale(), "languages": LANGUAGES}
