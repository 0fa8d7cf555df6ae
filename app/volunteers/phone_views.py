"""Volunteers' phone pages under /v/. A volunteer session is a session key of its own ("vol"), not a
Flask-Login user: every staff page (login_required) sees an anonymous visitor and refuses it, and
these pages refuse anyone without it. The key names the volunteer's session version, so a password
change or deactivation ends their sessions, like staff sessions (app/auth/sessions.py)."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import logout_user
from sqlalchemy import select

from workflows.clock import utcnow

from ..errors import BihuanError, Invalid
from . import activities, ledger, password_reset, redemption
from .accounts import COMMUNITIES, authenticate, join_team, register
from .models import Reward, Team, Volunteer

bp = Blueprint("vol", __name__, url_prefix="/v", template_folder="templates")
KEY, SEEN = "vol", "vol_seen"
IDLE_SECONDS = 12 * 3600  # a volunteer keeps their phone logged in over an activity day


def _core():
    return current_app.extensions["bihuan"]


def _load() -> object | None:
    raw = session.get(KEY)
    if not isinstance(raw, str) or "." not in raw:
        return None
    key, _, version = raw.partition(".")
    seen = session.get(SEEN)
    now = int(utcnow().timestamp())
    if not (key.isdigit() and version.isdigit()) or not isinstance(seen, int) or now - seen > IDLE_SECONDS:
        session.pop(KEY, None)
        return None
    # Only the plain columns: every page checks the session, few need the (encrypted) name.
    with _core().db.read() as db:
        row = db.execute(select(Volunteer.id, Volunteer.active, Volunteer.session_version, Volunteer.community,
                                Volunteer.team_id).where(Volunteer.id == int(key))).first()
    if row is None or not row.active or row.session_version != int(version):
        session.pop(KEY, None)
        return None
    if now - seen >= 60:  # like staff sessions: refresh "last seen" at most once a minute
        session[SEEN] = now
    return row


def volunteer_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        g.volunteer = _load()
        if g.volunteer is None:
            return redirect(url_for("vol.login", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)
    return wrapper


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/v/") and "//" not in target else url_for("vol.home")


def _start(volunteer: Volunteer) -> None:
    lang = session.get("lang")
    logout_user()  # one browser, one kind of account at a time
    session.clear()
    if lang:
        session["lang"] = lang
    session[KEY] = f"{volunteer.id}.{volunteer.session_version}"
    session[SEEN] = int(utcnow().timestamp())


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        with _core().db.read() as db:
            volunteer = authenticate(db, request.form.get("phone", ""), request.form.get("password", ""))
        if volunteer is not None:
            _start(volunteer)
            return redirect(_safe_next(request.form.get("next")))
        error = _("手机号或密码不正确。")
    return render_template("volunteers/v_login.html", error=error, next=request.args.get("next", "")), \
        (401 if error else 200)


@bp.post("/logout")
def logout():
    session.pop(KEY, None)
    return redirect(url_for("vol.login"))


@bp.route("/reset", methods=["GET", "POST"])
def reset():
    """Set a new password with the one-time code the organiser or the office gave (typed, or in the link of
    the QR code as ?c=). Every session of the volunteer ends; they log in again with the new password."""
    code = (request.values.get("c") or request.values.get("code") or "").strip()
    errors: dict = {}
    try:
        if request.method == "POST":
            with _core().db.unit_of_work() as db:
                password_reset.redeem(db, code, request.form.get("password", ""), request.form.get("again", ""))
            session.pop(KEY, None)
            flash(_("密码已重置，请用新密码登录。"), "success")
            return redirect(url_for("vol.login"))
        if code:  # opened from the link: say at once whether the code still works
            with _core().db.read() as db:
                password_reset.check(db, code)
    except BihuanError as exc:
        errors = dict(getattr(exc, "fields", []) or [])
        errors[""] = str(exc)
        return render_template("volunteers/v_reset.html", code=code, errors=errors), exc.http_status
    return render_template("volunteers/v_reset.html", code=code, errors=errors)


@bp.route("/register", methods=["GET", "POST"])
def register_page():
    form, errors = {}, {}
    with _core().db.read() as db:
        teams = list(db.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.community, Team.name)))
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            with _core().db.unit_of_work() as db:
                volunteer = register(db, name=form.get("name", ""), phone=form.get("phone", ""),
                                     password=form.get("password", ""), community=form.get("community", ""),
                                     skills=form.get("skills", ""), team_id=_int(form.get("team_id")),
                                     recruiter_phone=form.get("recruiter_phone"))
            _start(volunteer)
            return redirect(url_for("vol.home"))
        except BihuanError as exc:
            errors = dict(getattr(exc, "fields", []) or []) or {"": str(exc)}
            status = exc.http_status
            return render_template("volunteers/v_register.html", form=form, errors=errors, teams=teams,
                                   communities=COMMUNITIES), status
    return render_template("volunteers/v_register.html", form=form, errors=errors, teams=teams,
                           communities=COMMUNITIES)


def _int(value) -> int | None:
    return int(value) if value and str(value).isdigit() else None


@bp.get("/")
@volunteer_required
def home():
    volunteer = g.volunteer
    with _core().db.read() as db:
        balance = ledger.balance(db, volunteer.id)
        upcoming = activities.upcoming(db, volunteer.community, utcnow(), limit=20)
        mine = {s.activity_id: s for s, _a in activities.my_signups(db, volunteer.id, limit=50)}
        places = {a.id: a.capacity - activities.taken(db, a.id) for a in upcoming}
        team = db.get(Team, volunteer.team_id) if volunteer.team_id else None
        name = db.scalar(select(Volunteer.name).where(Volunteer.id == volunteer.id))
    return render_template("volunteers/v_home.html", v=volunteer, name=name, balance=balance, upcoming=upcoming, mine=mine,
                           places=places, team=team, types=activities.TYPES)


def _act(fn, success: str, target: str):
    try:
        fn()
        flash(success, "success")
    except BihuanError as exc:
        flash(str(exc), "error")
    return redirect(target)


@bp.post("/activities/<int:activity_id>/signup")
@volunteer_required
def signup(activity_id: int):
    def work():
        with _core().db.unit_of_work() as db:
            activities.sign_up(db, db.get(Volunteer, g.volunteer.id), activity_id)
    return _act(work, _("报名成功。"), url_for("vol.home"))


@bp.route("/a/<int:activity_id>/check/<action>", methods=["GET", "POST"])
@volunteer_required
def check(activity_id: int, action: str):
    """The link in the organiser's QR code. Opening it shows the activity; the button checks in/out
    (a POST, so link previews and prefetching never check anyone in)."""
    if action not in ("in", "out"):
        return render_template("volunteers/v_message.html", title=_("二维码无效"), message=_("二维码无效")), 404
    token = request.values.get("t", "")
    with _core().db.read() as db:
        activity = db.get(activities.Activity, activity_id)
    if activity is None:
        return render_template("volunteers/v_message.html", title=_("二维码无效"), message=_("活动不存在")), 404
    if request.method == "GET":
        return render_template("volunteers/v_check.html", activity=activity, action=action, token=token)
    try:
        with _core().db.unit_of_work() as db:
            signup = activities.check(db, current_app.secret_key, db.get(Volunteer, g.volunteer.id), activity_id,
                                      action, token)
            at = signup.checked_in_at if action == "in" else signup.checked_out_at
    except BihuanError as exc:
        return render_template("volunteers/v_message.html", title=_("签到失败") if action == "in" else _("签退失败"),
                               message=str(exc), error=True), exc.http_status
    message = (_("签到成功：%(t)s", t=activity.title) if action == "in" else _("签退成功：%(t)s", t=activity.title))
    return render_template("volunteers/v_message.html", title=message, message=message, at=at)


@bp.get("/points")
@volunteer_required
def points():
    before = _int(request.args.get("before"))
    with _core().db.read() as db:
        balance = ledger.balance(db, g.volunteer.id)
        entries = ledger.history(db, g.volunteer.id, limit=30, before_id=before)
    return render_template("volunteers/v_points.html", balance=balance, entries=entries, reasons=ledger.REASONS)


@bp.get("/rewards")
@volunteer_required
def rewards():
    with _core().db.read() as db:
        balance = ledger.balance(db, g.volunteer.id)
        items = list(db.scalars(select(Reward).where(Reward.active.is_(True)).order_by(Reward.points_price)))
        mine = redemption.listing(db, volunteer_id=g.volunteer.id, limit=20)
    return render_template("volunteers/v_rewards.html", balance=balance, items=items, mine=mine,
                           status=redemption.STATUS)


@bp.post("/rewards/<int:reward_id>/redeem")
@volunteer_required
def redeem(reward_id: int):
    quantity = _int(request.form.get("quantity", "1"))
    return _act(lambda: redemption.apply(_core(), g.volunteer.id, reward_id, quantity or 0),
                _("兑换申请已提交，积分已预扣，等待审批。"), url_for("vol.rewards"))


@bp.route("/teams", methods=["GET", "POST"])
@volunteer_required
def teams():
    if request.method == "POST":
        def work():
            team_id = _int(request.form.get("team_id"))
            if team_id is None:
                raise Invalid(_("请选择服务队"))
            with _core().db.unit_of_work() as db:
                join_team(db, db.get(Volunteer, g.volunteer.id), team_id)
        return _act(work, _("已加入服务队。"), url_for("vol.home"))
    with _core().db.read() as db:
        rows = list(db.scalars(select(Team).where(Team.active.is_(True), Team.community == g.volunteer.community)
                               .order_by(Team.name)))
    return render_template("volunteers/v_teams.html", teams=rows, current=g.volunteer.team_id)


