"""Findings from trying Bihuan as an attacker would (issue 14, items 3, 7, 8, 10, 11): each once gave a
500, a traceback or a wrong answer; each now gets a clear refusal."""
from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import jsonschema
import pytest
from werkzeug.serving import make_server

from app.cli import _database_hint
from app.web.serving import BihuanRequestHandler, redact
from app.errors import Invalid
from app.processes import drafts
from app.tasks import forms
from tests.test_cli import run

FORMS = Path(__file__).resolve().parents[1] / "bpmn" / "forms"
OVERLONG = ["9" * 5000, "-" + "9" * 5000, "1e999999", "9" * 41 + ".5", "NaN", "Infinity"]


def numeric_fields():
    for path in sorted(FORMS.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        for name, prop in schema.get("properties", {}).items():
            if forms._main_type(prop) in ("integer", "number"):
                yield pytest.param(schema, name, id=f"{path.name.split('.')[0]}.{name}")


@pytest.mark.parametrize("schema,name", list(numeric_fields()))
@pytest.mark.parametrize("raw", OVERLONG, ids=["digits", "negative", "exponent", "long-float", "nan", "inf"])
def test_overlong_numbers_in_every_numeric_field_are_field_errors(schema, name, raw):
    data = forms.parse(schema, {name: raw})
    # whatever parse gave back, the schema refuses it at the field, and the error can be shown
    errors = [(".".join(map(str, e.path)) or name, e.message[:80])
              for e in jsonschema.Draft202012Validator(schema).iter_errors(data) if list(e.path) == [name]]
    assert errors, f"{name}={raw[:20]} was accepted as {data.get(name)!r}"
    assert name in forms.humanize(schema, errors)


def test_there_are_numeric_fields_to_check():
    assert any(param.id.startswith("handle.extension_days") for param in numeric_fields())


def test_a_5000_digit_extension_is_a_400_at_its_field(login, driver):
    number = driver.register(category="城市管理")
    driver.dispatch(number)
    driver.sign(number)
    task_id = driver.task(number, "handle")["id"]
    response = login("handler").post(f"/tasks/{task_id}", data={
        "decision": "extension_request", "extension_days": "9" * 5000, "extension_reason": "需协调"})
    assert response.status_code == 400
    assert "9" * 5000 in response.get_data(as_text=True)  # the value is kept for correction
    assert driver.task(number, "handle")["id"] == task_id  # nothing happened


def _import(core, filename, data):
    with core.db.unit_of_work() as session:
        draft = drafts.open_draft(session, "designer")
        drafts.import_file(session, filename=filename, data=data, base_revision=draft.revision, actor="designer")


@pytest.mark.parametrize("codec", ["base64", "hex", "rot13", "zlib_codec", "punycode", "uu", "bz2_codec"])
def test_an_xml_declaration_naming_a_non_text_codec_is_refused(core, codec):
    data = (f'<?xml version="1.0" encoding="{codec}"?><definitions '
            'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>').encode()
    with pytest.raises(Invalid) as refused:
        _import(core, "odd.bpmn", data)
    assert codec in str(refused.value) or codec in json.dumps(refused.value.fields, ensure_ascii=False)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999999"])
def test_a_form_with_non_json_numbers_is_refused(core, literal):
    text = '{"type": "object", "properties": {"x": {"type": "number", "maximum": %s}}}' % literal
    with pytest.raises(Invalid):
        _import(core, "forms/odd.schema.json", text.encode())


def test_designer_export_with_a_huge_version_number_is_a_400(login):
    designer = login("designer")
    for raw in ["1" * 23, "²", "-1", "1.0"]:
        response = designer.get(f"/designer/export/case_lifecycle.bpmn?version={raw}")
        assert response.status_code == 400, raw


@pytest.mark.parametrize("day", ["20270101", "2027-W01-1", "2027-1-1", " 2027-01-01x"])
def test_dates_are_exactly_yyyy_mm_dd(core, day):
    url = str(core.db.engine.url.render_as_string(hide_password=False))
    message = run("calendar", "add-override", day, "holiday", url=url, expect_ok=False)
    assert "YYYY-MM-DD" in message


def test_admin_page_refuses_a_compact_date(login):
    response = login("admin").post("/admin/calendar", data={"day": "20261231", "kind": "holiday", "note": "x"})
    assert response.status_code == 400 and "YYYY-MM-DD" in response.get_data(as_text=True)


def test_a_lock_timeout_is_not_blamed_on_migrations():
    assert "migrated" not in _database_hint("database is locked")
    assert "lock" in _database_hint("database is locked")
    assert "lock" in _database_hint("canceling statement due to lock timeout")
    assert "bihuan db upgrade" in _database_hint("no such table: cases")
    assert "bihuan db upgrade" in _database_hint('relation "cases" does not exist')


def test_the_server_header_names_no_versions():
    from flask import Flask
    tiny = Flask("tiny")
    tiny.add_url_rule("/", "home", lambda: "ok")
    server = make_server("127.0.0.1", 0, tiny, request_handler=BihuanRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/") as response:
            header = response.headers["Server"]
    finally:
        server.shutdown()
    assert header == "Bihuan"


def test_the_access_log_keeps_no_phone_numbers():
    line = "GET /cases/search?status=open&phone=13912345678&page=2 HTTP/1.1"
    assert redact(line) == "GET /cases/search?status=open&phone=***&page=2 HTTP/1.1"
    assert "13912345678" not in redact("GET /x?PHONE=13912345678 HTTP/1.1")


def _chain(n: int) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
             'id="chain_defs" targetNamespace="x"><process id="long_chain" isExecutable="true"><startEvent id="s"/>']
    prev = "s"
    for i in range(n):
        parts.append(f'<task id="t{i}" name="任务{i}"/><sequenceFlow id="f{i}" sourceRef="{prev}" targetRef="t{i}"/>')
        prev = f"t{i}"
    parts.append(f'<endEvent id="e"/><sequenceFlow id="fe" sourceRef="{prev}" targetRef="e"/></process></definitions>')
    return "".join(parts).encode()


def test_a_1000_task_chain_imports_while_others_log_in(app, core, login):
    """Layout and validation run outside the write transaction: logins are never locked out."""
    import io
    from tests.conftest import race
    designer = login("designer")
    with core.db.unit_of_work() as session:
        revision = drafts.open_draft(session, "designer").revision

    def work(i):
        if i == 0:
            return designer.post("/designer/import", data={"base_revision": str(revision),
                                                           "file": (io.BytesIO(_chain(1000)), "chain.bpmn")},
                                 content_type="multipart/form-data").status_code
        client = app.test_client()
        return [client.post("/login", data={"username": "viewer", "password": "bihuan123"}).status_code
                for _ in range(5)]

    outcomes = race(work, n=3)
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert outcomes[0][1] in (200, 302)
    assert all(code == 302 for _, codes in outcomes[1:] for code in codes)
    with core.db.read() as session:
        assert "long_chain.bpmn" in drafts.draft_files(session)


def test_files_with_too_many_elements_or_fields_are_refused(core):
    with pytest.raises(Invalid) as refused:
        _import(core, "huge.bpmn", _chain(12000))
    assert "20000" in str(refused.value) or "20000" in json.dumps(refused.value.fields)
    form = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(600)}}
    with pytest.raises(Invalid) as refused:
        _import(core, "forms/huge.schema.json", json.dumps(form).encode())
    assert "500" in str(refused.value) or "500" in json.dumps(refused.value.fields)


TECHNICAL = ("Error", "NotImplemented", "sys.", "%r", "b'<", "XML_PARSE_HUGE", "Traceback", "KeyError", "IndexError")


@pytest.mark.parametrize("body,code", [
    ('<startEvent id="s"/><task id="t"/><boundaryEvent id="b" attachedToRef="t"><linkEventDefinition id="l" '
     'name="x"/></boundaryEvent><sequenceFlow id="f" sourceRef="s" targetRef="t"/>', "unsupported_element"),
    ('<startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="nowhere"/>', "missing_reference"),
    ("<subProcess id='a'>" * 300 + "</subProcess>" * 300, "nested_too_deeply"),
])
def test_designers_get_sentences_not_python(app, body, code):
    from app.processes.problem_text import describe
    from workflows.validation import validate_files
    xml = ('<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           'id="d" targetNamespace="x"><process id="case_lifecycle" isExecutable="true">' + body +
           '</process></definitions>').encode()
    problems = [p for p in validate_files({"case_lifecycle.bpmn": xml}) if p.severity == "error"]
    assert code in [p.code for p in problems]
    with app.test_request_context():
        for problem in problems:
            sentence = describe(problem)
            assert not any(word in sentence for word in TECHNICAL), sentence


def test_phone_search_is_only_for_the_roles_that_call_back(login, driver):
    number = driver.register(reporter_phone="13911112222")
    for role in ("viewer", "designer", "handler", "center"):
        html = login(role).get("/cases/search?phone=13911112222").get_data(as_text=True)
        assert number not in html and "只有受理员和指挥中心可以按电话号码查询" in html, role
    assert number in login("dispatcher").get("/cases/search?phone=13911112222").get_data(as_text=True)


def test_numbers_in_the_complaint_text_are_masked_for_roles_that_may_not_unmask(login, driver):
    number = driver.register(category="城市管理", text="请回电13911112222，身份证370211199001011234")
    driver.dispatch(number)
    for role in ("viewer", "handler"):
        html = login(role).get(f"/cases/{number}").get_data(as_text=True)
        assert "13911112222" not in html and "139****2222" in html and "370211199001011234" not in html, role
    assert "13911112222" in login("dispatcher").get(f"/cases/{number}").get_data(as_text=True)
    worklist = login("handler").get("/tasks").get_data(as_text=True)
    assert number in worklist and "13911112222" not in worklist


def test_cheap_password_hashing_is_never_used_in_production_mode(monkeypatch):
    """The suite's cheap argon2 parameters are never what a deployment gets from one stray variable."""
    from argon2 import PasswordHasher

    from app.auth.passwords import hasher
    default = PasswordHasher()
    monkeypatch.setenv("BIHUAN_TEST_CHEAP_PASSWORD_HASH", "1")
    monkeypatch.setenv("BIHUAN_ENV", "production")
    assert hasher.__wrapped__().memory_cost == default.memory_cost
    monkeypatch.delenv("BIHUAN_ENV")
    assert hasher.__wrapped__().memory_cost < default.memory_cost
