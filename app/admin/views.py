"""Admin pages (role admin only): users, departments, working-day calendar overrides.

Thin: read the form, call app.admin.services, and on a validation error render the same form
again with what was typed (never the password) and a message next to each bad field.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..errors import Invalid
from ..web.access import roles_required
from . import services

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

PROFILE_FIELDS = ("display_name", "department", "grid")


def _core():
    return current_app.extensions["bihuan"]


def _text(name: str, limit: int = 500) -> str:
    # Truncated so an oversized post fails validation instead of reaching the database.
    return (request.form.get(name) or "")[:limit]


def _profile_form() -> dict:
    return {**{name: _text(name).strip() for name in PROFILE_FIELDS}, "roles": request.form.getlist("roles")}


def _errors(exc: Invalid) -> dict:
    errors: dict[str, str] = {}
    for field, message in exc.fields:
        errors.setdefault(field, message)
    return errors or {"_form": str(exc)}


def _today():
    return utcnow().astimezone(SHANGHAI).date()


@bp.get("/schedulers")
@roles_required("admin")
def schedulers():
    """Each scheduler process's heartbeat (app/scheduling): when it last swept, the claims it holds."""
    from ..scheduling.heartbeat import overview
    return render_template("admin/schedulers.html", **overview(_core()))


@bp.get("/")
@roles_required("admin")
def index():
    return redirect(url_for("admin.users"))


# -- users -----------------------------------------------------------------------------------
@bp.get("/users")
@roles_required("admin")
def users():
    return render_template("admin/users.html", **services.list_users(_core()))


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def user_new():
    form = {"username": "", "display_name": "", "department": "", "grid": "", "roles": []}
    errors, status = {}, 200
    if request.method == "POST":
        form = {**_profile_form(), "username": _text("username", 100).strip()}
        try:
            created = services.create_user(_core(), current_user.username, **form,
                                           password=_text("password", 1000),
                                           password_confirm=_text("password_confirm", 1000))
        except Invalid as exc:
            errors, status = _errors(exc), 400
        else:
            flash(_("已创建用户 %(name)s。", name=created["username"]), "success")
            return redirect(url_for("admin.users"))
    with _core().db.read() as session:
        options = services.choices(session)
    return render_template("admin/user_new.html", form=form, errors=errors, **options), status


def _edit_page(user_id: int, form: dict | None = None, errors: dict | None = None, status: int = 200):
    data = services.get_user(_core(), user_id)
    return render_template("admin/user_edit.html", form=form or data["user"], errors=errors or {},
                           self_edit=data["user"]["username"] == current_user.username, **data), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user_edit(user_id: int):
    if request.method == "GET":
        return _edit_page(user_id)
    form = _profile_form()
    try:
        result = services.edit_user(_core(), current_user.username, user_id, **form)
    except Invalid as exc:
        return _edit_page(user_id, form, _errors(exc), 400)
    flash(_("已保存 %(name)s 的资料。", name=result["username"]) if result["changes"] else _("没有改动。"),
          "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.post("/users/<int:user_id>/active")
@roles_required("admin")
def user_active(user_id: int):
    active = request.form.get("active") == "1"
    try:
        result = services.set_user_active(_core(), current_user.username, user_id, active)
    except Invalid as exc:
        return _edit_page(user_id, errors={"active": str(exc)}, status=400)
    if active:
        flash(_("已启用 %(name)s。", name=result["username"]), "success")
    else:
        flash(_("已停用 %(name)s，释放了 %(n)d 件已领取的待办。", name=result["username"], n=result["released"]),
              "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.post("/users/<int:user_id>/password")
@roles_required("admin")
def user_password(user_id: int):
    try:
        result = services.reset_password(_core(), current_user.username, user_id, _text("password", 1000),
                                         _text("password_confirm", 1000))
    except Invalid as exc:
        return _edit_page(user_id, errors=_errors(exc), status=400)
    flash(_("已重置 %(name)s 的密码。", name=result["username"]), "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.post("/users/<int:user_id>/totp-reset")
@roles_required("admin")
def user_totp_reset(user_id: int):
    try:
        result = services.reset_totp(_core(), current_user.username, user_id)
    except Invalid as exc:
        return _edit_page(user_id, errors=_errors(exc), status=400)
    flash(_("已解除 %(name)s 的双重验证，其下次登录时须重新绑定。", name=result["username"]), "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


# -- departments -----------------------------------------------------------------------------
@bp.route("/departments", methods=["GET", "POST"])
@roles_required("admin")
def departments():
    form, errors, status = {"code": "", "name": ""}, {}, 200
    if request.method == "POST":
        form = {"code": _text("code", 100).strip(), "name": _text("name", 200).strip()}
        try:
            services.add_department(_core(), current_user.username, **form)
        except Invalid as exc:
            errors, status = _errors(exc), 400
        else:
            flash(_("已新增部门 %(name)s。", name=form["name"]), "success")
            return redirect(url_for("admin.departments"))
    return render_template("admin/departments.html", departments=services.list_departments(_core()),
                           form=form, errors=errors, rename={}), status


@bp.post("/departments/<code>/rename")
@roles_required("admin")
def department_rename(code: str):
    name = _text("name", 200).strip()
    try:
        services.rename_department(_core(), current_user.username, code, name)
    except Invalid as exc:
        rename = {"code": code, "name": name, "error": _errors(exc).get("name", str(exc))}
        return render_template("admin/departments.html", departments=services.list_departments(_core()),
                               form={"code": "", "name": ""}, errors={}, rename=rename), 400
    flash(_("已更名为 %(name)s。", name=name), "success")
    return redirect(url_for("admin.departments"))


# -- co-handling units (联动处置 协办单位; rules in app/joint/units.py) ------------------------------
def _units_page(form: dict | None = None, errors: dict | None = None, rename: dict | None = None, status: int = 200):
    from ..joint import units
    from ..joint.models import UNIT_KINDS
    with _core().db.read() as session:
        rows = units.listing(session)
    return render_template("admin/units.html", units=rows, kinds={k: UNIT_KINDS[k] for k in units.PAGE_KINDS},
                           form=form or {"code": "", "name": "", "kind": "outside"}, errors=errors or {},
                           rename=rename or {}), status


@bp.route("/units", methods=["GET", "POST"])
@roles_required("admin")
def units():
    if request.method == "GET":
        return _units_page()
    from ..joint import units as unit_rules
    form = {"code": _text("code", 100).strip(), "name": _text("name", 200).strip(), "kind": _text("kind", 20)}
    try:
        with _core().db.unit_of_work() as session:
            unit_rules.add(session, current_user.username, **form)
    except Invalid as exc:
        return _units_page(form, _errors(exc), status=400)
    flash(_("已新增协办单位 %(name)s。", name=form["name"]), "success")
    return redirect(url_for("admin.units"))


@bp.post("/units/<code>/rename")
@roles_required("admin")
def unit_rename(code: str):
    from ..joint import units as unit_rules
    name = _text("name", 200).strip()
    try:
        with _core().db.unit_of_work() as session:
            unit_rules.rename(session, current_user.username, code, name)
    except Invalid as exc:
        return _units_page(rename={"code": code, "name": name, "error": _errors(exc).get("name", str(exc))},
                           status=400)
    flash(_("已更名为 %(name)s。", name=name), "success")
    return redirect(url_for("admin.units"))


@bp.post("/units/<code>/active")
@roles_required("admin")
def unit_active(code: str):
    from ..joint import units as unit_rules
    active = request.form.get("active") == "1"
    with _core().db.unit_of_work() as session:
        unit_rules.set_active(session, current_user.username, code, active)
    flash(_("已启用。") if active else _("已停用：新的联动处置不能再选它，进行中的协办照常。"), "success")
    return redirect(url_for("admin.units"))


# -- the working-day calendar ----------------------------------------------------------------
def _calendar_page(form: dict, errors: dict, status: int = 200, import_form: dict | None = None,
                   import_errors: dict | None = None):
    show_all = request.args.get("all") == "1"
    overview = services.calendar_overview(_core(), show_all, _today())
    return render_template("admin/calendar.html", **overview, show_all=show_all, form=form, errors=errors,
                           import_form=import_form or {"year": "", "note": "", "text": ""},
                           import_errors=import_errors or {}), status


@bp.route("/calendar", methods=["GET", "POST"])
@roles_required("admin")
def calendar():
    form = {"day": "", "kind": "holiday", "note": ""}
    if request.method == "GET":
        return _calendar_page(form, {})
    form = {"day": _text("day", 40).strip(), "kind": _text("kind", 20), "note": _text("note", 400).strip()}
    try:
        result = services.add_calendar_override(_core(), current_user.username, **form)
    except Invalid as exc:
        return _calendar_page(form, _errors(exc), 400)
    flash(_("已设置 %(day)s 为%(kind)s。", day=result["date"],
            kind=_("工作日") if result["kind"] == "workday" else _("休息日")), "success")
    return redirect(url_for("admin.calendar"))


@bp.post("/calendar/import")
@roles_required("admin")
def calendar_import():
    """The State Council's schedule for a year, uploaded (.csv/.xlsx) or pasted as CSV text."""
    from ..calendar.importing import MAX_BYTES
    upload = request.files.get("file")
    content = upload.stream.read(MAX_BYTES + 1) if upload and upload.filename else b""
    text = _text("text", MAX_BYTES + 1)
    form = {"year": _text("year", 10), "note": _text("note", 400), "text": text}
    try:
        result = services.import_calendar(_core(), current_user.username, content=content or text.encode("utf-8"),
                                          year=form["year"], note=form["note"])
    except Invalid as exc:
        return _calendar_page({"day": "", "kind": "holiday", "note": ""}, {}, 400, form, _errors(exc))
    recomputed = result["recomputed"]
    flash(_("已导入 %(year)s 年放假安排：休息日 %(holidays)s 天，调休上班 %(workdays)s 天；重新计算了 %(changed)s 件案件的暂定期限。",
            year=result["year"], holidays=result["holidays"], workdays=result["workdays"],
            changed=recomputed["changed"]), "success")
    if recomputed["retry"]:
        flash(_("以下案件在重新计算时正被办理，请稍后再导入一次或运行 bihuan calendar recompute：%(cases)s",
                cases="、".join(recomputed["retry"])), "error")
    return redirect(url_for("admin.calendar"))


@bp.post("/calendar/<int:year>/provisional")
@roles_required("admin")
def calendar_provisional(year: int):
    on = request.form.get("state") == "on"
    try:
        services.set_provisional_year(_core(), current_user.username, year, on)
    except Invalid as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.calendar"))
    flash(_("已启用 %(year)s 年暂定日历。", year=year) if on else _("已停用 %(year)s 年暂定日历。", year=year), "success")
    return redirect(url_for("admin.calendar"))


@bp.post("/calendar/<day>/remove")
@roles_required("admin")
def calendar_remove(day: str):
    removed = services.remove_calendar_override(_core(), current_user.username, day)
    flash(_("已删除 %(day)s 的调整，恢复法定安排。", day=removed["date"]), "success")
    return redirect(url_for("admin.calendar"))
