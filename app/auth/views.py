"""Login, logout and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from ..web import LANGUAGES
from ..web.access import WebUser
from ..web.nav import home_endpoint
from .models import User
from . import sessions
from .passwords import policy_problem
from .services import verify_password
from .throttle import (DEVICE_COOKIE, DEVICE_MAX_AGE, clear_failures, device_token, is_trusted_device,
                       record_failure, retry_after)

bp = Blueprint("auth", __name__, template_folder="templates")


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect after login is a phishing aid.
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for(home_endpoint(current_user)))
    error, status, username, wait = None, 200, "", 0
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:50]
        password = request.form.get("password") or ""
        addr = request.remote_addr or ""
        trusted = is_trusted_device(current_app.secret_key, request.cookies.get(DEVICE_COOKIE), username)
        core = current_app.extensions["bihuan"]
        with core.db.unit_of_work() as db:
            wait = retry_after(db, username, addr, trusted_device=trusted)
            if wait:
                error, status = _("登录失败次数过多，请 %(seconds)s 秒后再试。", seconds=wait), 429
            else:
                user = db.scalars(select(User).where(User.username == username)).first()
                if user is not None and user.active and verify_password(user, password):
                    clear_failures(db, username, addr)
                    web_user = WebUser.of(user)
                    weak = policy_problem(password, username) if current_app.config.get("ENV") == "production" \
                        else None
                    if weak:
                        # Production never runs on a demo or trivial password: the account waits for a reset.
                        error, status = _("密码不符合安全要求（%(why)s），请由管理员重置后再登录。", why=weak), 403
                else:
                    record_failure(db, username, addr)
                    error, status = _("用户名或密码错误。"), 401
        if error is None:
            # A fresh session (no fixation): nothing of the anonymous one survives but the language.
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            login_user(web_user)
            sessions.start()
            response = redirect(_safe_next(request.args.get("next")) or url_for(home_endpoint(web_user)))
            response.set_cookie(DEVICE_COOKIE, device_token(current_app.secret_key, web_user.username),
                                max_age=DEVICE_MAX_AGE, httponly=True, samesite="Lax",
                                secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
            return response
    response = make_response(render_template("auth/login.html", error=error, username=username), status)
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


@bp.post("/logout")
def logout():
    lang = session.get("lang")
    if current_user.is_authenticated:
        # The cookie may have been copied: revoke on the server, not only in this browser.
        with current_app.extensions["bihuan"].db.unit_of_work() as db:
            sessions.revoke_sessions(db, current_user.id)
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def switch_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.referrer and urlsplit(request.referrer).path) or url_for("auth.login"))
