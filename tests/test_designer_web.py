"""The process designer's pages through the real app: access, saving with revisions, deploying,
and uploads that must never become a 500 however hostile they are."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app import create_app
from tests.conftest import deploy_variant

LIFECYCLE = "case_lifecycle.bpmn"
DEADLINES = "rules/deadlines.dmn"
DISPATCH_FORM = "forms/dispatch.schema.json"
COMPLAINT_RULE = '<outputEntry id="deadlines_rule_9_days"><text>15</text></outputEntry>'
FOREIGN = Path(__file__).parent / "fixtures" / "foreign_bpmn"
OTHER_USERS = ("admin", "operator", "dispatcher", "handler", "handler2", "center", "discipline", "party", "grid",
               "viewer")


def editor_config(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    match = re.search(r'<script type="application/json" id="designer-config">(.*?)</script>', html, re.S)
    assert match, "the editor page carries its config"
    return json.loads(match.group(1))


def save(client, path: str, text: str, base_revision):
    return client.post(f"/designer/draft/{path}", json={"text": text, "base_revision": base_revision},
                       headers={"Accept": "application/json"})


def draft_text(client, path: str) -> str:
    response = client.get(f"/designer/export/{path}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# -- access ----------------------------------------------------------------------------------------
@pytest.fixture
def two_versions(core):
    return deploy_variant(core, DEADLINES, COMPLAINT_RULE, COMPLAINT_RULE.replace(">15<", ">10<"))


PAGES = ["/designer", f"/designer/bpmn/{LIFECYCLE}", f"/designer/dmn/{DEADLINES}", f"/designer/form/{DISPATCH_FORM}",
         "/designer/validate", "/designer/validate?format=json", "/designer/diff", "/designer/diff?a=1&b=2",
         "/designer/migrate", f"/designer/export/{DEADLINES}", f"/designer/export/{DEADLINES}?version=1"]


def test_every_page_opens_for_the_designer(login, two_versions):
    client = login("designer")
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    library = client.get("/designer").get_data(as_text=True)
    for path in (LIFECYCLE, "supervision_escalation.bpmn", DEADLINES, DISPATCH_FORM):
        assert path in library
    assert "办理时限（工作日）" in library and "已发布版本" in library


@pytest.mark.parametrize("username", OTHER_USERS)
def test_every_other_role_gets_a_403(login, two_versions, username):
    client = login(username)
    for url in PAGES + ["/designer/migrate?from=1&to=2"]:
        assert client.get(url).status_code == 403, (username, url)
    posts = [("/designer/deploy", {"note": "x", "expected_revision": "1"}), ("/designer/discard", {}),
             ("/designer/migrate", {"from": "1", "to": "2", "case_numbers": "HD-20260101-0001"})]
    for url, data in posts:
        assert client.post(url, data=data).status_code == 403, (username, url)
    assert save(client, DEADLINES, "<x/>", 1).status_code == 403
    assert client.post("/designer/form-preview", json={"text": "{}"}).status_code == 403
    upload = {"file": (FakeFile(b"<definitions/>"), "x.dmn")}
    assert client.post("/designer/import", data=upload, content_type="multipart/form-data").status_code == 403


def test_anonymous_visitors_are_sent_to_login(login):
    client = login(None)
    for url in ("/designer", f"/designer/bpmn/{LIFECYCLE}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location
    assert client.post("/designer/deploy", data={}).status_code in (302, 401)


def test_the_library_is_in_the_designers_navigation(login):
    page = login("designer").get("/designer").get_data(as_text=True)
    assert 'href="/designer"' in page and "流程管理" in page


# -- saving the draft --------------------------------------------------------------------------------
def test_a_stale_save_is_a_409_and_the_first_save_stays(login):
    alice = login("designer")
    config = editor_config(alice, f"/designer/dmn/{DEADLINES}")
    start = config["revision"]
    original = config["text"]
    first = original.replace(COMPLAINT_RULE, COMPLAINT_RULE.replace(">15<", ">10<"))
    assert first != original
    response = save(alice, DEADLINES, first, start)
    assert response.status_code == 200
    assert response.get_json()["revision"] == start + 1

    # a second designer who opened the table at the same revision saves later
    stale = save(login("designer"), DEADLINES, original.replace(">15<", ">12<"), start)
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["error"] == "conflict" and "designer" in body["message"] and "修改" in body["message"]
    assert draft_text(alice, DEADLINES) == first

    again = save(alice, DEADLINES, first.replace(">10<", ">9<", 1), start + 1)
    assert again.status_code == 200 and again.get_json()["revision"] == start + 2


def test_saving_needs_json_with_text_and_a_revision(login):
    client = login("designer")
    config = editor_config(client, f"/designer/bpmn/{LIFECYCLE}")
    assert client.post(f"/designer/draft/{LIFECYCLE}", data="nope",
                       headers={"Accept": "application/json"}).status_code == 400
    missing = client.post(f"/designer/draft/{LIFECYCLE}", json={"text": config["text"]},
                          headers={"Accept": "application/json"})
    assert missing.status_code == 400 and missing.get_json()["message"]
    for bad_path in ("../../etc/passwd.bpmn", "rules/x.txt", "forms/x.bpmn", "a%5Cb.bpmn", ".hidden.bpmn"):
        assert save(client, bad_path, "x", config["revision"]).status_code in (400, 404), bad_path


def test_a_form_must_be_a_json_schema_to_be_saved(login):
    client = login("designer")
    config = editor_config(client, f"/designer/form/{DISPATCH_FORM}")
    broken = save(client, DISPATCH_FORM, '{"type": "object", ', config["revision"])
    assert broken.status_code == 400 and "JSON" in broken.get_json()["message"]
    not_schema = save(client, DISPATCH_FORM, '{"type": 5}', config["revision"])
    assert not_schema.status_code == 400 and "JSON Schema" in not_schema.get_json()["message"]
    assert draft_text(client, DISPATCH_FORM) == config["text"]
    schema = json.loads(config["text"])
    schema["properties"]["note"]["title"] = "办理备注"
    ok = save(client, DISPATCH_FORM, json.dumps(schema, ensure_ascii=False, indent=2), config["revision"])
    assert ok.status_code == 200


def test_the_form_preview_shows_the_fields_as_caseworkers_see_them(login):
    client = login("designer")
    schema = {"type": "object", "additionalProperties": False, "required": ["decision"], "properties": {
        "decision": {"type": "string", "title": "处理方式", "enum": ["a", "b"], "enumNames": ["派单", "退回"]},
        "remark": {"type": "string", "title": "<script>alert(1)</script>备注", "maxLength": 500}}}
    response = client.post("/designer/form-preview", json={"text": json.dumps(schema)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "处理方式" in html and "派单" in html and "退回" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    bad = client.post("/designer/form-preview", json={"text": "[1, 2"})
    assert bad.status_code == 400 and "JSON" in bad.get_data(as_text=True)
    page = client.get(f"/designer/form/{DISPATCH_FORM}").get_data(as_text=True)
    assert "预览" in page and "重复件原工单号" in page


def test_json_saves_need_the_csrf_header_when_csrf_is_on(core):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, core=core)
    client = app.test_client()
    token = client.get("/login").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"username": "designer", "password": "bihuan123", "csrf_token": token})
    config = editor_config(client, f"/designer/dmn/{DEADLINES}")
    page = client.get("/designer").get_data(as_text=True)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    without = client.post(f"/designer/draft/{DEADLINES}", json={"text": config["text"], "base_revision": 1},
                          headers={"Accept": "application/json"})
    assert without.status_code == 400 and without.get_json()["error"] == "csrf"
    with_header = client.post(f"/designer/draft/{DEADLINES}",
                              json={"text": config["text"], "base_revision": config["revision"]},
                              headers={"Accept": "application/json", "X-CSRFToken": meta})
    assert with_header.status_code == 200


def test_editor_paths_that_are_not_model_files_are_404(login):
    client = login("designer")
    for url in (f"/designer/bpmn/{DEADLINES}", "/designer/bpmn/nope.bpmn", "/designer/dmn/../../etc/passwd",
                "/designer/form/forms/nope.schema.json", "/designer/bpmn/%2e%2e/app.bpmn"):
        assert client.get(url).status_code == 404, url


# -- validate and deploy -----------------------------------------------------------------------------
def test_validate_lists_problems_with_links_to_the_element(login):
    client = login("designer")
    config = editor_config(client, f"/designer/bpmn/{LIFECYCLE}")
    broken = config["text"].replace('value="dispatch.schema.json"', 'value="missing.schema.json"')
    assert save(client, LIFECYCLE, broken, config["revision"]).status_code == 200
    problems = client.get("/designer/validate?format=json").get_json()["problems"]
    dispatch = [p for p in problems if p["element_id"] == "dispatch"]
    assert dispatch and "missing.schema.json" in dispatch[0]["message"]
    assert dispatch[0]["file"] == LIFECYCLE and dispatch[0]["url"].endswith("select=dispatch")
    page = client.get("/designer/validate").get_data(as_text=True)
    assert 'data-element-id="dispatch"' in page and "missing.schema.json" in page


def test_validate_speaks_the_designers_language(login):
    client = login("designer")
    config = editor_config(client, f"/designer/bpmn/{LIFECYCLE}")
    broken = config["text"].replace('value="dispatch.schema.json"', 'value="missing.schema.json"')
    assert save(client, LIFECYCLE, broken, config["revision"]).status_code == 200

    def dispatch_problem():
        problems = client.get("/designer/validate?format=json").get_json()["problems"]
        found = [p for p in problems if p["element_id"] == "dispatch" and p["code"] == "form_missing"]
        assert len(found) == 1, problems
        return found[0]

    chinese = dispatch_problem()
    assert chinese["message"] == "表单 missing.schema.json 不存在"
    assert chinese["file"] == LIFECYCLE and chinese["element_name"] and chinese["severity"] == "error"
    assert "表单 missing.schema.json 不存在" in client.get("/designer/validate").get_data(as_text=True)

    client.get("/lang/en")
    english = dispatch_problem()
    assert english["message"] == "Form missing.schema.json does not exist"
    # the element's name reads in English too (the catalog's, or the draft's own 标签翻译)
    assert chinese["element_name"] == "派单/转办" and english["element_name"] == "Dispatch / transfer"
    assert {k: v for k, v in english.items() if k not in ("message", "element_name")} == {
        k: v for k, v in chinese.items() if k not in ("message", "element_name")}
    page = client.get("/designer/validate").get_data(as_text=True)
    assert "Form missing.schema.json does not exist" in page and "表单 missing.schema.json 不存在" not in page


def test_deploying_an_invalid_draft_lists_the_problems_and_deploys_nothing(login):
    client = login("designer")
    config = editor_config(client, f"/designer/bpmn/{LIFECYCLE}")
    broken = config["text"].replace('value="dispatch.schema.json"', 'value="missing.schema.json"')
    broken = broken.replace('decision == "refuse"', 'decision ==', 1)
    revision = save(client, LIFECYCLE, broken, config["revision"]).get_json()["revision"]
    response = client.post("/designer/deploy", data={"note": "坏的", "expected_revision": revision})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "无法发布" in page
    assert 'data-element-id="dispatch"' in page and 'data-element-id="dispatch_decision"' in page
    assert "missing.schema.json" in page
    library = client.get("/designer").get_data(as_text=True)
    assert "坏的" not in library


def test_deploying_a_valid_draft_makes_the_next_version(login, core):
    client = login("designer")
    config = editor_config(client, f"/designer/dmn/{DEADLINES}")
    changed = config["text"].replace(COMPLAINT_RULE, COMPLAINT_RULE.replace(">15<", ">10<"))
    revision = save(client, DEADLINES, changed, config["revision"]).get_json()["revision"]

    stale = client.post("/designer/deploy", data={"note": "x", "expected_revision": revision - 1})
    assert stale.status_code == 409 and "修改" in stale.get_data(as_text=True)

    response = client.post("/designer/deploy", data={"note": "投诉时限 10 天", "expected_revision": revision})
    assert response.status_code == 302
    library = client.get("/designer").get_data(as_text=True)
    assert "已部署为版本 2" in library and "投诉时限 10 天" in library
    assert f"/designer/export/{DEADLINES}?version=2" in library
    assert ">10<" in client.get(f"/designer/export/{DEADLINES}?version=2").get_data(as_text=True)
    # deploying the same draft again changes nothing and says so
    current = re.search(r'id="draft-state" data-revision="(\d+)"', library).group(1)
    again = client.post("/designer/deploy", data={"note": "", "expected_revision": current})
    assert again.status_code == 400 and "版本 2" in again.get_data(as_text=True)


def test_discarding_the_draft_starts_again_from_the_latest_version(login):
    client = login("designer")
    config = editor_config(client, f"/designer/dmn/{DEADLINES}")
    changed = config["text"].replace(COMPLAINT_RULE, COMPLAINT_RULE.replace(">15<", ">11<"))
    revision = save(client, DEADLINES, changed, config["revision"]).get_json()["revision"]
    assert client.post("/designer/discard", data={"expected_revision": revision}).status_code == 302
    assert ">11<" not in draft_text(client, DEADLINES)


# -- diff, migrate, export ---------------------------------------------------------------------------
def test_diff_between_versions_names_the_changed_rule(login, two_versions):
    client = login("designer")
    page = client.get(f"/designer/diff?a=1&b={two_versions}").get_data(as_text=True)
    assert "deadlines" in page and "diff-table" in page
    assert client.get("/designer/diff?a=1&b=99").status_code == 404
    assert client.get("/designer/diff?a=x&b=1").status_code == 400
    assert client.get("/designer/diff?a=1").status_code == 400


def test_migrate_parameters_are_checked(login, two_versions):
    client = login("designer")
    assert client.get("/designer/migrate?from=abc&to=2").status_code == 400
    assert client.get("/designer/migrate?from=1&to=1").status_code == 400
    assert client.get("/designer/migrate?from=7&to=2").status_code == 404
    assert client.post("/designer/migrate", data={"from": "1", "to": "2"}).status_code == 400


def test_export_is_an_attachment_of_the_draft_or_a_version(login, two_versions):
    client = login("designer")
    response = client.get(f"/designer/export/{DEADLINES}?version=1")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "deadlines-v1.dmn" in response.headers["Content-Disposition"]
    assert ">15<" in response.get_data(as_text=True)
    assert client.get(f"/designer/export/{DEADLINES}?version=99").status_code == 404
    assert client.get(f"/designer/export/{DEADLINES}?version=-1").status_code == 400
    assert client.get("/designer/export/nope.bpmn").status_code == 404
    assert client.get("/designer/export/../../etc/passwd").status_code in (400, 404)


# -- uploads -------------------------------------------------------------------------------------------
class FakeFile:
    """A file-like body for the test client that does not need a real file on disk."""

    def __init__(self, data: bytes):
        from io import BytesIO
        self._io = BytesIO(data)

    def read(self, *args):
        return self._io.read(*args)


def upload(client, name: str, data: bytes, base_revision=""):
    return client.post("/designer/import", data={"file": (FakeFile(data), name), "base_revision": str(base_revision)},
                       content_type="multipart/form-data")


HOSTILE = {
    "xxe.bpmn": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
                b'<bpmn:process id="p" name="&x;"/></bpmn:definitions>',
    "laughs.bpmn": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                   b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                   b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                   b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol3;'
                   b'</bpmn:definitions>',
    "truncated.bpmn": b'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/'
                      b'MODEL" id="d"><bpmn:process id="p"><bpmn:startEvent id="s"',
    "html.bpmn": b"<html><body>not a diagram</body></html>",
    "empty.dmn": b"",
    "binary.bpmn": bytes(range(256)) * 4,
    "latin1.dmn": "<definitions>caf\xe9</definitions>".encode("latin-1"),
    "array.json": b"[1, 2, 3]",
    "deep.json": b"[" * 100000 + b"]" * 100000,
    "broken.json": b'{"type": "object",',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_uploads_are_refused_with_a_message_never_a_500(login, name):
    client = login("designer")
    before = client.get("/designer").get_data(as_text=True)
    response = upload(client, name, HOSTILE[name])
    assert response.status_code == 400, (name, response.status_code)
    page = response.get_data(as_text=True)
    assert "root:" not in page
    assert re.search(r'<p class="error-message">\s*\S', page), "the page says what is wrong"
    assert client.get("/designer").get_data(as_text=True).count("<tr data-path=") == \
        before.count("<tr data-path=")


def test_uploads_need_a_known_extension_and_a_file(login):
    client = login("designer")
    response = upload(client, "evil.exe", b"MZ\x90\x00")
    assert response.status_code == 400 and ".bpmn" in response.get_data(as_text=True)
    assert upload(client, "notes.txt", b"hello").status_code == 400
    assert client.post("/designer/import", data={}, content_type="multipart/form-data").status_code == 400


def test_uploads_over_50_mb_are_refused_with_a_413(login):
    client = login("designer")
    big = upload(client, "big.bpmn", b" " * (50 * 1024 * 1024 + 10))
    assert big.status_code == 413 and "50 MB" in big.get_data(as_text=True)
    huge = upload(client, "huge.bpmn", b" " * (61 * 1024 * 1024))
    assert huge.status_code == 413


def test_a_foreign_but_sound_diagram_is_imported_into_the_draft(login):
    client = login("designer")
    exported = client.get("/designer/export/supervision_escalation.bpmn").get_data()
    response = upload(client, "supervision_escalation.bpmn", exported.replace(b'name="', b'name="(imported) ', 1))
    assert response.status_code in (200, 302)
    assert "(imported)" in draft_text(client, "supervision_escalation.bpmn")


def test_an_import_against_a_stale_draft_conflicts(login):
    client = login("designer")
    config = editor_config(client, f"/designer/dmn/{DEADLINES}")
    save(client, DEADLINES, config["text"].replace(">15<", ">14<", 1), config["revision"])
    exported = client.get(f"/designer/export/{DEADLINES}").get_data()
    response = upload(client, "deadlines.dmn", exported, base_revision=config["revision"])
    assert response.status_code == 409


def _foreign_files():
    return sorted(p for p in FOREIGN.glob("*") if p.is_file()) if FOREIGN.is_dir() else []


@pytest.mark.parametrize("path", _foreign_files(), ids=lambda p: p.name)
def test_every_foreign_fixture_upload_is_handled_never_a_500(login, path):
    client = login("designer")
    name = path.name if path.suffix in (".bpmn", ".dmn", ".json") else path.name + ".bpmn"
    response = upload(client, name, path.read_bytes())
    assert response.status_code in (200, 302, 400, 409, 413), (path.name, response.status_code)
    if response.status_code == 400:
        assert re.search(r'<p class="error-message">\s*\S', response.get_data(as_text=True))


def test_migrate_dry_run_then_move_the_chosen_cases(login, driver, core):
    moving = driver.register(text="路灯不亮")
    driver.dispatch(moving)
    staying = driver.register(text="噪音扰民")
    version = deploy_variant(core, DEADLINES, COMPLAINT_RULE, COMPLAINT_RULE.replace(">15<", ">10<"))
    client = login("designer")

    library = client.get("/designer").get_data(as_text=True)
    assert f"/designer/migrate?from=1&amp;to={version}" in library

    plan = client.get(f"/designer/migrate?from=1&to={version}").get_data(as_text=True)
    assert f'data-case="{moving}"' in plan and f'data-case="{staying}"' in plan
    assert f'name="case_numbers" value="{moving}"' in plan

    response = client.post("/designer/migrate", data={"from": "1", "to": str(version), "case_numbers": [moving]})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert moving in page and "已迁移" in page and staying not in page
    counts = dict(re.findall(r'<tr data-version="(\d+)">.*?<td class="open-cases">(\d+)</td>',
                             client.get("/designer").get_data(as_text=True), re.S))
    assert counts == {"1": "1", str(version): "1"}


def test_the_draft_diff_lists_changed_elements_and_offers_both_diagrams(login):
    client = login("designer")
    assert "没有差异" in client.get("/designer/diff").get_data(as_text=True)
    config = editor_config(client, f"/designer/bpmn/{LIFECYCLE}")
    changed = config["text"].replace('name="派单/转办"', 'name="派单"', 1)
    assert save(client, LIFECYCLE, changed, config["revision"]).status_code == 200
    page = client.get("/designer/diff").get_data(as_text=True)
    assert '<tr class="change-changed" data-element-id="dispatch">' in page
    assert f"/designer/bpmn/{LIFECYCLE}?select=dispatch" in page
    diagrams = json.loads(re.search(r'<script type="application/json" id="diff-config">(.*?)</script>',
                                    page, re.S).group(1))
    assert diagrams[0]["path"] == LIFECYCLE and diagrams[0]["changes"] == {"dispatch": "changed"}
    assert 'name="派单/转办"' in diagrams[0]["old"] and 'name="派单"' in diagrams[0]["new"]


def test_every_browser_text_is_listed_for_translation():
    from app.designer.messages import JS_TEXTS
    root = Path(__file__).resolve().parents[1]
    scripts = [*(root / "app" / "static" / "js" / "designer").glob("*.js"),
               *(root / "assets" / "designer").rglob("*.js")]  # the modeler bundle's sources
    used = set()
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        used.update(re.findall(r"\bT\('((?:[^'\\\n]|\\.)*)'", source))
        # a Chinese literal outside T() would stay Chinese in the English UI
        outside = [s for s in re.findall(r"(?<!T\()'([^'\n]*[\u4e00-\u9fff][^'\n]*)'", source)]
        if script.name != "translate.js":
            assert not outside, (script.name, outside[:3])
    assert used and used <= set(JS_TEXTS), sorted(used - set(JS_TEXTS))


def test_the_bpmn_editor_loads_the_modeler_bundle_and_the_lists_for_its_panel(login):
    client = login("designer")
    page = client.get(f"/designer/bpmn/{LIFECYCLE}").get_data(as_text=True)
    assert "vendor/bihuan-modeler/bihuan-modeler.js" in page and "vendor/bihuan-modeler/bihuan-modeler.css" in page
    assert "properties.js" not in page and "bpmn-modeler" not in page
    config = editor_config(client, f"/designer/bpmn/{LIFECYCLE}")
    assert {"case_lifecycle", "supervision_escalation", "volunteer_redemption"} <= set(config["processes"])
    assert "routing" in config["decisions"] and "dispatch.schema.json" in config["forms"]
    assert ["leader", "分管领导（批示督办）"] in config["roles"]


def test_editor_pages_carry_the_browser_texts_in_english_too(login):
    client = login("designer")
    client.get("/lang/en")
    page = client.get(f"/designer/bpmn/{LIFECYCLE}").get_data(as_text=True)
    assert 'lang="en"' in page and 'id="designer-messages"' in page and "js/designer/text.js" in page


@pytest.mark.parametrize("text", [
    "[" * 50000 + "]" * 50000,
    '{"properties": [1, 2]}',
    '{"type": "object", "properties": {"a": 5, "b": {"enum": "x"}, "c": {"type": ["null"]}}}',
    '{"type": "object", "required": "a", "properties": {"a": {"type": "string", "maxLength": "9"}}}',
    '{"$ref": "#/$defs/x", "$defs": {"x": {"$ref": "#/$defs/x"}}}',
    '"just a string"',
    "",
])
def test_odd_schemas_in_the_preview_and_on_save_are_never_a_500(login, text):
    client = login("designer")
    response = client.post("/designer/form-preview", json={"text": text})
    assert response.status_code in (200, 400), response.status_code
    config = editor_config(client, f"/designer/form/{DISPATCH_FORM}")
    saved = save(client, DISPATCH_FORM, text, config["revision"])
    assert saved.status_code in (200, 400) and saved.get_json()


def test_a_form_larger_than_the_model_limit_is_refused(login):
    client = login("designer")
    config = editor_config(client, f"/designer/form/{DISPATCH_FORM}")
    huge = '{"type": "object", "description": "' + "x" * (6 * 1024 * 1024) + '"}'
    response = save(client, DISPATCH_FORM, huge, config["revision"])
    assert response.status_code == 400 and "MB" in response.get_json()["message"]


def test_an_expired_session_gets_a_json_401_from_the_editor_endpoints(login):
    client = login(None)
    response = save(client, DEADLINES, "<x/>", 1)
    assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"
    assert client.get("/designer/validate?format=json", headers={"Accept": "application/json"}).status_code == 401


def test_the_designer_views_module_is_the_whole_blueprint():
    """``from app.designer.views import bp`` alone (a fresh interpreter, nothing else imported) gives
    every designer route, and the module's docstring lists exactly those endpoints."""
    import subprocess
    import sys

    from app.designer import views

    code = ("import json; from flask import Flask; from app.designer.views import bp; app = Flask('t'); "
            "app.register_blueprint(bp); print(json.dumps(sorted({r.endpoint for r in app.url_map.iter_rules() "
            "if r.endpoint.startswith('designer.')})))")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert result.returncode == 0, result.stderr
    documented = sorted(set(re.findall(r"\bdesigner\.\w+", views.__doc__)))
    assert json.loads(result.stdout) == documented
    assert len(documented) == 15
    elsewhere = [p.name for p in (root / "app" / "designer").glob("*.py") if p.name != "views.py"
                 and re.search(r"\bBlueprint\(|@bp\.|\bimport bp\b", p.read_text(encoding="utf-8"))]
    assert not elsewhere, f"designer routes belong in app/designer/views.py: {elsewhere}"
