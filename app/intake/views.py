"""受理登记 (operator, dispatcher) and 网格上报 (grid worker): register a request through CaseService.

Before a request is registered the page shows possible duplicates (same phone or address, open,
last 30 days): live through an htmx partial, and once more on a confirm step if the operator
submits while there are any, so that a repeat call is not registered twice by accident. Closed
cases from the same phone or address show too (回头件): the operator can attach the call to any of
them (counted on that case) or reopen a closed one as 重办 (repeat_calls.py), instead of only
registering a new case (仍然受理).
"""
from __future__ import annotations

import functools

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from workflows.bundle import read_directory
from workflows.model import Bundle, hash_files
from workflows.rules import input_values

from ..attachments.views import attach_hook, held_token, take_uploads
from ..cases.models import CHANNELS, TYPES
from ..cases.presenters import mask_phone
from ..cases.services import MAX_TEXT, REGISTER_ROLES
from ..cases.visibility import case_scope
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..org.models import Grid
from ..patrol.services import link_reports
from ..processes.services import SHIPPED_BUNDLE, latest_version
from ..web.access import roles_required
from .duplicates import find_duplicates, windows
from .repeat_calls import attach_call

bp = Blueprint("intake", __name__, url_prefix="/intake", template_folder="templates")

# The office form is for everyone who may register except grid workers: they report from the
# patrol page, where the channel is "grid" and the grid is their own.
OFFICE_ROLES = tuple(role for role in REGISTER_ROLES if role != "grid_worker")
OFFICE_CHANNELS = ("phone", "online", "platform", "web")  # "grid" belongs to the patrol page
FIELDS = ("channel", "type", "category", "text", "address", "grid", "reporter_name", "reporter_phone")

# What the page says at a field CaseService.register refused (Invalid.fields names the field).
FIELD_ERRORS = {
    "channel": _l("请选择来源渠道"),
    "type": _l("请选择诉求类型"),
    "text": _l("请填写诉求内容（最多 %(max)s 字）", max=MAX_TEXT),
    "reporter_phone": _l("电话号码只能包含数字、空格、+ 和 -"),
    "grid": _l("所选网格不存在"),
}


def _core():
    return current_app.extensions["bihuan"]


def _field_errors(exc: Invalid) -> dict[str, str]:
    """{field: what to say there}; '' holds a refusal that belongs to no field of the form."""
    errors = {field: str(FIELD_ERRORS[field]) for field, _message in exc.fields if field in FIELD_ERRORS}
    return errors or {"": str(exc)}


@functools.lru_cache(maxsize=1)
def _shipped_rules() -> Bundle:
    # Before the first case a fresh install has no deployed version yet; its tables are the shipped ones.
    files = {name: content for name, content in read_directory(SHIPPED_BUNDLE).items() if name.endswith(".dmn")}
    return Bundle(files=files, content_hash=hash_files(files))


def _choices(session) -> dict:
    version = latest_version(session)
    bundle = _core().bundles.get(session, version.id) if version else _shipped_rules()
    categories = input_values(bundle, "routing", "category")
    grids = session.execute(select(Grid.code, Grid.name, Grid.community).order_by(Grid.code)).all()
    return {"types": TYPES, "categories": categories, "grids": grids}


def _duplicates(session, phone: str | None, address: str | None) -> list[dict]:
    return [{"number": c.number, "type": c.type, "status": c.status, "text": c.text[:80], "address": c.address,
             "phone": mask_phone(c.reporter_phone), "registered_at": c.registered_at,
             "closed_at": c.closed_at, "repeat_calls": c.repeat_calls or 0}
            for c in find_duplicates(session, phone, address, scope=case_scope(current_user))]


def _form_values(fixed: dict) -> dict:
    values = {name: (request.form.get(name) or "").strip() for name in FIELDS}
    values["urgent"] = request.form.get("urgent") in ("on", "true", "1")
    values.update(fixed)
    return values


def _intake(template: str, fixed: dict, defaults: dict, stage: str = "intake", link=None):
    """GET shows the form; POST registers, or re-shows the form with errors or the duplicates to confirm,
    or attaches the call to an existing case as a 回头件 (reopening it as 重办 when it was closed)."""
    core = _core()
    errors: dict[str, str] = {}
    duplicates: list[dict] = []
    values = dict(defaults) if request.method == "GET" else _form_values(fixed)
    files, status = [], 200
    target = request.form.get("reopen") or request.form.get("attach_to") if request.method == "POST" else None
    if target:
        reopen = bool(request.form.get("reopen"))
        try:
            result = attach_call(core, target, user=current_user.username, text=values["text"],
                                 channel=values["channel"], reporter_phone=values["reporter_phone"] or None,
                                 reopen=reopen, source="web")
        except Invalid as exc:
            errors, status = _field_errors(exc), 400
        except (Conflict, Forbidden, NotFound) as exc:
            errors, status = {"": _("未能记为回头件：%(reason)s", reason=str(exc))}, 400
        else:
            flash(_("已重办 %(number)s（回头件第 %(n)s 次）", number=target, n=result["repeat_calls"]) if reopen
                  else _("已记为 %(number)s 的回头件（第 %(n)s 次来电）", number=target, n=result["repeat_calls"]),
                  "success")
            return redirect(case_url(target))
    elif request.method == "POST":
        try:  # the files first: a refused one refuses the registration, and is said at its field
            files = take_uploads()
        except Invalid as exc:
            errors, status = {"attachments": str(exc)}, exc.http_status
        with core.db.read() as session:
            duplicates = _duplicates(session, values["reporter_phone"], values["address"])
        if not errors and (not duplicates or request.form.get("confirm_duplicates") == "1"):
            # A file sent at intake is the resident's, except a grid worker's own patrol photos.
            attach = attach_hook(files, stage, from_resident=values["channel"] != "grid",
                                 with_location=stage == "patrol")
            if link is not None:  # the patrol page: link the report to the worker's open patrol
                attach = link(attach)
            try:
                case = core.cases.register(
                    channel=values["channel"], type=values["type"], text=values["text"],
                    category=values["category"] or None, address=values["address"] or None,
                    reporter_name=values["reporter_name"] or None, reporter_phone=values["reporter_phone"] or None,
                    grid=values["grid"] or None, urgent=values["urgent"], user=current_user.username,
                    source="web", detail=False, attach=attach)
            except Invalid as exc:
                errors, status = _field_errors(exc), 400
            else:
                flash(_("已受理，工单号 %(number)s", number=case["number"]), "success")
                if getattr(attach, "linked", None):  # filed from an open patrol: back to the patrol log
                    return redirect(url_for("patrol.log"))
                return redirect(case_url(case["number"]))
    with core.db.read() as session:
        context = _choices(session)
    if errors and request.method == "POST" and not duplicates:
        with core.db.read() as session:
            duplicates = _duplicates(session, values["reporter_phone"], values["address"])
    confirm = bool(duplicates) and not errors
    return render_template(template, values=values, errors=errors, duplicates=duplicates, confirm=confirm,
                           channels={k: CHANNELS[k] for k in OFFICE_CHANNELS}, held_files=files,
                           held_token=held_token(files), **context), status


def case_url(number: str) -> str:
    return url_for("cases.detail", number=number)


@bp.context_processor
def _links():
    open_window, closed_window = windows()
    return {"case_url": case_url, "duplicate_days": open_window.days, "repeat_days": closed_window.days}


@bp.route("/register", methods=["GET", "POST"])
@roles_required(*OFFICE_ROLES)
def register():
    defaults = {name: "" for name in FIELDS} | {"channel": "phone", "type": "complaint", "urgent": False}
    return _intake("intake/register.html", fixed={}, defaults=defaults)


@bp.route("/patrol", methods=["GET", "POST"])
@roles_required("grid_worker")
def patrol():
    fixed = {"channel": "grid", "reporter_name": "", "reporter_phone": ""}
    defaults = {name: "" for name in FIELDS} | fixed | {"grid": current_user.grid or "", "type": "complaint",
                                                         "urgent": False}
    return _intake("intake/patrol.html", fixed=fixed, defaults=defaults, stage="patrol", link=link_reports)


@bp.get("/duplicates")
@roles_required(*REGISTER_ROLES)
def duplicates():
    """The htmx partial: possible duplicates for the phone and address typed so far."""
    phone = request.args.get("phone", request.args.get("reporter_phone"))
    address = request.args.get("address")
    with _core().db.read() as session:
        found = _duplicates(session, phone, address)
    return render_template("intake/_duplicates.html", duplicates=found, confirm=False)
