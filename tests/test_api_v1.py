"""The JSON API /api/v1: cases, timelines, tasks, supervision, KPIs; keys, scopes, problems."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.api.keys import create_key, register_client
from app.cases.models import AuditEntry, Case


def make_key(core, name="platform", scopes=("intake", "read"), department=None, rate_limit=None) -> str:
    with core.db.unit_of_work() as session:
        register_client(session, name, list(scopes), actor="admin", department=department, rate_limit=rate_limit)
        return create_key(session, name, actor="admin")


@pytest.fixture
def api(app, core):
    client = app.test_client()

    def call(method, url, key=None, **kw):
        headers = kw.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return client.open(url, method=method, headers=headers, **kw)
    return call


NEW = {"channel": "platform", "type": "complaint", "text": "小区门口路灯不亮", "address": "幸福路 1 号",
       "reporter_name": "张三", "reporter_phone": "13800001234"}


def test_register_get_and_list_a_case(api, core):
    key = make_key(core)
    created = api("POST", "/api/v1/cases", key, json=NEW)
    assert created.status_code == 201, created.get_data(as_text=True)
    case = created.get_json()
    assert case["status"] == "registered" and case["tasks"][0]["task"] == "dispatch"
    text = created.get_data(as_text=True)
    assert "张三" not in text and "13800001234" not in text and "1234" not in text
    got = api("GET", f"/api/v1/cases/{case['number']}", key)
    assert got.status_code == 200 and got.get_json()["number"] == case["number"]
    listing = api("GET", "/api/v1/cases?limit=1", key).get_json()
    assert [c["number"] for c in listing["items"]] == [case["number"]] and listing["next"] is None
    timeline = api("GET", f"/api/v1/cases/{case['number']}/timeline", key).get_json()
    assert timeline[0]["action"] == "register"
    with core.db.read() as session:
        row = session.scalars(select(AuditEntry).where(AuditEntry.action == "register")).one()
        assert row.source == "api:platform" and row.actor == "api-platform"
        calls = session.scalars(select(AuditEntry).where(AuditEntry.action == "api_call")).all()
        # The three reads have a call row each; the POST's own register row (above) names the client.
        assert len(calls) == 3 and {c.source for c in calls} == {"api:platform"}


def test_openapi_document_is_3_1(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0" and "/api/v1/cases" in doc["paths"]


def problem_of(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_a_clients_mistakes_are_problems_never_500(api, core):
    key = make_key(core)
    problem_of(api("POST", "/api/v1/cases", key, data="{not json", content_type="application/json"), 400)
    problem_of(api("POST", "/api/v1/cases", key, data="channel=web", content_type="application/x-www-form-urlencoded"),
               415)
    problem_of(api("POST", "/api/v1/cases", key, data="x" * (1024 * 1024 + 1), content_type="application/json"), 413)
    body = problem_of(api("POST", "/api/v1/cases", key, json={**NEW, "colour": "red"}), 422)
    assert {"field": "colour", "message": "Unknown field."} in body["errors"]
    body = problem_of(api("POST", "/api/v1/cases", key, json={**NEW, "urgent": "very", "text": 5}), 422)
    assert {e["field"] for e in body["errors"]} == {"urgent", "text"}
    body = problem_of(api("POST", "/api/v1/cases", key, json={**NEW, "grid": "nowhere"}), 422)
    assert body["errors"] == [{"field": "grid", "message": "unknown grid"}]
    body = problem_of(api("GET", "/api/v1/cases?registered_from=1800-01-01", key), 422)
    assert body["errors"][0]["field"] == "registered_from"
    problem_of(api("GET", "/api/v1/cases?limit=abc", key), 422)
    problem_of(api("GET", "/api/v1/cases?after=%%%", key), 422)
    problem_of(api("GET", "/api/v1/cases/HD-NOPE", key), 404)
    problem_of(api("GET", "/api/v1/nothing-here", key), 404)
    problem_of(api("DELETE", "/api/v1/cases", key), 405)
    problem_of(api("POST", "/api/v1/cases", None, json=NEW), 401)
    problem_of(api("POST", "/api/v1/cases", "bh_000000000000_" + "x" * 43, json=NEW), 401)
    with core.db.read() as session:
        assert session.scalar(select(Case.id)) is None  # nothing was registered by any of them
    # The pages keep their own error pages.
    assert "application/problem+json" != api("GET", "/no-such-page").mimetype


def test_idempotent_create(api, core):
    key = make_key(core)
    first = api("POST", "/api/v1/cases", key, json=NEW, headers={"Idempotency-Key": "order-1"})
    again = api("POST", "/api/v1/cases", key, json=NEW, headers={"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json() and again.headers["Idempotent-Replayed"] == "true"
    other = api("POST", "/api/v1/cases", key, json={**NEW, "text": "别的事"}, headers={"Idempotency-Key": "order-1"})
    problem_of(other, 409)
    with core.db.read() as session:
        assert len(session.scalars(select(Case)).all()) == 1
    # Another client's identical key is its own.
    key2 = make_key(core, "other")
    assert api("POST", "/api/v1/cases", key2, json=NEW, headers={"Idempotency-Key": "order-1"}).status_code == 201


def test_governance_platform_orders_are_updated_not_duplicated(api, core):
    key = make_key(core)
    order = {**NEW, "external_id": "12345-20261102-0007"}
    first = api("POST", "/api/v1/cases", key, json=order)
    assert first.status_code == 201 and first.get_json()["external_id"] == "12345-20261102-0007"
    update = api("POST", "/api/v1/cases", key, json={**order, "text": "路灯不亮，已经三天了"})
    assert update.status_code == 200 and update.get_json()["number"] == first.get_json()["number"]
    assert update.get_json()["text"] == "路灯不亮，已经三天了"
    problem_of(api("POST", "/api/v1/cases", key, json={**order, "type": "suggestion"}), 409)
    found = api("GET", "/api/v1/cases?external_id=12345-20261102-0007", key).get_json()["items"]
    assert [c["number"] for c in found] == [first.get_json()["number"]]


def test_rate_limit_per_key_with_retry_after(api, core):
    key = make_key(core, rate_limit=3)
    other = make_key(core, "other", rate_limit=3)
    statuses = [api("GET", "/api/v1/cases", key).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api("GET", "/api/v1/cases", key)
    problem_of(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0
    assert api("GET", "/api/v1/cases", other).status_code == 200  # every key has its own budget


def test_scopes_and_department_restriction(api, core, driver):
    intake_only = make_key(core, "intake-only", scopes=("intake",))
    problem_of(api("GET", "/api/v1/cases", intake_only), 403)
    problem_of(api("GET", "/api/v1/tasks", intake_only), 403)
    problem_of(api("GET", "/api/v1/kpis?from=2026-11-01&to=2026-11-30", intake_only), 403)
    chengguan = make_key(core, "chengguan-sys", scopes=("read", "tasks", "reports"), department="chengguan")
    mine = driver.register()
    driver.dispatch(mine, department="chengguan")
    theirs = driver.register(text="楼道堆物")
    driver.dispatch(theirs, department="community_building")
    listed = [c["number"] for c in api("GET", "/api/v1/cases", chengguan).get_json()["items"]]
    assert listed == [mine]
    problem_of(api("GET", f"/api/v1/cases/{theirs}", chengguan), 404)
    problem_of(api("GET", f"/api/v1/cases/{theirs}/timeline", chengguan), 404)
    tasks = api("GET", "/api/v1/tasks", chengguan).get_json()
    assert [(t["case"], t["task"]) for t in tasks] == [(mine, "sign_for")]
    kpis = api("GET", "/api/v1/kpis?from=2026-11-01&to=2026-11-30&by=department", chengguan)
    assert kpis.status_code == 200
    assert {r["key"] for r in kpis.get_json()["rows"]} <= {"chengguan"}


def test_a_departments_system_completes_its_tasks_under_the_browsers_rules(api, core, driver):
    key = make_key(core, "chengguan-sys", scopes=("read", "tasks"), department="chengguan")
    number = driver.register()
    driver.dispatch(number, department="chengguan")
    theirs = driver.register(text="楼道堆物")
    driver.dispatch(theirs, department="community_building")
    sign = driver.task(number, "sign_for")["id"]
    bad = api("POST", f"/api/v1/tasks/{sign}/complete", key, json={"data": {"decision": "fly"}})
    body = problem_of(bad, 422)
    assert body["errors"] and body["errors"][0]["field"]
    done = api("POST", f"/api/v1/tasks/{sign}/complete", key, json={"data": {"decision": "sign_for"}})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert [t["task"] for t in done.get_json()["tasks"]] == ["handle"]
    problem_of(api("POST", f"/api/v1/tasks/{sign}/complete", key, json={"data": {"decision": "sign_for"}}), 409)
    other = driver.task(theirs, "sign_for")["id"]
    problem_of(api("POST", f"/api/v1/tasks/{other}/complete", key, json={"data": {"decision": "sign_for"}}), 403)
    row = [r for r in __import__("tests.conftest", fromlist=["audit_rows"]).audit_rows(core, number, "complete")
           if r.task_bpmn_id == "sign_for"][0]
    assert row.actor == "api-chengguan-sys" and row.source == "api:chengguan-sys"
    # The department's people hear of their new tasks; its system account's bell stays empty.
    from sqlalchemy import func, select
    from app.auth.models import User
    from app.notifications.models import Notification
    with core.db.read() as session:
        bells = dict(session.execute(select(User.username, func.count(Notification.id))
                                     .join(Notification, Notification.user_id == User.id)
                                     .group_by(User.username)).all())
    assert bells.get("handler", 0) > 0 and "api-chengguan-sys" not in bells, bells


def test_supervision_items_of_the_clients_cases(api, core, driver, frozen_clock):
    from datetime import timedelta
    from workflows.clock import utcnow
    key = make_key(core, "chengguan-sys", scopes=("read",), department="chengguan")
    number = driver.register()
    driver.dispatch(number, department="chengguan")
    frozen_clock.move_to(utcnow() + timedelta(days=10))
    driver.fire()
    items = api("GET", "/api/v1/supervision", key).get_json()
    assert items and {i["case"] for i in items} == {number} and items[0]["tier"] == 1
    per_case = api("GET", f"/api/v1/cases/{number}/supervision", key).get_json()
    assert [i["tier"] for i in per_case][:1] == [1]
    other = make_key(core, "other-sys", scopes=("read",), department="community_building")
    assert api("GET", "/api/v1/supervision", other).get_json() == []
    problem_of(api("GET", "/api/v1/supervision?status=nope", key), 422)
