"""/status: a resident looks up their case with its number and the last four digits of their phone.

What the page must never do is tell a stranger anything: it shows no names, no phones, no internal
notes and no staff, and a wrong phone is answered exactly like an unknown number (same page, same
status, and the same work: one indexed read and one decryption either way, so the time taken does
not tell them apart). Lookups are rate-limited per address (Flask-Limiter; ``BIHUAN_STATUS_RATE_LIMIT``,
default ``10 per minute;100 per day``), so the 10 000 possible tails cannot be walked.
"""
from __future__ import annotations

import hmac
import re

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy import select

from ..cases.models import FINISHED_STATUSES, Case
from ..org.models import Department
from ..privacy.crypto import keyring, normalize_phone
from .timeline import public_status, public_steps

bp = Blueprint("public", __name__, template_folder="templates")
DEFAULT_RATE = "10 per minute;100 per day"
NUMBER = re.compile(r"[A-Z0-9-]{4,30}")
TAIL = re.compile(r"[0-9]{4}")
# Sealed and opened when the number is unknown, so that it costs what a wrong phone costs.
_DECOY = "13800000000"

limiter = Limiter(key_func=get_remote_address, default_limits=[])


@bp.record_once
def _init_limiter(state) -> None:
    # In memory by default (one process, ``bihuan serve``); several workers share a store through
    # BIHUAN_RATELIMIT_STORAGE_URI (e.g. redis://...), read by Flask-Limiter from the app config.
    state.app.config.setdefault("RATELIMIT_STORAGE_URI", state.app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    limiter.init_app(state.app)


def _rate() -> str:
    return current_app.config.get("STATUS_RATE_LIMIT") or DEFAULT_RATE


def _lookup(number: str, tail: str):
    """(case, department name) when the number exists and its phone ends in ``tail``; else None."""
    core = current_app.extensions["bihuan"]
    with core.db.read() as session:
        case = session.scalars(select(Case).where(Case.number == number)).first()
        if case is None:
            # Loading a case decrypts its name and phone: an unknown number does as much AES work on
            # a decoy, so the time taken does not tell the two answers apart.
            ring = keyring()
            phone = ring.decrypt(ring.encrypt(_DECOY, "cases.reporter_phone"), "cases.reporter_phone")
        else:
            phone = normalize_phone(case.reporter_phone) or _DECOY
        matches = hmac.compare_digest(phone[-4:].encode(), tail.encode())
        if case is None or not case.reporter_phone or not matches:
            return None
        department = session.scalar(select(Department.name).where(Department.code == case.department)) \
            if case.department else None
        session.expunge(case)
        return case, department


@bp.route("/status", methods=["GET", "POST"])
@limiter.limit(_rate, methods=["POST"])
def status():
    number = tail = ""
    error = found = None
    status_code = 200
    if request.method == "POST":
        number = (request.form.get("number") or "").strip().upper()[:40]
        tail = (request.form.get("tail") or "").strip()[:10]
        if not NUMBER.fullmatch(number):
            error, status_code = _("请填写工单号，例如 HD-20261102-0001。"), 400
        elif not TAIL.fullmatch(tail):
            error, status_code = _("请填写登记时所留手机号码的后四位（4 位数字）。"), 400
        else:
            result = _lookup(number, tail)
            if result is None:
                error = _("没有找到与该工单号和手机号后四位相符的诉求，请核对后再试。")
            else:
                case, department = result
                found = {"number": case.number, "type": case.type, "category": case.category,
                         "status": public_status(case), "registered_at": case.registered_at,
                         "department": department, "deadline": case.deadline, "steps": public_steps(case),
                         "finished": case.status in FINISHED_STATUSES}
    # The tail is never echoed back: the page of a shared phone must not show it to the next person.
    return render_template("public/status.html", number=number, error=error, found=found), status_code
