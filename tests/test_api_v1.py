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
        assert len(calls) == 4 and {c.source for c in calls} == {"api:platform"}


def test_openapi_document_is_3_1(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0" and "/api/v1/cases" in doc["paths"]
