"""The volunteer office's and organisers' pages at /volunteers.

Organisers (``volunteer_organiser``) work in their own community (vol_organisers); the office
(``volunteer_admin``) everywhere. Who may do what is decided in the services (``Staff.require``);
these views only turn the outcome into pages.
"""
from __future__ import annotations

import base64
from datetime import date, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from workflows.clock import utcnow

from ..calendar.services import iso_day
from ..documents.facts import qr_png
from ..errors import BihuanError, Invalid, NotFound
from ..reports.periods import SHANGHAI
from ..web.access import roles_required
from . import activities, ledger, redemption, reports
from .accounts import COMMUNITIES, audit, create_team, present, staff_of
from .models import Activity, Federation, LedgerEntry, Reward, Team, Volunteer

bp = Blueprint("volunteers", __name__, url_prefix="/volunteers", template_folder="templates")
STAFF = ("volunteer_organiser", "volunteer_admin")


def _core():
    return current_app.extensions["bihuan"]


def _staff():
    with _core().db.read() as db:
        return staff_of(db, current_user.id, current_user.username, current_user.roles)


def _act(fn, success: str, target: str):
    try:
        fn()
        flash(success, "success")
    except BihuanError as exc:
        flash(str(exc), "error")
    return redirect(target)


def _date(value: str | None, default: date) -> date:
    try:
        return iso_day(value) if value else default
    except ValueError:
        raise Invalid(_("日期格式应为 YYYY-MM-DD")) from None


def _range() -> tuple[date, date]:
    today = utcnow().astimezone(SHANGHAI).date()
    start = _date(request.args.get("from"), today.replace(month=1, day=1))
    end = _date(request.args.get("to"), today)
    if end < start:
        raise Invalid(_("结束日期不能早于开始日期"))
    return start, end


@bp.get("/")
@roles_required(*STAFF)
def index():
    staff = _staff()
    start, end = _range()
    scope = None if staff.office else (staff.community or "-")
    with _core().db.read() as db:
        report = reports.totals(db, start, end, community=scope)
        honour = reports.honour_list(db, end.year, community=scope)
        open_count = len(redemption.listing(db, staff, open_only=True))
    return render_template("volunteers/index.html", staff=staff, report=report, honour=honour, figures=reports.FIGURES,
                           start=start, end=end, open_count=open_count)


@bp.get("/export.xlsx")
@roles_required(*STAFF)
def export():
    staff = _staff()
    start, end = _range()
    scope = None if staff.office else (staff.community or "-")
    with _core().db.read() as db:
        data = reports.xlsx(reports.totals(db, start, end, community=scope),
                            reports.honour_list(db, end.year, community=scope))
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=volunteers-{start}-{end}.xlsx"})


# -- activities ------------------------------------------------------------------------------------
@bp.get("/activities")
@roles_required(*STAFF)
def activity_list():
    staff = _staff()
    with _core().db.read() as db:
        query = select(Activity).order_by(Activity.starts_at.desc()).limit(100)
        if not staff.office:
            query = query.where(Activity.community == (staff.community or "-"))
        rows = list(db.scalars(query))
        teams = list(db.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.name)))
    return render_template("volunteers/activities.html", staff=staff, activities=rows, types=activities.TYPES,
                           communities=[c for c in COMMUNITIES if staff.may_manage(c)], teams=teams)


def _instant(value: str, field: str) -> datetime:
    try:
        local = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(_("时间格式不正确"), [(field, _("时间格式不正确"))]) from None
    return (local.replace(tzinfo=SHANGHAI) if local.tzinfo is None else local)


@bp.post("/activities")
@roles_required(*STAFF)
def activity_create():
    form = request.form

    def work():
        capacity = form.get("capacity", "")
        if not capacity.isdigit():
            raise Invalid(_("人数须为整数"), [("capacity", _("人数须为整数"))])
        with _core().db.unit_of_work() as db:
            activities.publish(db, _staff(), title=form.get("title", ""), type=form.get("type", ""),
                               place=form.get("place", ""), community=form.get("community", ""),
                               starts_at=_instant(form.get("starts_at"), "starts_at"),
                               ends_at=_instant(form.get("ends_at"), "ends_at"), capacity=int(capacity),
                               team_id=int(form["team_id"]) if form.get("team_id", "").isdigit() else None)
    return _act(work, _("活动已发布。"), url_for("volunteers.activity_list"))


@bp.get("/activities/<int:activity_id>")
@roles_required(*STAFF)
def activity_detail(activity_id: int):
    staff = _staff()
    with _core().db.read() as db:
        activity, rows = activities.roster(db, staff, activity_id)
        people = [(s, present(v, staff)) for s, v in rows]
    return render_template("volunteers/activity.html", activity=activity, people=people, types=activities.TYPES,
                           ratings=activities.RATINGS)


@bp.get("/activities/<int:activity_id>/qr/<action>")
@roles_required(*STAFF)
def activity_qr(activity_id: int, action: str):
    """The check-in (or check-out) QR code: a fresh signed token on every load, valid 15 minutes; the
    page reloads itself every 5 minutes so the code on the screen is always a live one."""
    if action not in ("in", "out"):
        raise NotFound(_("二维码类型不正确"))
    staff = _staff()
    with _core().db.read() as db:
        activity = activities.get_activity(db, activity_id)
        staff.require(activity.community)
        token, expires = activities.mint_token(current_app.secret_key, activity, action)
    path = url_for("vol.check", activity_id=activity.id, action=action) + "?" + urlencode({"t": token})
    base = current_app.config.get("PUBLIC_BASE_URL")
    link = f"{str(base).rstrip('/')}{path}" if base else request.host_url.rstrip("/") + path
    image = base64.b64encode(qr_png(link)).decode()
    return render_template("volunteers/qr.html", activity=activity, action=action, link=link, image=image,
                           expires=expires)


@bp.post("/activities/<int:activity_id>/qr/renew")
@roles_required(*STAFF)
def activity_qr_renew(activity_id: int):
    def work():
        with _core().db.unit_of_work() as db:
            activities.renew_qr(db, _staff(), activity_id)
    return _act(work, _("已更换二维码，旧二维码全部失效。"), url_for("volunteers.activity_detail", activity_id=activity_id))


@bp.post("/signups/<int:signup_id>/confirm")
@roles_required(*STAFF)
def confirm(signup_id: int):
    back = request.form.get("back") or url_for("volunteers.activity_list")

    def work():
        with _core().db.unit_of_work() as db:
            activities.confirm(_core(), db, _staff(), signup_id)
    return _act(work, _("已确认服务时长，积分已记入。"), back if back.startswith("/volunteers/") else "/volunteers/")


@bp.post("/signups/<int:signup_id>/rate")
@roles_required(*STAFF)
def rate(signup_id: int):
    back = request.form.get("back") or url_for("volunteers.activity_list")

    def work():
        with _core().db.unit_of_work() as db:
            activities.rate(db, _staff(), signup_id, request.form.get("rating", ""), request.form.get("note", ""))
    return _act(work, _("评价已保存。"), back if back.startswith("/volunteers/") else "/volunteers/")


# -- redemptions -----------------------------------------------------------------------------------
@bp.get("/redemptions")
@roles_required(*STAFF)
def redemption_list():
    staff = _staff()
    with _core().db.read() as db:
        rows = redemption.listing(db, staff, open_only=request.args.get("all") != "1")
        people = {v.id: present(v, staff) for v in db.scalars(
            select(Volunteer).where(Volunteer.id.in_([r.volunteer_id for r, _w in rows] or [0])))}
    return render_template("volunteers/redemptions.html", rows=rows, people=people, status=redemption.STATUS,
                           staff=staff)


@bp.post("/redemptions/<int:redemption_id>")
@roles_required(*STAFF)
def redemption_step(redemption_id: int):
    form = request.form
    data = {"handover_note": form.get("handover_note", "")} if form.get("step") == "handover" else \
        {k: v for k, v in (("decision", form.get("decision", "")), ("reason", form.get("reason", "").strip())) if v}
    return _act(lambda: redemption.complete(_core(), _staff(), redemption_id, data), _("已办理。"),
                url_for("volunteers.redemption_list"))


# -- teams, catalogue, volunteers, ledger corrections -----------------------------------------------
@bp.route("/teams", methods=["GET", "POST"])
@roles_required(*STAFF)
def teams():
    staff = _staff()
    if request.method == "POST":
        def work():
            with _core().db.unit_of_work() as db:
                federation = db.scalar(select(Federation.id).order_by(Federation.id).limit(1))
                create_team(db, staff, request.form.get("name", ""), request.form.get("community", ""), federation)
        return _act(work, _("服务队已创建。"), url_for("volunteers.teams"))
    with _core().db.read() as db:
        query = (select(Team, func.count(Volunteer.id)).outerjoin(Volunteer, Volunteer.team_id == Team.id)
                 .group_by(Team.id).order_by(Team.community, Team.name))
        if not staff.office:
            query = query.where(Team.community == (staff.community or "-"))
        rows = db.execute(query).all()
        federation = db.scalars(select(Federation).order_by(Federation.id).limit(1)).first()
    return render_template("volunteers/teams.html", rows=rows, federation=federation, staff=staff,
                           communities=[c for c in COMMUNITIES if staff.may_manage(c)])


@bp.route("/rewards", methods=["GET", "POST"])
@roles_required(*STAFF)
def rewards():
    staff = _staff()
    if request.method == "POST":
        def work():
            if not staff.office:
                raise Invalid(_("兑换目录由志愿服务办公室维护"))
            form = request.form
            try:
                price, value, stock = float(form.get("points_price", "")), float(form.get("money_value", "0")), \
                    int(form.get("stock", ""))
            except ValueError:
                raise Invalid(_("积分、价值和库存须为数字")) from None
            if not form.get("name", "").strip() or form.get("kind") not in ("goods", "medical") or price <= 0 \
                    or stock < 0 or value < 0:
                raise Invalid(_("请填写名称、类别、正的积分价格和不小于 0 的库存"))
            with _core().db.unit_of_work() as db:
                reward_id = form.get("id", "")
                reward = db.get(Reward, int(reward_id)) if reward_id.isdigit() else Reward(active=True)
                if reward is None:
                    raise NotFound(_("兑换项目不存在"))
                reward.name, reward.kind, reward.points_price = form["name"].strip()[:100], form["kind"], price
                reward.money_value, reward.stock, reward.description = value, stock, form.get("description", "")[:500]
                db.add(reward)
                db.flush()
                audit(db, staff.username, "volunteer_reward_save", {"reward": reward.id, "stock": stock, "price": price})
        return _act(work, _("兑换项目已保存。"), url_for("volunteers.rewards"))
    with _core().db.read() as db:
        items = list(db.scalars(select(Reward).order_by(Reward.kind, Reward.points_price)))
    return render_template("volunteers/rewards.html", items=items, staff=staff)


@bp.get("/people")
@roles_required(*STAFF)
def people():
    staff = _staff()
    with _core().db.read() as db:
        query = select(Volunteer).order_by(Volunteer.id.desc()).limit(200)
        if not staff.office:
            query = query.where(Volunteer.community == (staff.community or "-"))
        rows = [present(v, staff) for v in db.scalars(query)]
    return render_template("volunteers/people.html", rows=rows, staff=staff)


@bp.get("/people/<int:volunteer_id>")
@roles_required(*STAFF)
def person(volunteer_id: int):
    staff = _staff()
    reveal = request.args.get("reveal") == "1" and staff.office
    with _core().db.unit_of_work() as db:
        volunteer = db.get(Volunteer, volunteer_id)
        if volunteer is None:
            raise NotFound(_("志愿者不存在"))
        staff.require(volunteer.community)
        if reveal:
            audit(db, staff.username, "volunteer_reveal", {"volunteer": volunteer.id})
        shown = present(volunteer, staff, reveal=reveal)
        balance = ledger.balance(db, volunteer.id)
        entries = ledger.history(db, volunteer.id, limit=100)
    return render_template("volunteers/person.html", v=shown, balance=balance, entries=entries, staff=staff,
                           reasons=ledger.REASONS)


@bp.post("/ledger/<int:entry_id>/reverse")
@roles_required("volunteer_admin")
def reverse(entry_id: int):
    with _core().db.read() as db:
        entry = db.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound(_("积分记录不存在"))

    def work():
        with _core().db.unit_of_work() as db:
            ledger.reverse(db, entry_id, current_user.username, request.form.get("note", ""))
    return _act(work, _("已记入更正。"), url_for("volunteers.person", volunteer_id=entry.volunteer_id))


@bp.get("/rules")
@roles_required(*STAFF)
def rules():
    return render_template("volunteers/rules.html")




from . import office_views  # noqa: E402,F401  (the office editing pages, registered on this blueprint)
