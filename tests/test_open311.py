"""Open311 GeoReport v2 contract tests, against the published specification
(http://wiki.open311.org/GeoReport_v2 and /Service_Discovery): every endpoint in XML and JSON,
element names and order, JSON field names, the error list, status codes, the default 90-day window
and the 1000 cap, and no personal data in any answer."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import insert, select

from app.cases.models import AuditEntry, Case

# Element order as the specification's tables and examples give it.
DISCOVERY = ["changeset", "contact", "key_service", "endpoints"]
ENDPOINT = ["specification", "url", "changeset", "type", "formats"]
SERVICE = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
DEFINITION = ["service_code", "attributes"]
ATTRIBUTE = ["variable", "code", "datatype", "required", "datatype_description", "order", "description", "values"]
VALUE = ["key", "name"]
POSTED = ["service_request_id", "service_notice", "account_id"]
REQUEST = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
           "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
           "address", "address_id", "zipcode", "lat", "long", "media_url"]
ERROR = ["code", "description"]
NAME, PHONE = "王小明", "13912345678"
BASE = "/open311/v2"


def xml(response):
    assert response.content_type == "text/xml; charset=utf-8", response.content_type
    body = response.get_data()
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))


def jsn(response):
    assert response.content_type == "application/json; charset=utf-8", response.content_type
    return json.loads(response.get_data(as_text=True))


def tags(element) -> list[str]:
    return [child.tag for child in element]


def assert_errors(response, status: int, fragment: str = ""):
    assert response.status_code == status
    if response.content_type.startswith("text/xml"):
        root = xml(response)
        assert root.tag == "errors" and [e.tag for e in root] == ["error"] * len(root) and len(root) >= 1
        for error in root:
            assert tags(error) == ERROR and error.findtext("code") == str(status)
        assert fragment in root.findtext("error/description")
    else:
        body = jsn(response)
        assert isinstance(body, list) and body and all(list(e) == ERROR for e in body)
        assert body[0]["code"] == status and fragment in body[0]["description"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api_key(core):
    from app.api.keys import create_key, register_client
    with core.db.unit_of_work() as session:
        register_client(session, "citizen-app", ["intake"], actor="admin")
    with core.db.unit_of_work() as session:
        return create_key(session, "citizen-app", actor="admin")


def post(client, key, fmt="xml", **fields):
    data = {"api_key": key, "service_code": "city_management", "address_string": "幸福路 12 号",
            "description": f"路灯不亮，我是{NAME}，电话 {PHONE}", "first_name": "小明", "last_name": "王",
            "phone": PHONE, "email": "wxm@example.com"} | fields
    return client.post(f"{BASE}/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})


# -- discovery, services, service definitions ----------------------------------------------------------
def test_discovery_in_both_formats(client):
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery" and tags(root) == DISCOVERY
    endpoint = root.find("endpoints/endpoint")
    assert tags(endpoint) == ENDPOINT and endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.findtext("url").endswith("/open311/v2") and endpoint.findtext("type") == "production"
    assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]
    body = jsn(client.get(f"{BASE}/discovery.json"))
    assert list(body) == DISCOVERY and list(body["endpoints"][0]) == ENDPOINT
    assert body["endpoints"][0]["formats"] == ["text/xml", "application/json"]


def test_service_list_maps_the_routing_categories(client):
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and set(tags(root)) == {"service"}
    for service in root:
        assert tags(service) == SERVICE
        assert service.findtext("metadata") == "true" and service.findtext("type") == "realtime"
    by_code = {s.findtext("service_code"): s for s in root}
    assert by_code["city_management"].findtext("service_name") == "城市管理"
    assert by_code["city_management"].findtext("group") == "城管执法中队"  # routing.dmn: 城市管理 -> chengguan
    assert by_code["property_management"].findtext("group") == "社区建设办"
    # Every category of the shipped routing.dmn (read, not counted by hand) and 其他诉求.
    from app.open311.catalog import SHIPPED_CODES
    assert "general" in by_code and set(by_code) == set(SHIPPED_CODES.values()) | {"general"}
    body = jsn(client.get(f"{BASE}/services.json"))
    assert [list(s) for s in body] == [SERVICE] * len(body) and body[0]["metadata"] is True
    assert [s["service_code"] for s in body] == list(by_code)


def test_service_definition_and_unknown_service(client):
    root = xml(client.get(f"{BASE}/services/city_management.xml"))
    assert root.tag == "service_definition" and tags(root) == DEFINITION
    attribute = root.find("attributes/attribute")
    assert tags(attribute) == ATTRIBUTE and attribute.findtext("datatype") == "singlevaluelist"
    assert attribute.findtext("order") == "1" and attribute.findtext("variable") == "true"
    assert [tags(v) for v in attribute.find("values")] == [VALUE] * 5
    assert [v.findtext("key") for v in attribute.find("values")] == ["inquiry", "help", "complaint", "report",
                                                                      "suggestion"]
    body = jsn(client.get(f"{BASE}/services/general.json"))
    assert list(body) == DEFINITION and list(body["attributes"][0]) == ATTRIBUTE
    assert body["attributes"][0]["required"] is False and body["attributes"][0]["order"] == 1
    assert_errors(client.get(f"{BASE}/services/potholes.xml"), 404, "potholes")
    assert_errors(client.get(f"{BASE}/services/potholes.json"), 404, "potholes")


def test_jurisdiction_id_is_optional_and_checked(client):
    assert client.get(f"{BASE}/services.xml?jurisdiction_id=bihuan.local").status_code == 200
    assert_errors(client.get(f"{BASE}/services.json?jurisdiction_id=sfgov.org"), 404, "sfgov.org")
    assert_errors(client.get(f"{BASE}/requests.xml?jurisdiction_id=sfgov.org"), 404, "jurisdiction_id")


def test_unknown_format_is_a_400_in_xml(client):
    assert_errors(client.get(f"{BASE}/services/city_management.html"), 400, ".xml or .json")
    assert_errors(client.get(f"{BASE}/requests/HD-1"), 400, ".xml or .json")


# -- POST requests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_post_registers_a_web_case_on_the_same_process(client, core, driver, api_key, fmt):
    response = post(client, api_key, fmt, **{"attribute[request_type]": "report"})
    assert response.status_code == 200
    if fmt == "xml":
        root = xml(response)
        assert root.tag == "service_requests" and tags(root) == ["request"] and tags(root[0]) == POSTED
        number = root.findtext("request/service_request_id")
    else:
        body = jsn(response)
        assert [list(r) for r in body] == [POSTED] and body[0]["account_id"] is None
        number = body[0]["service_request_id"]
    case = driver.show(number)
    assert case["channel"] == "web" and case["type"] == "report" and case["category"] == "城市管理"
    assert case["address"] == "幸福路 12 号" and driver.ready(number) == ["dispatch"]  # the lifecycle BPMN
    assert NAME not in response.get_data(as_text=True) and PHONE not in response.get_data(as_text=True)
    with core.db.read() as session:
        stored = session.scalars(select(Case).where(Case.number == number)).one()
        assert stored.reporter_name == NAME and stored.reporter_phone == PHONE  # kept, encrypted at rest
        row = session.scalars(select(AuditEntry).where(AuditEntry.case_id == stored.id,
                                                       AuditEntry.action == "register")).one()
        assert row.actor == "api-citizen-app" and row.source == "open311:citizen-app"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_post_without_or_with_a_bad_key_is_403_and_registers_nothing(client, core, api_key, fmt):
    assert_errors(post(client, None, fmt), 403, "api_key")
    assert_errors(post(client, "bh_000000000000_" + "x" * 43, fmt), 403, "api_key")
    assert_errors(post(client, api_key[:-2] + "zz", fmt), 403, "api_key")
    with core.db.read() as session:
        assert session.scalar(select(Case.id)) is None


def test_a_key_without_the_intake_scope_is_403(client, core):
    from app.api.keys import create_key, register_client
    with core.db.unit_of_work() as session:
        register_client(session, "reader", ["read"], actor="admin")
    with core.db.unit_of_work() as session:
        key = create_key(session, "reader", actor="admin")
    assert_errors(post(client, key), 403, "api_key")


@pytest.mark.parametrize("fields, status, fragment", [
    ({"service_code": None}, 400, "service_code"),
    ({"service_code": "potholes"}, 404, "potholes"),
    ({"address_string": None}, 400, "location"),
    ({"address_string": None, "lat": "31.2"}, 400, "lat and long"),
    ({"lat": "91", "long": "121.4"}, 400, "lat"),
    ({"lat": "north", "long": "121.4"}, 400, "lat"),
    ({"description": "长" * 4001}, 400, "4000"),
    ({"phone": "call me"}, 400, "phone"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ({"attribute[request_type]": "praise"}, 400, "request_type"),
    ({"attribute[colour]": "red"}, 400, "colour"),
    ({"password": "x"}, 400, "unknown parameter"),
    ({"jurisdiction_id": "sfgov.org"}, 404, "jurisdiction_id"),
])
def test_post_bad_input_gets_the_right_status_and_changes_nothing(client, core, api_key, fields, status, fragment):
    assert_errors(post(client, api_key, "json", **fields), status, fragment)
    with core.db.read() as session:
        assert session.scalar(select(Case.id)) is None


def test_post_wrong_content_type_and_oversize_body(client, api_key):
    response = client.post(f"{BASE}/requests.xml", data=json.dumps({"api_key": api_key}),
                           content_type="application/json")
    assert_errors(response, 400, "x-www-form-urlencoded")
    response = client.post(f"{BASE}/requests.xml", data=b"<!DOCTYPE x [<!ENTITY a SYSTEM 'file:///etc/passwd'>]><x>&a;</x>",
                           content_type="text/xml")
    assert_errors(response, 400, "x-www-form-urlencoded")
    big = {"api_key": api_key, "service_code": "general", "description": "x" * (1024 * 1024 + 10)}
    assert_errors(client.post(f"{BASE}/requests.json", data=big), 413, "1 MB")


def test_a_location_by_coordinates_and_the_general_service(client, driver, api_key):
    number = jsn(post(client, api_key, "json", service_code="general", address_string=None, lat="31.230416",
                      long="121.473701"))[0]["service_request_id"]
    case = driver.show(number)
    assert case["category"] is None and case["address"] == "坐标 31.230416, 121.473701"
    assert case["type"] == "complaint"  # the attribute's default


def test_batch_services_return_a_token_that_resolves(app, client, api_key):
    app.config["OPEN311_TYPE"] = "batch"
    assert {s["type"] for s in jsn(client.get(f"{BASE}/services.json"))} == {"batch"}
    root = xml(post(client, api_key, "xml"))
    assert tags(root[0]) == ["token", "service_notice", "account_id"]
    token = root.findtext("request/token")
    resolved = xml(client.get(f"{BASE}/tokens/{token}.xml"))
    assert tags(resolved[0]) == ["service_request_id", "token"] and resolved.findtext("request/token") == token
    assert resolved.findtext("request/service_request_id").startswith("HD-")
    assert list(jsn(client.get(f"{BASE}/tokens/{token}.json"))[0]) == ["service_request_id", "token"]
    assert_errors(client.get(f"{BASE}/tokens/nope.xml"), 404, "token")
    assert_errors(client.get(f"{BASE}/tokens/nope.json"), 404, "token")


# -- GET requests --------------------------------------------------------------------------------------
def test_get_requests_lists_cases_in_the_spec_shape_without_personal_data(client, driver):
    number = driver.register(text=f"小区路灯不亮，联系人{NAME}，电话{PHONE}", address="幸福路12号", category="城市管理",
                             reporter_name=NAME, reporter_phone=PHONE)
    driver.dispatch(number)
    xml_response = client.get(f"{BASE}/requests.xml")
    root = xml(xml_response)
    assert root.tag == "service_requests" and [tags(r) for r in root] == [REQUEST]
    request = root[0]
    assert request.findtext("service_request_id") == number and request.findtext("status") == "open"
    assert request.findtext("service_code") == "city_management" and request.findtext("service_name") == "城市管理"
    assert request.findtext("agency_responsible") == "城管执法中队"
    assert request.findtext("status_notes").startswith("已派至承办部门")
    assert request.findtext("requested_datetime") == "2026-11-02T10:00:00+08:00"
    assert request.findtext("expected_datetime")  # the deadline set at 派单
    json_response = client.get(f"{BASE}/requests.json")
    body = jsn(json_response)
    assert [list(r) for r in body] == [REQUEST] and body[0]["lat"] is None
    for response in (xml_response, json_response, client.get(f"{BASE}/requests/{number}.xml"),
                     client.get(f"{BASE}/requests/{number}.json")):
        text = response.get_data(as_text=True)
        assert NAME not in text and PHONE not in text and "operator" not in text and "dispatcher" not in text
        assert "139****5678" in text and "王**" in text  # the text kept, what identifies the resident masked


def test_get_one_request_and_unknown_ids(client, driver):
    number = driver.register()
    root = xml(client.get(f"{BASE}/requests/{number}.xml"))
    assert [tags(r) for r in root] == [REQUEST] and root.findtext("request/service_request_id") == number
    assert [r["service_request_id"] for r in jsn(client.get(f"{BASE}/requests/{number}.json"))] == [number]
    assert_errors(client.get(f"{BASE}/requests/HD-20991231-0001.xml"), 404, "HD-20991231-0001")
    assert_errors(client.get(f"{BASE}/requests/HD-20991231-0001.json"), 404, "not found")


def test_status_and_service_code_filters_and_the_id_list(client, driver):
    closed = driver.register(category="物业管理")
    driver.dispatch(closed, category="物业管理")
    driver.sign(closed, user="handler2")
    driver.reply(closed, user="handler2")
    driver.do(closed, "verify", "dispatcher", verify_result="passed")
    driver.do(closed, "follow_up", "dispatcher", satisfaction="satisfied")
    open_ = driver.register(category="城市管理")
    general = driver.register()
    ids = lambda url: [r["service_request_id"] for r in jsn(client.get(url))]
    assert set(ids(f"{BASE}/requests.json")) == {closed, open_, general}
    assert ids(f"{BASE}/requests.json?status=closed") == [closed]
    assert set(ids(f"{BASE}/requests.json?status=open")) == {open_, general}
    assert set(ids(f"{BASE}/requests.json?status=open,closed")) == {closed, open_, general}
    assert ids(f"{BASE}/requests.json?service_code=property_management") == [closed]
    assert set(ids(f"{BASE}/requests.json?service_code=city_management,general")) == {open_, general}
    # service_request_id overrides every other argument
    assert set(ids(f"{BASE}/requests.json?service_request_id={closed},{open_}&status=open")) == {closed, open_}
    one = jsn(client.get(f"{BASE}/requests/{closed}.json"))[0]
    assert one["status"] == "closed" and one["expected_datetime"] is None
    assert one["updated_datetime"] >= one["requested_datetime"]
    assert_errors(client.get(f"{BASE}/requests.json?status=pending"), 400, "pending")
    assert_errors(client.get(f"{BASE}/requests.xml?service_code=potholes"), 400, "potholes")


def _backdated(core, days_ago: list[float]) -> list[str]:
    """Cases registered ``days_ago`` before now, written as rows (the listing reads only columns)."""
    from workflows.clock import utcnow
    now = utcnow()
    rows = [{"number": f"HD-T-{i:05d}", "channel": "web", "type": "complaint", "text": "测试", "status": "registered",
             "registered_at": now - timedelta(days=d), "registered_by": "test", "extensions": [], "urgent": False,
             "return_count": 0, "redo_count": 0, "supervision_tier": 0, "has_incident": False, "repeat_calls": 0}
            for i, d in enumerate(days_ago)]
    with core.db.unit_of_work() as session:
        session.execute(insert(Case), rows)
    return [r["number"] for r in rows]


def test_the_default_window_is_the_most_recent_90_days(client, core):
    inside, edge, outside = _backdated(core, [1, 89.9, 90.5])
    ids = [r["service_request_id"] for r in jsn(client.get(f"{BASE}/requests.json"))]
    assert ids == [inside, edge]  # newest first; 90.5 days ago is outside
    # start_date alone: 90 days from there; end_date alone: the 90 days before it
    ids = [r["service_request_id"] for r in jsn(client.get(f"{BASE}/requests.json?start_date=2026-08-01T00:00:00Z"))]
    assert ids == [edge, outside]
    ids = [r["service_request_id"] for r in jsn(client.get(f"{BASE}/requests.json?end_date=2026-10-01T00:00:00%2B08:00"))]
    assert ids == [edge, outside]


@pytest.mark.parametrize("query, fragment", [
    ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "90 days"),
    ("start_date=2026-06-01T00:00:00Z&end_date=2026-05-01T00:00:00Z", "before start_date"),
    ("start_date=yesterday", "start_date"),
    ("end_date=1899-01-01T00:00:00Z", "out of range"),
])
def test_bad_windows_are_400(client, query, fragment):
    assert_errors(client.get(f"{BASE}/requests.xml?{query}"), 400, fragment)
    assert_errors(client.get(f"{BASE}/requests.json?{query}"), 400, fragment)


def test_at_most_1000_requests_newest_first(client, core):
    numbers = _backdated(core, [i / 100 for i in range(1005)])
    body = jsn(client.get(f"{BASE}/requests.json"))
    assert len(body) == 1000 and [r["service_request_id"] for r in body] == numbers[:1000]
    assert len(xml(client.get(f"{BASE}/requests.xml"))) == 1000


def test_the_listing_reads_the_registered_at_index(core):
    """The window query walks an index on registered_at, never the whole table."""
    from sqlalchemy import text
    from app.open311.services import COLUMNS, window
    start, end = window(None, None)
    query = select(*COLUMNS).where(Case.registered_at >= start, Case.registered_at <= end) \
        .order_by(Case.registered_at.desc(), Case.id.desc()).limit(1000)
    with core.db.read() as session:
        dialect = session.get_bind().dialect.name
        compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
        if dialect == "postgresql":
            session.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: force the planner's hand
        plan = " ".join(str(row) for row in session.execute(text(explain + str(compiled))).all())
    assert "registered_at" in plan and ("ix_cases_registered_at" in plan or "Index" in plan), plan
    assert "SCAN cases\"" not in plan and "Seq Scan" not in plan, plan


def test_open311_errors_on_rate_limit_are_in_the_spec_format(app, client):
    app.config["OPEN311_RATE_LIMIT"] = "2 per minute"
    assert client.get(f"{BASE}/services.json").status_code == 200
    assert client.get(f"{BASE}/services.json").status_code == 200
    assert_errors(client.get(f"{BASE}/services.json"), 429, "too many")
