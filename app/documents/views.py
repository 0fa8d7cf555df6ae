"""Printable documents: each as an A4 page with a print stylesheet, and as .docx.

    GET /documents/cases/<number>/work-order[.docx]    工单, with the QR code to the case page
    GET /documents/supervision/<item_id>[.docx]        督办通知单 / 约谈通知书 / 通报 / 追责决定书
                                                       (?measure=interview|notice before tier 2 decides)

Only users who may see the case get them (403 otherwise, as the case page).
"""
from __future__ import annotations

import base64
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, render_template, url_for
from flask import request
from flask_login import current_user, login_required
from sqlalchemy import select

from ..cases.models import Case
from ..cases.visibility import can_view_case
from ..supervision.models import SupervisionItem
from .docx import render_docx
from .facts import Document, supervision_document, work_order

bp = Blueprint("documents", __name__, url_prefix="/documents", template_folder="templates")
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _core():
    return current_app.extensions["bihuan"]


def case_link(number: str) -> str:
    """The address the QR code carries. Behind a proxy, BIHUAN_PUBLIC_BASE_URL names the address
    people reach (e.g. https://bihuan.example.gov.cn); otherwise the one this request came in on."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    path = url_for("cases.detail", number=number)
    return f"{str(base).rstrip('/')}{path}" if base else url_for("cases.detail", number=number, _external=True)


def _visible(session, case: Case | None) -> Case:
    if case is None:
        abort(404)
    if not can_view_case(session, current_user, case):
        abort(403)
    return case


def _respond(document: Document, docx: bool, docx_url: str):
    if docx:
        filename = quote(f"{document.filename}.docx")
        return Response(render_docx(document), mimetype=DOCX_MIME,
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})
    qr = base64.b64encode(document.qr_png).decode() if document.qr_png else None
    return render_template("documents/print.html", doc=document, qr=qr, docx_url=docx_url)


@bp.get("/cases/<number>/work-order", defaults={"docx": False})
@bp.get("/cases/<number>/work-order.docx", defaults={"docx": True})
@login_required
def work_order_page(number: str, docx: bool):
    offices = current_app.config.get("DOCUMENTS_OFFICES")
    with _core().db.read() as session:
        case = _visible(session, session.scalars(select(Case).where(Case.number == number)).first())
        document = work_order(session, case, case_link(case.number), offices)
    return _respond(document, docx, url_for("documents.work_order_page", number=number, docx=True))


@bp.get("/supervision/<int:item_id>", defaults={"docx": False})
@bp.get("/supervision/<int:item_id>.docx", defaults={"docx": True})
@login_required
def supervision_page(item_id: int, docx: bool):
    measure = request.args.get("measure")
    if measure not in (None, "interview", "notice"):
        abort(400)
    offices = current_app.config.get("DOCUMENTS_OFFICES")
    with _core().db.read() as session:
        item = session.get(SupervisionItem, item_id)
        if item is None:
            abort(404)
        _visible(session, session.get(Case, item.case_id))
        document = supervision_document(session, item, measure, offices)
    return _respond(document, docx, url_for("documents.supervision_page", item_id=item_id, docx=True,
                                            **({"measure": measure} if measure else {})))
