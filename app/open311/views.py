"""/open311/v2/: discovery, services, services/{code}, requests (GET, POST), requests/{id}, tokens/{token}.

Every resource ends in ``.xml`` (required by the spec) or ``.json``. Errors are the spec's list of
``code`` and ``description``: 400 for bad input, 403 for a missing or invalid api_key, 404 for an
unknown id, service or jurisdiction (413 for a body over 1 MB, 429 past the rate limit). The
endpoint serves one jurisdiction (``BIHUAN_OPEN311_JURISDICTION_ID``): a different jurisdiction_id
is a 404, none at all is fine.
"""
from __future__ import annotations

from flask import Blueprint, current_app, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from ..cases.models import Case
from ..errors import BihuanError
from ..public.views import limiter
from ..web import csrf
from . import posting
from .catalog import attributes, changeset, services
from .render import FORMATS, errors, respond, w3
from .services import Open311Error, find_request, query_requests

bp = Blueprint("open311", __name__, url_prefix="/open311")
SPEC = "http://wiki.open311.org/GeoReport_v2"
MAX_BODY = 1024 * 1024
DEFAULT_JURISDICTION = "bihuan.local"
csrf.exempt(bp)  # machine clients, authenticated by api_key on POST; no cookie is ever read here


def _config(name: str, default):
    return current_app.config.get(f"OPEN311_{name}") or default


def _core():
    return current_app.extensions["bihuan"]


def _split_format(name: str) -> tuple[str, str]:
    stem, dot, fmt = name.rpartition(".")
    if not dot or fmt not in FORMATS:
        raise Open311Error(400, "the resource must end in .xml or .json")
    return stem, fmt


def _fmt_of(path: str) -> str:
    fmt = path.rpartition(".")[2]
    return fmt if fmt in FORMATS else "xml"


def _check_jurisdiction() -> None:
    given = (request.values.get("jurisdiction_id") or "").strip()
    ours = _config("JURISDICTION_ID", DEFAULT_JURISDICTION)
    if given and given != ours:
        raise Open311Error(404, f"jurisdiction_id '{given[:60]}' not found (this endpoint serves '{ours}')")


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    return errors(_fmt_of(request.path), exc.status, exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    # 413 (too large), 429 (rate limit), 405 ... in the spec's error format, not the HTML page.
    messages = {413: "the request body is larger than 1 MB", 429: "too many requests; slow down",
                405: "method not allowed on this resource"}
    response = errors(_fmt_of(request.path), exc.code or 400, messages.get(exc.code, exc.description or exc.name))
    if exc.code == 429 and getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _rate():
    return _config("RATE_LIMIT", "120 per minute")


@bp.get("/v2/discovery.<fmt>")
@limiter.limit(_rate)
def discovery(fmt):
    if fmt not in FORMATS:
        raise Open311Error(400, "the resource must end in .xml or .json")
    base = (current_app.config.get("PUBLIC_BASE_URL") or request.url_root).rstrip("/") + "/open311/v2"
    with _core().db.read() as session:
        changed = w3(changeset(session)) or ""
    document = {"changeset": changed,
                "contact": _config("CONTACT", "社会治理联动指挥中心"),
                "key_service": _config("KEY_SERVICE", "API keys are issued by the system administrator (系统管理)"),
                "endpoints": [{"specification": SPEC, "url": base, "changeset": changed, "type": "production",
                               "formats": ["text/xml", "application/json"]}]}
    return respond(fmt, "discovery", document)


@bp.get("/v2/services.<fmt>")
@limiter.limit(_rate)
def service_list(fmt):
    _split_format(f"services.{fmt}")
    _check_jurisdiction()
    with _core().db.read() as session:
        listed = services(_core(), session)
    return respond(fmt, "services", [
        {"service_code": s.code, "service_name": s.name, "description": s.description, "metadata": True,
         "type": _config("TYPE", "realtime"), "keywords": s.keywords, "group": s.department or "指挥中心"}
        for s in listed])


@bp.get("/v2/services/<name>")
@limiter.limit(_rate)
def service_definition(name):
    code, fmt = _split_format(name)
    _check_jurisdiction()
    with _core().db.read() as session:
        known = {s.code for s in services(_core(), session)}
    if code not in known:
        raise Open311Error(404, f"service_code '{code[:50]}' not found")
    return respond(fmt, "service_definition", {"service_code": code, "attributes": attributes()})


@bp.route("/v2/requests.<fmt>", methods=["GET", "POST"])
@limiter.limit(_rate)
def requests_(fmt):
    _split_format(f"requests.{fmt}")
    if request.method == "POST":
        return _post(fmt)
    _check_jurisdiction()
    with _core().db.read() as session:
        found = query_requests(_core(), session, ids=request.args.get("service_request_id"),
                               service_code=request.args.get("service_code"),
                               start=request.args.get("start_date"), end=request.args.get("end_date"),
                               status=request.args.get("status"))
    return respond(fmt, "service_requests", found)


def _post(fmt: str):
    if (request.content_length or 0) > MAX_BODY:
        raise Open311Error(413, "the request body is larger than 1 MB")
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(400, "POST requests must be application/x-www-form-urlencoded "
                                f"(got '{request.mimetype[:60] or 'no content type'}')")
    form = request.form
    key = (form.get("api_key") or "").strip()
    if not key:
        raise Open311Error(403, "api_key was not provided")
    from ..api.keys import authenticate_api_key, client_user
    core = _core()
    try:
        with core.db.read() as session:
            client = authenticate_api_key(session, key, "intake")
            client_name, username = client.name, client_user(session, client).username
    except BihuanError:  # unknown, revoked, inactive, or without the intake scope: the spec's 403
        raise Open311Error(403, "invalid api_key received -- can't proceed with create_request") from None
    _check_jurisdiction()
    posted = posting.read_form(form)
    with core.db.read() as session:
        by_code = {s.code: s for s in services(core, session)}
    service = by_code.get(posted.service_code)
    if service is None:
        raise Open311Error(404, f"service_code '{posted.service_code[:50]}' not found")
    number, token = posting.register(core, posted, service.category, client_name, username,
                                     _config("CHANNEL", "web"))
    notice = f"已受理，工单号 {number}；可凭工单号和手机号后四位在 /status 查询办理进度"
    if _config("TYPE", "realtime") == "batch":
        return respond(fmt, "service_requests", [{"token": token, "service_notice": notice, "account_id": None}])
    return respond(fmt, "service_requests", [{"service_request_id": number, "service_notice": notice,
                                              "account_id": None}])


@bp.get("/v2/requests/<name>")
@limiter.limit(_rate)
def request_one(name):
    number, fmt = _split_format(name)
    _check_jurisdiction()
    with _core().db.read() as session:
        found = find_request(_core(), session, number)
    return respond(fmt, "service_requests", [found])


@bp.get("/v2/tokens/<name>")
@limiter.limit(_rate)
def token(name):
    token_, fmt = _split_format(name)
    _check_jurisdiction()
    if not token_:
        raise Open311Error(400, "token was not provided")
    with _core().db.read() as session:
        number = session.scalar(select(Case.number).where(Case.external_source == posting.SOURCE,
                                                          Case.external_id == token_[:100]))
    if number is None:
        raise Open311Error(404, f"token '{token_[:40]}' not found")
    return respond(fmt, "service_requests", [{"service_request_id": number, "token": token_}])
