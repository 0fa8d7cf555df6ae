"""The JSON API, version 1: ``/api/v1/`` (OpenAPI 3.1 at /api/v1/openapi.json, docs at /api/v1/docs).

Thin, like the pages: authenticate the key for the operation's scope, validate the body against
its schema, call the same services as the browser (app/cases/services.py, app/api/ingest.py,
app/reports/kpis.py) as the client's system account, and answer. Every authenticated call also
writes one ``api_call`` audit row with the client's name as the source.
"""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from functools import wraps

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from workflows.clock import utcnow

from ..cases.models import AuditEntry, Case, ReadyTask
from ..cases.presenters import iso
from ..cases.services import worklist_filter
from ..errors import Conflict, Invalid, NotFound
from ..reports.kpis import compute_kpis
from ..supervision.models import SupervisionItem
from . import problems, schemas as s
from .ingest import upsert_external
from .keys import authenticate_api_key, client_case_scope, client_user, source_for
from .limits import presented_key
from .models import ApiKey, IdempotentRequest

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1",
               description="Cases, their timelines, ready tasks, supervision items and KPIs for client systems.")
problems.register_blueprint_handlers(bp)
MAX_BODY = 1024 * 1024
SECURITY = [{"ApiKey": []}, {"Bearer": []}]


class IdempotencyHeaders(Schema):
    idempotency_key = fields.String(data_key="Idempotency-Key", validate=validate.Length(min=1, max=200),
                                    metadata={"description": "the same key with the same body returns the first "
                                                             "answer; with another body, 409"})


def _core():
    return current_app.extensions["bihuan"]


@bp.before_request
def _limits():
    request.max_content_length = MAX_BODY  # Werkzeug refuses a longer body (also a chunked one) with 413
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise RequestEntityTooLarge()
    if request.method in ("POST", "PUT", "PATCH"):
        mimetype = request.mimetype or ""
        if mimetype != "application/json" and not mimetype.endswith("+json"):
            raise UnsupportedMediaType()


@bp.after_request
def _audit_call(response):
    """One audit row per authenticated call (its client as the source); and the key's last use."""
    api = g.get("api")
    if api is None:
        return response
    now = utcnow()
    with _core().db.unit_of_work() as session:
        session.add(AuditEntry(at=now, actor=api["username"], case_id=None, action="api_call",
                               changes={"method": request.method, "path": request.path[:300],
                                        "status": response.status_code, "case": g.get("api_case")},
                               source=api["source"]))
        session.execute(update(ApiKey).where(ApiKey.prefix == api["prefix"]).values(last_used_at=now))
    return response


def requires(scope: str):
    """Authenticate the presented key (``Authorization: Bearer`` or ``X-API-Key``) for ``scope``."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            with _core().db.read() as session:
                client = authenticate_api_key(session, presented_key(), scope)
                user = client_user(session, client)
                g.api = {"client_id": client.id, "name": client.name, "department": client.department,
                         "scopes": list(client.scopes), "username": user.username, "source": source_for(client),
                         "prefix": client.key_prefix}
                g.api_client, g.api_user = client, user  # detached: plain attributes only
            return view(*args, **kwargs)
        return wrapper
    return decorate


def _scope():
    return client_case_scope(g.api_client, g.api_user)


def task_out(task: ReadyTask, number: str) -> dict:
    return {"id": task.id, "case": number, "task": task.bpmn_id, "name": task.name, "role": task.role,
            "department": task.department, "due": iso(task.due_at), "assignee": task.assignee, "form": task.form}


def case_out(session, case: Case) -> dict:
    """The case for a client system: no reporter name or phone, ever."""
    tasks = session.scalars(select(ReadyTask).where(ReadyTask.case_id == case.id).order_by(ReadyTask.created_at))
    return {"number": case.number, "status": case.status, "channel": case.channel, "type": case.type,
            "category": case.category, "difficulty": case.difficulty, "urgent": bool(case.urgent), "text": case.text,
            "address": case.address, "grid": case.grid, "department": case.department,
            "registered_at": iso(case.registered_at), "dispatched_at": iso(case.dispatched_at),
            "replied_at": iso(case.replied_at), "closed_at": iso(case.closed_at), "deadline": iso(case.deadline),
            "satisfaction": case.satisfaction, "supervision_tier": case.supervision_tier or 0,
            "external_id": case.external_id if case.external_source == g.api["name"] else None,
            "tasks": [task_out(t, case.number) for t in tasks]}


def _visible_case(session, number: str) -> Case:
    case = session.scalars(select(Case).where(Case.number == number, _scope())).first()
    if case is None:
        # Another department's case is as unknown as a case that does not exist.
        raise NotFound(f"unknown case '{number}'")
    g.api_case = case.number
    return case


# -- cases ---------------------------------------------------------------------------------------
def _cursor(case: Case) -> str:
    return base64.urlsafe_b64encode(f"{case.registered_at.isoformat()}|{case.id}".encode()).decode().rstrip("=")


def _parse_cursor(value: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, _sep, case_id = raw.partition("|")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed, int(case_id)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("invalid cursor: pass the `next` value of the previous page",
                      fields=[("after", "invalid cursor")]) from None


def _body_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _replay(key: str, body_hash: str):
    """The stored answer to an earlier POST with this Idempotency-Key, or None."""
    with _core().db.read() as session:
        row = session.scalars(select(IdempotentRequest).where(IdempotentRequest.client_id == g.api["client_id"],
                                                              IdempotentRequest.key == key)).first()
        if row is None:
            return None
        if row.body_hash != body_hash:
            raise Conflict(f"Idempotency-Key '{key}' was used with a different body")
        g.api_case = row.response.get("number")
        response = current_app.response_class(json.dumps(row.response, ensure_ascii=False), status=row.status,
                                               mimetype="application/json")
        response.headers["Idempotent-Replayed"] = "true"
        return response


@bp.route("/cases")
class Cases(MethodView):
    @bp.doc(security=SECURITY, summary="Register a case (or update the one your external_id made)")
    @bp.arguments(IdempotencyHeaders, location="headers")
    @bp.arguments(s.CaseCreate)
    @bp.response(201, s.CaseOut)
    @bp.alt_response(200, schema=s.CaseOut, description="an update of the case your external_id made, or a replay")
    @requires("intake")
    def post(self, headers, body):
        key = headers.get("idempotency_key")
        digest = _body_hash(body)
        if key:
            replayed = _replay(key, digest)
            if replayed is not None:
                return replayed
        api = g.api
        answer: dict = {}

        def record(session, case, created: bool):
            session.flush()
            answer.update(status=201 if created else 200, body=case_out(session, case))
            if key:
                session.add(IdempotentRequest(client_id=api["client_id"], key=key, body_hash=digest, case_id=case.id,
                                              status=answer["status"], response=answer["body"], created_at=utcnow()))

        fields_ = {k: v for k, v in body.items() if k != "external_id"}
        try:
            if body.get("external_id"):
                upsert_external(_core(), source=api["name"], external_id=body["external_id"], user=api["username"],
                                fields=fields_, audit_source=api["source"], attach=record)
            else:
                _core().cases.register(**fields_, user=api["username"], source=api["source"], detail=False,
                                       attach=lambda session, case, actor: record(session, case, True))
        except IntegrityError:
            # A concurrent POST with the same Idempotency-Key committed first: answer as it did.
            replayed = _replay(key, digest) if key else None
            if replayed is None:
                raise
            return replayed
        g.api_case = answer["body"]["number"]
        return answer["body"], answer["status"]

    @bp.doc(security=SECURITY, summary="List cases, newest first, a page at a time (keyset)")
    @bp.arguments(s.CaseQuery, location="query")
    @bp.response(200, s.CasePage)
    @requires("read")
    def get(self, query):
        where = [_scope()]
        for name in ("status", "department", "channel", "type"):
            if query.get(name):
                where.append(getattr(Case, name) == query[name])
        if query.get("external_id"):
            where += [Case.external_source == g.api["name"], Case.external_id == query["external_id"]]
        from ..reports.kpis import instants
        if query.get("registered_from"):
            where.append(Case.registered_at >= instants(query["registered_from"], query["registered_from"])[0])
        if query.get("registered_to"):
            where.append(Case.registered_at < instants(query["registered_to"], query["registered_to"])[1])
        if query.get("after"):
            at, case_id = _parse_cursor(query["after"])
            where.append(or_(Case.registered_at < at, and_(Case.registered_at == at, Case.id < case_id)))
        limit = query["limit"]
        with _core().db.read() as session:
            rows = session.scalars(select(Case).where(*where).order_by(Case.registered_at.desc(), Case.id.desc())
                                   .limit(limit + 1)).all()
            items = [case_out(session, c) for c in rows[:limit]]
            return {"items": items, "next": _cursor(rows[limit - 1]) if len(rows) > limit else None}


@bp.route("/cases/<string:number>")
@bp.doc(security=SECURITY, summary="One case")
@bp.response(200, s.CaseOut)
@requires("read")
def case_get(number):
    with _core().db.read() as session:
        return case_out(session, _visible_case(session, number))


@bp.route("/cases/<string:number>/timeline")
@bp.doc(security=SECURITY, summary="What happened to a case, oldest first")
@bp.response(200, s.TimelineEntry(many=True))
@requires("read")
def case_timeline(number):
    with _core().db.read() as session:
        case = _visible_case(session, number)
        rows = session.scalars(select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id))
        return [{"at": iso(r.at), "action": r.action, "task": r.task_bpmn_id, "task_name": r.task_name,
                 "actor": r.actor} for r in rows]


@bp.route("/cases/<string:number>/supervision")
@bp.doc(security=SECURITY, summary="A case's supervision items (督办)")
@bp.response(200, s.SupervisionOut(many=True))
@requires("read")
def case_supervision(number):
    with _core().db.read() as session:
        case = _visible_case(session, number)
        items = session.scalars(select(SupervisionItem).where(SupervisionItem.case_id == case.id)
                                .order_by(SupervisionItem.opened_at, SupervisionItem.tier))
        return [{"tier": i.tier, "reason": i.reason, "department": i.department, "status": i.status,
                 "opened_at": iso(i.opened_at), "due": iso(i.due_at), "escalated_at": iso(i.escalated_at),
                 "closed_at": iso(i.closed_at), "measure": i.measure} for i in items]


# -- tasks ---------------------------------------------------------------------------------------
@bp.route("/tasks")
@bp.doc(security=SECURITY, summary="Ready tasks of the client's department, due first")
@bp.arguments(s.TaskQuery, location="query")
@bp.response(200, s.TaskOut(many=True))
@requires("tasks")
def tasks_list(query):
    with _core().db.read() as session:
        stmt = (select(ReadyTask, Case.number).join(Case, Case.id == ReadyTask.case_id)
                .where(worklist_filter(g.api_user)))
        if query.get("case"):
            stmt = stmt.where(Case.number == query["case"])
        rows = session.execute(stmt.order_by(ReadyTask.due_at.is_(None), ReadyTask.due_at, Case.number)
                               .limit(500)).all()
        return [task_out(task, number) for task, number in rows]


@bp.route("/tasks/<string:task_id>/complete", methods=["POST"])
@bp.doc(security=SECURITY, summary="Complete a ready task with its form data (the browser's rules)")
@bp.arguments(s.TaskComplete)
@bp.response(200, s.TaskResult)
@requires("tasks")
def task_complete(body, task_id):
    if len(task_id) > 36:
        raise NotFound(f"task '{task_id[:36]}…' not found or no longer ready")
    result = _core().cases.complete_task(task_id, user=g.api["username"], data=body["data"], source=g.api["source"],
                                         detail=False)
    g.api_case = result["number"]
    with _core().db.read() as session:
        case = session.scalars(select(Case).where(Case.number == result["number"])).one()
        tasks = session.scalars(select(ReadyTask).where(ReadyTask.case_id == case.id)
                                .order_by(ReadyTask.created_at)).all()
        return {"number": case.number, "status": case.status, "tasks": [task_out(t, case.number) for t in tasks]}


# -- KPIs ----------------------------------------------------------------------------------------
@bp.route("/kpis")
@bp.doc(security=SECURITY, summary="The KPIs for a range of Shanghai days (docs/kpis.md)")
@bp.arguments(s.KpiQuery, location="query")
@bp.response(200, s.KpiOut)
@requires("reports")
def kpis(query):
    scope = _scope() if g.api["department"] else None
    with _core().db.read() as session:
        result = compute_kpis(session, start=query["from_"], end=query["to"], by=query.get("by"), scope=scope)
    return {**result, "from_": result["from"]}
