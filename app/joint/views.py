"""联动处置 records and 批示督办 on the case page.

    POST /joint/<number>/instruct    批示督办 (supervisor_party, leader)
    POST /joint/<number>/meeting     专题会议记录 (dispatcher, admin, the lead department)
    POST /joint/<number>/disposal    处置记录 (the same)

The case page includes joint/_case_panel.html, which reads ``joint_panel(case)``.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import Invalid
from ..org.models import Department
from .models import CO_STATUSES, UNIT_KINDS
from .services import INSTRUCT_ROLES, RECORD_ROLES, JointService, case_joint

bp = Blueprint("joint", __name__, template_folder="templates", url_prefix="/joint")


def _service() -> JointService:
    return JointService(current_app.extensions["bihuan"])


def _back(number: str):
    return redirect(url_for("cases.detail", number=number) + "#joint")


def _refused(exc: Invalid, number: str):
    field = exc.fields[0][1] if exc.fields else str(exc)
    flash(_("未保存：%(reason)s", reason=field), "error")
    return _back(number)


@bp.post("/<number>/instruct")
@login_required
def instruct(number: str):
    try:
        _service().instruct(number, user=current_user.username, text=request.form.get("instruction_text", ""),
                            deadline=request.form.get("deadline", ""), source="web")
    except Invalid as exc:
        return _refused(exc, number)
    flash(_("已批示督办，党工委督办事项已立项。"), "success")
    return _back(number)


def _codes(text: str) -> list[str]:
    return [c.strip() for c in (text or "").replace("，", ",").replace("、", ",").split(",") if c.strip()]


@bp.post("/<number>/meeting")
@login_required
def meeting(number: str):
    actions = []
    for line in (request.form.get("actions") or "").splitlines():
        if line.strip():
            unit, _sep, action = line.replace("：", ":").partition(":")
            actions.append({"unit": unit.strip(), "action": action.strip()})
    try:
        _service().record_meeting(number, user=current_user.username, held_on=request.form.get("held_on", ""),
                                  units=_codes(request.form.get("units", "")),
                                  decisions=request.form.get("decisions", ""), actions=actions, source="web")
    except Invalid as exc:
        return _refused(exc, number)
    flash(_("已记录专题会议。"), "success")
    return _back(number)


@bp.post("/<number>/disposal")
@login_required
def disposal(number: str):
    quantities = {key[2:]: value.strip() for key, value in request.form.items()
                  if key.startswith("q_") and value.strip()}
    try:
        _service().record_disposal(number, user=current_user.username,
                                   people_deployed=request.form.get("people_deployed", "").strip(),
                                   quantities=quantities, note=request.form.get("note"), source="web")
    except Invalid as exc:
        return _refused(exc, number)
    flash(_("已记录处置情况。"), "success")
    return _back(number)


def joint_panel(case) -> dict:
    core = current_app.extensions["bihuan"]
    with core.db.read() as session:
        data = case_joint(session, case)
        names = dict(session.query(Department.code, Department.name).all())
        fields = JointService(core).disposal_fields(session, case)
    roles = set(current_user.roles)
    lead = "handler" in roles and current_user.department == case.department
    return {**data, "names": names, "disposal_fields": fields, "statuses": CO_STATUSES,
            "may_instruct": bool(roles & INSTRUCT_ROLES), "may_record": bool(roles & RECORD_ROLES) or lead}


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals.update(joint_panel=joint_panel, unit_kinds=UNIT_KINDS)


def diagram_parts(parts: list[dict]) -> list[dict]:
    """The case diagram's co-handler parts with each unit's name and status in words."""
    if not parts:
        return []
    with current_app.extensions["bihuan"].db.read() as session:
        names = dict(session.query(Department.code, Department.name)
                     .filter(Department.code.in_([p["unit"] for p in parts])).all())
    from ..web.terms import term
    return [{**p, "name": term(names.get(p["unit"], p["unit"])),
             "label": _(CO_STATUSES[p["status"]]) if p.get("status") in CO_STATUSES else p.get("status")}
            for p in parts]
