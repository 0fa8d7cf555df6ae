"""Login, logout and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, session, url_for
from markupsafe import Markup
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from workflows.clock import utcnow

from ..web import LANGUAGES
from ..web.access import WebUser
from ..web.nav import home_endpoint
from .models import User
from . import sessions, totp
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
                    has_second_factor = bool(user.totp_secret)
                    weak = policy_problem(password, username) if current_app.config.get("ENV") == "production" \
                        else None
                    if weak:
                        # Production never runs on a demo or trivial password: the account waits for a reset.
                        error, status = _("密码不符合安全要求（%(why)s），请由管理员重置后再登录。", why=weak), 403
                else:
                    record_failure(db, username, addr)
                    error, status = _("用户名或密码错误。"), 401
        if error is None:
            if totp.applies_to(web_user.roles) and has_second_factor:
                # The password was right; the session holds only "who is half-way in" until the code is.
                _fresh_session()
                session[TOTP_PENDING] = {"user": web_user.id, "username": web_user.username,
                                         "next": _safe_next(request.args.get("next")), "at": int(utcnow().timestamp())}
                return redirect(url_for("auth.login_totp"))
            return _logged_in(web_user, _safe_next(request.args.get("next")), has_second_factor)
    response = make_response(render_template("auth/login.html", error=error, username=username), status)
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


TOTP_PENDING = "_bihuan_totp_pending"
TOTP_ENROL = "_bihuan_totp_enrol"  # set when BIHUAN_TOTP_REQUIRED and the account has no second factor yet
TOTP_NEW = "_bihuan_totp_new"      # the secret being enrolled, until the first code proves it
TOTP_PENDING_SECONDS = 300


def _fresh_session() -> None:
    # A fresh session (no fixation): nothing of the anonymous one survives but the language.
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _logged_in(web_user: WebUser, next_url: str | None, enrolled: bool):
    """``enrolled``: the account has a second factor (the login already read the user)."""
    _fresh_session()
    login_user(web_user)
    sessions.start()
    if totp.applies_to(web_user.roles) and current_app.config.get("TOTP_REQUIRED") in (True, "true", "1", 1) \
            and not enrolled:
        session[TOTP_ENROL] = True
        next_url = url_for("auth.totp_setup")
    response = redirect(next_url or url_for(home_endpoint(web_user)))
    response.set_cookie(DEVICE_COOKIE, device_token(current_app.secret_key, web_user.username),
                        max_age=DEVICE_MAX_AGE, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


@bp.route("/login/totp", methods=["GET", "POST"])
def login_totp():
    """The second step for an account with a second factor: the authenticator's 6-digit code."""
    pending = session.get(TOTP_PENDING)
    if not isinstance(pending, dict) or utcnow().timestamp() - pending.get("at", 0) > TOTP_PENDING_SECONDS:
        session.pop(TOTP_PENDING, None)
        return redirect(url_for("auth.login"))
    error, status, wait = None, 200, 0
    if request.method == "POST":
        username, addr = pending["username"], request.remote_addr or ""
        trusted = is_trusted_device(current_app.secret_key, request.cookies.get(DEVICE_COOKIE), username)
        with current_app.extensions["bihuan"].db.unit_of_work() as db:
            wait = retry_after(db, username, addr, trusted_device=trusted)
            user = db.get(User, pending["user"])
            if wait:
                error, status = _("登录失败次数过多，请 %(seconds)s 秒后再试。", seconds=wait), 429
            elif user is None or not user.active:
                session.pop(TOTP_PENDING, None)
                return redirect(url_for("auth.login"))
            elif totp.check_code(db, user, (request.form.get("code") or "")[:20]):
                clear_failures(db, username, addr)
                web_user = WebUser.of(user)
            else:
                record_failure(db, username, addr)
                error, status = _("验证码不正确或已使用过，请输入身份验证器上的最新验证码。"), 401
        if error is None:
            return _logged_in(web_user, pending.get("next"), enrolled=True)
    response = make_response(render_template("auth/totp_login.html", error=error), status)
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


@bp.route("/account/totp", methods=["GET", "POST"])
@login_required
def totp_setup():
    """Enrol an authenticator app (admins and designers)."""
    if not totp.applies_to(current_user.roles):
        return redirect(url_for(home_endpoint(current_user)))
    core = current_app.extensions["bihuan"]
    with core.db.read() as db:
        enrolled = bool(db.get(User, current_user.id).totp_secret)
    if enrolled:
        return render_template("auth/totp_setup.html", enrolled=True)
    secret = session.get(TOTP_NEW)
    if not isinstance(secret, str) or len(secret) != 32:
        secret = session[TOTP_NEW] = totp.new_secret()
    error, status = None, 200
    if request.method == "POST":
        with core.db.unit_of_work() as db:
            ok = totp.enrol(db, db.get(User, current_user.id), secret, (request.form.get("code") or "")[:20])
        if ok:
            session.pop(TOTP_NEW, None)
            session.pop(TOTP_ENROL, None)
            flash(_("双重验证已启用：以后登录时需输入身份验证器上的验证码。"), "success")
            return redirect(url_for(home_endpoint(current_user)))
        error, status = _("验证码不正确，请确认手机时间准确后输入最新的验证码。"), 400
    uri = totp.provisioning_uri(secret, current_user.username)
    return render_template("auth/totp_setup.html", enrolled=False, secret=secret, qr=Markup(totp.qr_svg(uri)),
                           error=error, required=bool(session.get(TOTP_ENROL))), status


def init_totp_requirement(app) -> None:
    """With BIHUAN_TOTP_REQUIRED, an admin or designer without a second factor sees only the
    enrolment page (and logout) until they have one."""
    @app.before_request
    def _require_enrolment():
        if not session.get(TOTP_ENROL) or not current_user.is_authenticated:
            return None
        if request.endpoint in ("auth.totp_setup", "auth.logout", "static", "auth.switch_language"):
            return None
        return redirect(url_for("auth.totp_setup"))


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
