"""Login, logout and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from ..web import LANGUAGES
from ..web.access import WebUser
from ..web.nav import home_endpoint
from .models import User
from .services import verify_password
from .throttle import clear_failures, is_throttled, record_failure

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
    error, status, username = None, 200, ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:50]
        password = request.form.get("password") or ""
        addr = request.remote_addr or ""
        core = current_app.extensions["bihuan"]
        with core.db.unit_of_work() as db:
            if is_throttled(db, username, addr):
                error, status = _("登录失败次数过多，请 15 分钟后再试。"), 429
            else:
                user = db.scalars(select(User).where(User.username == username)).first()
                if user is not None and user.active and verify_password(user, password):
                    clear_failures(db, username, addr)
                    web_user = WebUser.of(user)
                else:
                    record_failure(db, username, addr)
                    error, status = _("用户名或密码错误。"), 401
        if error is None:
            session.clear()
            login_user(web_user)
            return redirect(_safe_next(request.args.get("next")) or url_for(home_endpoint(web_user)))
    return render_template("auth/login.html", error=error, username=username), status


@bp.post("/logout")
def logout():
    lang = session.get("lang")
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
