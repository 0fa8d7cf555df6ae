"""API client systems and keys: registered by admins, shown once, stored hashed, scoped."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.api.ingest import upsert_external
from app.api.keys import InvalidKey, authenticate_api_key, create_key, hash_key, register_client, revoke_key
from app.api.models import ApiKey
from app.cases.models import AuditEntry, Case
from app.errors import Conflict, Forbidden, Invalid
from tests.test_cli import run


def make_client(core, name="platform", scopes=("intake", "read"), department=None) -> str:
    with core.db.unit_of_work() as session:
        register_client(session, name, list(scopes), actor="admin", department=department)
        return create_key(session, name, actor="admin")


def test_a_key_authenticates_its_client_for_its_scopes_only(core):
    raw = make_client(core)
    with core.db.read() as session:
        assert authenticate_api_key(session, raw, "intake").name == "platform"
        assert authenticate_api_key(session, raw, "read").name == "platform"
        with pytest.raises(Forbidden, match="tasks"):
            authenticate_api_key(session, raw, "tasks")
        for bad in (None, "", "nonsense", raw[:-1] + ("A" if raw[-1] != "A" else "B")):
            with pytest.raises(InvalidKey):
                authenticate_api_key(session, bad, "read")
    with core.db.unit_of_work() as session:
        revoke_key(session, raw.split("_")[1], actor="admin")
    with core.db.read() as session:
        with pytest.raises(InvalidKey):
            authenticate_api_key(session, raw, "read")


def test_the_key_is_stored_only_as_a_hash(core):
    raw = make_client(core)
    with core.db.read() as session:
        key = session.scalars(select(ApiKey)).one()
        assert key.key_hash == hash_key(raw) and raw not in key.key_hash
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(["api_key_create", "api_client_add"])))
        assert all(raw not in repr(r.changes) for r in rows)


def test_bad_clients_are_refused_with_the_field(core):
    with core.db.unit_of_work() as session:
        with pytest.raises(Invalid) as exc:
            register_client(session, "X Y", ["intake", "fly"], actor="admin")
        fields = dict(exc.value.fields)
        assert "name" in fields and "scopes" in fields
        with pytest.raises(Invalid) as exc:
            register_client(session, "chengguan-sys", ["tasks"], actor="admin")
        assert dict(exc.value.fields).keys() == {"department"}
        with pytest.raises(Invalid):
            register_client(session, "x2", ["read"], actor="admin", department="nowhere")
        for own_feed in ("opinion", "open311"):  # the external_source of Bihuan's own feeds
            with pytest.raises(Invalid) as exc:
                register_client(session, own_feed, ["intake"], actor="admin")
            assert "reserved" in dict(exc.value.fields)["name"]


def test_the_cli_prints_a_key_once_and_never_again(core, database_url):
    added = run("api", "client", "add", "platform", "--scopes", "intake,read", url=database_url)
    assert added["client"] == "platform" and added["scopes"] == ["intake", "read"]
    created = run("api", "key", "create", "platform", url=database_url)
    raw = created["key"]
    assert raw.startswith("bh_") and created["prefix"] in raw
    listing = run("api", "client", "list", url=database_url)
    text = repr(listing)
    assert raw not in text and raw.split("_", 2)[2] not in text and created["prefix"] in text
    with core.db.read() as session:
        assert authenticate_api_key(session, raw, "intake").name == "platform"
    error = run("api", "client", "add", "Bad Name", "--scopes", "intake", url=database_url, expect_ok=False)
    assert error.startswith("error:") and "name" in error
    error = run("api", "key", "create", "nobody", url=database_url, expect_ok=False)
    assert "unknown API client" in error


def test_an_order_is_registered_once_and_updated_after(core):
    make_client(core)
    fields = {"channel": "platform", "type": "投诉", "text": "路灯不亮", "address": "幸福路 1 号"}
    number, created = upsert_external(core, source="platform", external_id="12345-001", user="api-platform",
                                      fields=fields, audit_source="api:platform")
    assert created
    again, created = upsert_external(core, source="platform", external_id="12345-001", user="api-platform",
                                     fields={**fields, "text": "路灯不亮，已三天"}, audit_source="api:platform")
    assert again == number and not created
    with core.db.read() as session:
        cases = session.scalars(select(Case).where(Case.external_id == "12345-001")).all()
        assert len(cases) == 1 and cases[0].text == "路灯不亮，已三天" and cases[0].external_source == "platform"
        update = session.scalars(select(AuditEntry).where(AuditEntry.action == "external_update")).one()
        assert update.source == "api:platform" and update.changes["text"][1] == "路灯不亮，已三天"
    with pytest.raises(Conflict, match="type"):
        upsert_external(core, source="platform", external_id="12345-001", user="api-platform",
                        fields={**fields, "type": "建议"}, audit_source="api:platform")
    # Another source may use the same order number: a different case.
    other, created = upsert_external(core, source="other", external_id="12345-001", user="api-platform",
                                     fields=fields, audit_source="api:platform")
    assert created and other != number


def test_admins_register_clients_and_see_a_new_key_once(login):
    admin = login("admin")
    page = admin.post("/admin/api-clients/", data={"name": "platform", "scopes": ["intake", "read"],
                                                   "department": "", "description": "12345 平台"})
    assert page.status_code == 302
    bad = admin.post("/admin/api-clients/", data={"name": "Bad Name", "scopes": ["fly"]})
    assert bad.status_code == 400 and "field-error" in bad.get_data(as_text=True)
    shown = admin.post("/admin/api-clients/platform/keys")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    raw = html.split('id="shown-value">')[1].split("<")[0]
    assert raw.startswith("bh_")
    later = admin.get("/admin/api-clients/").get_data(as_text=True)
    assert raw not in later and raw.split("_", 2)[2] not in later and raw.split("_")[1] in later
    assert login("operator").get("/admin/api-clients/").status_code == 403
    secret_page = admin.post("/admin/api-clients/platform/webhook",
                             data={"url": "http://127.0.0.1:9/hook", "events": ["case.closed"]})
    secret = secret_page.get_data(as_text=True).split('id="shown-value">')[1].split("<")[0]
    assert secret.startswith("whsec_")
    assert secret not in admin.get("/admin/api-clients/").get_data(as_text=True)


@pytest.mark.parametrize("user", ["admin", "designer", "operator", "dispatcher", "handler", "center", "grid",
                                  "viewer", None])
def test_only_admins_open_the_client_pages(login, user):
    response = login(user).get("/admin/api-clients/")
    assert response.status_code == {"admin": 200, None: 302}.get(user, 403)
    assert login(user).post("/admin/api-clients/", data={"name": "x1", "scopes": ["read"]}).status_code == \
        {"admin": 302, None: 302}.get(user, 403)


def test_the_docs_page_uses_the_vendored_swagger_ui_without_inline_script(login):
    page = login(None).get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "js/api_docs.js" in html and "cdn" not in html.lower()
    assert "script-src 'self' 'nonce-" in page.headers["Content-Security-Policy"]
    import re
    inline = [m for m in re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html) if "nonce=" not in m]
    assert inline == []
