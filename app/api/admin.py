"""Admin pages for client systems: register a client, create and revoke keys, set its webhook,
and see the webhook deliveries that were given up (the incidents of the outbox).

A new key or signing secret is rendered once, in the response to the POST that made it (never
flashed into the session, never cached): only its hash, or its ciphertext, stays.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..errors import BihuanError, Invalid
from ..org.models import Department
from ..web.access import roles_required
from . import keys
from .models import EVENTS, SCOPES
from .webhooks import failed_deliveries, retry_delivery

bp = Blueprint("api_admin", __name__, url_prefix="/admin/api-clients", template_folder="templates")


def _core():
    return current_app.extensions["bihuan"]


def _page(form=None, errors=None, shown=None, status=200):
    with _core().db.read() as session:
        clients = keys.list_clients(session)
        departments = {d.code: d.name for d in session.scalars(select(Department).order_by(Department.id))}
        failed = failed_deliveries(session)
    response = make_response(render_template(
        "api/clients.html", clients=clients, departments=departments, scopes=SCOPES, events=EVENTS,
        failed=failed, form=form or {"name": "", "description": "", "department": "", "scopes": []},
        errors=errors or {}, shown=shown), status)
    response.headers["Cache-Control"] = "no-store"  # a key shown once must not linger in a cache
    return response


def _errors(exc: Invalid) -> dict:
    errors: dict[str, str] = {}
    for field, message in exc.fields:
        errors.setdefault(field, message)
    return errors or {"_form": str(exc)}


@bp.get("/")
@roles_required("admin")
def clients():
    return _page()


@bp.post("/")
@roles_required("admin")
def client_add():
    form = {"name": (request.form.get("name") or "")[:100].strip(),
            "description": (request.form.get("description") or "")[:200].strip(),
            "department": (request.form.get("department") or "")[:50],
            "scopes": [s[:20] for s in request.form.getlist("scopes")][:10]}
    try:
        with _core().db.unit_of_work() as session:
            keys.register_client(session, form["name"], form["scopes"], actor=current_user.username,
                                 department=form["department"] or None, description=form["description"])
    except Invalid as exc:
        return _page(form, _errors(exc), status=400)
    flash(_("已登记接口客户端 %(name)s。", name=form["name"]), "success")
    return redirect(url_for("api_admin.clients"))


@bp.post("/<name>/keys")
@roles_required("admin")
def key_create(name: str):
    with _core().db.unit_of_work() as session:
        raw = keys.create_key(session, name, actor=current_user.username)
    return _page(shown={"client": name, "kind": "key", "value": raw})


@bp.post("/keys/<prefix>/revoke")
@roles_required("admin")
def key_revoke(prefix: str):
    with _core().db.unit_of_work() as session:
        keys.revoke_key(session, prefix, actor=current_user.username)
    flash(_("已吊销密钥 %(prefix)s。", prefix=prefix), "success")
    return redirect(url_for("api_admin.clients"))


@bp.post("/<name>/webhook")
@roles_required("admin")
def webhook_set(name: str):
    try:
        with _core().db.unit_of_work() as session:
            secret = keys.set_webhook(session, name, (request.form.get("url") or "")[:600],
                                      [e[:40] for e in request.form.getlist("events")][:10],
                                      actor=current_user.username, new_secret=request.form.get("new_secret") == "1")
    except Invalid as exc:
        return _page(errors={f"webhook:{name}": str(exc)}, status=400)
    if secret:
        return _page(shown={"client": name, "kind": "secret", "value": secret})
    flash(_("已保存 %(name)s 的事件推送设置。", name=name), "success")
    return redirect(url_for("api_admin.clients"))


@bp.post("/<name>/active")
@roles_required("admin")
def client_active(name: str):
    active = request.form.get("active") == "1"
    with _core().db.unit_of_work() as session:
        keys.set_client_active(session, name, active, actor=current_user.username)
    flash(_("已启用 %(name)s。", name=name) if active else _("已停用 %(name)s。", name=name), "success")
    return redirect(url_for("api_admin.clients"))


@bp.post("/deliveries/<int:delivery_id>/retry")
@roles_required("admin")
def delivery_retry(delivery_id: int):
    try:
        retry_delivery(_core(), delivery_id, actor=current_user.username)
    except BihuanError as exc:
        flash(str(exc), "error")
    else:
        flash(_("已重新排队推送。"), "success")
    return redirect(url_for("api_admin.clients"))
