"""标签翻译: a designer's own labels get their English in the draft, deployed and versioned with the
bundle (labels.en.json), and English pages use it: the worklist, the task page and its form, the
case history and the diagram; Chinese pages show the labels as written; an old version keeps its own."""
from __future__ import annotations

import html
import json
import re

import pytest
from werkzeug.datastructures import MultiDict

from app import create_app
from app.processes import labels as labels_module
from app.processes.services import SHIPPED_BUNDLE
from workflows.bundle import read_directory
from workflows.reading import LABELS_FILE
from workflows.validation import analyze

LIFECYCLE = "case_lifecycle.bpmn"
SIGN_FORM = "forms/sign_for.schema.json"
SHIPPED_TASK = '<bpmn:userTask id="sign_for" name="签收">'
CJK = re.compile(r"[\u4e00-\u9fff]")


def editor_config(client, url: str) -> dict:
    page = client.get(url).get_data(as_text=True)
    return json.loads(re.search(r'<script type="application/json" id="designer-config">(.*?)</script>', page,
                                re.S).group(1))


def save_file(client, path: str, old: str, new: str) -> int:
    """Edit one draft file as the editors do (load, change, save with the revision); the new revision."""
    config = editor_config(client, f"/designer/{'form' if path.startswith('forms/') else 'bpmn'}/{path}")
    assert old in config["text"]
    response = client.post(f"/designer/draft/{path}", json={"text": config["text"].replace(old, new, 1),
                                                             "base_revision": config["revision"]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["revision"]


def label_rows(client) -> tuple[dict[str, str], str]:
    """The 标签翻译 page as {Chinese: English prefilled} and the revision it was shown at."""
    response = client.get("/designer/labels")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    texts = [html.unescape(t) for t in re.findall(r'name="zh" value="([^"]*)"', page)]
    english = [html.unescape(t) for t in re.findall(r'name="en" value="([^"]*)"', page)]
    assert len(texts) == len(english) and texts
    return dict(zip(texts, english)), re.search(r'name="base_revision" value="(\d+)"', page).group(1)


def post_labels(client, rows: dict[str, str], revision):
    data = MultiDict([("base_revision", revision)] + [item for text, value in rows.items()
                                                      for item in (("zh", text), ("en", value))])
    return client.post("/designer/labels", data=data)


def deploy(client) -> None:
    revision = label_rows(client)[1]
    response = client.post("/designer/deploy", data={"note": "labels", "expected_revision": revision})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def english(login, user):
    client = login(user)
    client.get("/lang/en")
    return client


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


# -- the bundle file ---------------------------------------------------------------------------------
def test_the_labels_file_is_part_of_the_bundle_and_checked(tmp_path):
    files = read_directory(SHIPPED_BUNDLE)
    assert LABELS_FILE not in files  # the shipped names are the catalog's
    (tmp_path / LABELS_FILE).write_text('{"签收": "Take over"}', encoding="utf-8")
    (tmp_path / LIFECYCLE).write_bytes(files[LIFECYCLE])
    assert set(read_directory(tmp_path)) == {LABELS_FILE, LIFECYCLE}  # `bihuan deploy DIR` carries it
    plain, _problems = analyze(files)
    assert plain.labels == {}
    with_labels = {**files, LABELS_FILE: json.dumps({"签收": "Take over"}, ensure_ascii=False).encode()}
    bundle, problems = analyze(with_labels)
    assert bundle is not None and bundle.labels == {"签收": "Take over"}
    assert bundle.content_hash != plain.content_hash  # a translation is a change of the version
    for bad in (b"[1]", b'{"a": 1}', b'{"a": {"b": "c"}}', json.dumps({"签收": "x" * 201}).encode(), b"{",
                b"\xff"):
        built, problems = analyze({**files, LABELS_FILE: bad})
        assert built is None and [p.file for p in problems if p.severity == "error"] == [LABELS_FILE], bad


def test_the_draft_lists_every_label_once_with_where_it_is_written():
    files = {path: data.decode() for path, data in
             read_directory(SHIPPED_BUNDLE).items()}
    found = {label.text: label for label in labels_module.draft_labels(files)}
    places = found["签收"].places
    assert (LIFECYCLE, "sign_for", "userTask") in places and (SIGN_FORM, "", "form_title") in places
    assert any(kind == "lane" for _f, _e, kind in found["指挥中心"].places)
    assert "sign_for" not in found  # identifiers are not labels


# -- the whole way: draft, deploy, pages ------------------------------------------------------------
@pytest.fixture
def renamed(login, driver):
    """A designer renames 签收, retitles its form, gives both English and deploys; a case waits there."""
    designer = login("designer")
    save_file(designer, LIFECYCLE, SHIPPED_TASK, SHIPPED_TASK.replace("签收", "签收确认"))
    save_file(designer, SIGN_FORM, '"title": "签收"', '"title": "签收确认单"')
    rows, revision = label_rows(designer)
    assert rows["签收确认"] == "" and rows["签收确认单"] == ""  # no catalog knows them
    assert rows["派单/转办"] == "Dispatch / transfer"  # the catalog's English, prefilled
    rows.update({"签收确认": "Confirm receipt", "签收确认单": "Receipt confirmation"})
    response = post_labels(designer, rows, revision)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert "Confirm receipt" in page(designer, "/designer/diff")  # the draft's diff shows the new English
    # only what the catalog does not say
    assert json.loads(_draft_labels(driver)) == {"签收确认": "Confirm receipt", "签收确认单": "Receipt confirmation"}
    deploy(designer)
    number = driver.register(category="城市管理")
    driver.dispatch(number)
    return designer, number


def _draft_labels(driver) -> str:
    from app.processes.drafts import get_draft
    with driver.core.db.read() as session:
        return get_draft(session).files[LABELS_FILE]


def test_a_designers_label_reads_in_english_on_every_page_and_as_written_in_chinese(renamed, login, driver):
    _designer, number = renamed
    handler = english(login, "handler")
    assert ">Confirm receipt</a>" in page(handler, "/tasks")
    task_id = driver.task(number, "sign_for")["id"]
    task = page(handler, f"/tasks/{task_id}")
    heading = re.search(r"<h1>(.*?)<small>", task, re.S).group(1)
    title = re.search(r'<h2 class="form-title">(.*?)</h2>', task, re.S).group(1)
    assert "Confirm receipt" in heading and "Receipt confirmation" in title
    assert not CJK.search(heading) and not CJK.search(title)
    assert "签收确认" not in task
    claimed = handler.post(f"/tasks/{task_id}/claim", data={"next": "/tasks"})
    assert claimed.status_code == 303
    flash = page(handler, "/tasks")
    assert "Confirm receipt" in re.search(r'class="flash[^"]*"[^>]*>(.*?)<', flash, re.S).group(1)
    handler.post(f"/tasks/{task_id}/unclaim", data={"next": "/tasks"})

    chinese = login("handler")
    assert ">签收确认</a>" in page(chinese, "/tasks")
    task = page(chinese, f"/tasks/{task_id}")
    assert "签收确认" in re.search(r"<h1>(.*?)<small>", task, re.S).group(1)
    assert "签收确认单" in task and "Confirm receipt" not in task

    driver.sign(number)
    case = page(english(login, "dispatcher"), f"/cases/{number}")
    assert "Confirm receipt" in case and "签收确认" not in case  # the history names the task
    diagram = json.loads(page(english(login, "dispatcher"), f"/cases/{number}/diagram"))
    assert 'name="Confirm receipt"' in diagram["xml"] and "签收确认" not in diagram["xml"]
    zh = json.loads(page(login("dispatcher"), f"/cases/{number}/diagram"))
    assert 'name="签收确认"' in zh["xml"]


def test_an_old_version_keeps_its_own_labels(renamed, login, driver):
    designer, old_case = renamed
    rows, revision = label_rows(designer)
    assert rows["签收确认"] == "Confirm receipt"  # the draft goes on from what was deployed
    rows["签收确认"] = "Acknowledge"
    assert post_labels(designer, rows, revision).status_code == 302
    deploy(designer)
    new_case = driver.register(category="城市管理")
    driver.dispatch(new_case)
    worklist = page(english(login, "handler"), "/tasks")
    assert worklist.count(">Confirm receipt</a>") == 1 and worklist.count(">Acknowledge</a>") == 1
    for number, name in ((old_case, "Confirm receipt"), (new_case, "Acknowledge")):
        task = page(english(login, "handler"), f"/tasks/{driver.task(number, 'sign_for')['id']}")
        assert name in re.search(r"<h1>(.*?)<small>", task, re.S).group(1), number


# -- refused input ---------------------------------------------------------------------------------
def test_bad_translations_are_refused_with_a_reason_and_nothing_is_saved(login, driver):
    designer = login("designer")
    rows, revision = label_rows(designer)
    cases = [
        ({**rows, "不存在的标签": "Ghost"}, "不存在的标签"),
        ({**rows, "签收": "x" * 201}, "200"),
        ({**rows, "签收": "Sign\nfor"}, "控制字符"),
        ({**rows, "签收": "Sign 签收"}, "中文"),
    ]
    for sent, reason in cases:
        response = post_labels(designer, sent, revision)
        body = response.get_data(as_text=True)
        assert response.status_code == 400 and reason in re.search(r'id="labels-error">(.*?)</div>', body).group(1)
    unpaired = designer.post("/designer/labels", data=MultiDict([("base_revision", revision), ("zh", "签收")]))
    assert unpaired.status_code == 400
    for body in ({"translations": {"签收": 5}, "base_revision": revision},
                 {"translations": {"签收": ["Sign"]}, "base_revision": revision},
                 {"translations": ["签收"], "base_revision": revision},
                 {"translations": {"签收": "Sign"}}):
        response = designer.post("/designer/labels", json=body, headers={"Accept": "application/json"})
        assert response.status_code == 400 and response.get_json()["message"], body
    stale = designer.post("/designer/labels", json={"translations": {"签收": "Sign"}, "base_revision": 0})
    assert stale.status_code == 409
    assert label_rows(designer)[1] == revision  # nothing was saved: the draft is at the same revision
    from app.processes.drafts import get_draft
    with driver.core.db.read() as session:
        assert LABELS_FILE not in get_draft(session).files


def test_only_designers_reach_the_page(login):
    for user in ("handler", "dispatcher", "admin"):
        client = login(user)
        assert client.get("/designer/labels").status_code == 403, user
        assert client.post("/designer/labels", json={"translations": {}, "base_revision": 1}).status_code == 403
    assert "标签翻译" in page(login("designer"), "/designer")


def test_saving_needs_the_csrf_token_when_csrf_is_on(core):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, core=core)
    client = app.test_client()
    token = client.get("/login").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"username": "designer", "password": "bihuan123", "csrf_token": token})
    form = client.get("/designer/labels").get_data(as_text=True)
    revision = re.search(r'name="base_revision" value="(\d+)"', form).group(1)
    data = {"base_revision": revision, "zh": "签收", "en": "Take over"}
    assert client.post("/designer/labels", data=data).status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post("/designer/labels", data={**data, "csrf_token": token}).status_code == 302


# -- lists of many cases use the same words as the case page -----------------------------------------
URGE_TASK = '<bpmn:userTask id="urge" name="催办">'


def test_lists_show_a_designers_supervision_label_in_its_english(login, driver, clock):
    """督办台 rows (the task to do and the last action), the bell's list, the records of earlier tiers
    on the task page and the heatmap's diagram: in English each shows the version's own translation
    of a renamed supervision task, as the case page does, and people by name; in Chinese as written."""
    from sqlalchemy import func, select
    from app.processes.models import ProcessVersion
    from tests.conftest import at
    designer = login("designer")
    save_file(designer, "supervision_escalation.bpmn", URGE_TASK, URGE_TASK.replace("催办", "督促办理"))
    rows, revision = label_rows(designer)
    rows["督促办理"] = "Prompt the department"
    assert post_labels(designer, rows, revision).status_code == 302
    deploy(designer)
    number = driver.register()
    driver.dispatch(number)
    clock.move_to(at(2026, 11, 4, 9, 0))
    assert driver.fire() == 1  # 签收 overdue: tier 1, its 督促办理 waits for the center

    center = english(login, "center")
    board = page(center, "/supervision?tier=1")
    row = board.split(f'data-case="{number}"', 1)[1].split("</tr>", 1)[0]
    assert "Prompt the department" in row and "督促办理" not in row
    bell = page(center, "/notifications")
    assert "Prompt the department" in bell and "督促办理" not in bell
    assert "督促办理" in page(login("center"), "/supervision?tier=1")  # as written in Chinese

    driver.do(number, "urge", "center", urge_note="请于三日内签收", department_response="正在协调")
    board = page(center, "/supervision?tier=1")
    last = board.split(f'data-case="{number}"', 1)[1].split('class="last-action">', 1)[1].split("</td>", 1)[0]
    assert "Prompt the department" in last and "督促办理" not in last
    assert ">center<" not in last and " center " not in last  # the person by name, not login

    clock.move_to(at(2026, 11, 10, 9, 0))
    assert driver.fire() == 1  # tier 2: its task page lists tier 1's record
    task = page(english(login, "discipline"), f"/tasks/{driver.task(number, 'interview_or_notice')['id']}")
    record = task.split('id="decision-item"', 1)[1]
    assert "Prompt the department" in record and "督促办理" not in record

    with driver.core.db.read() as session:
        version = session.scalar(select(func.max(ProcessVersion.version)))
    data = english(login, "leader").get(f"/dashboard/heatmap/{version}/data").get_json()
    assert 'name="Prompt the department"' in data["diagrams"]["supervision"]
    assert "督促办理" not in data["diagrams"]["supervision"]
    zh = login("leader").get(f"/dashboard/heatmap/{version}/data").get_json()
    assert 'name="督促办理"' in zh["diagrams"]["supervision"]


# -- a decision table's own words -------------------------------------------------------------------
def test_decision_tables_own_words_are_listed_but_not_their_variables():
    files = {path: data.decode() for path, data in read_directory(SHIPPED_BUNDLE).items()}
    found = {label.text: label for label in labels_module.draft_labels(files)}
    assert ("rules/deadlines.dmn", "deadlines_out_days", "dmn_output") in found["办理时限（工作日）"].places
    assert ("rules/deadlines.dmn", "deadlines_in_type", "dmn_input") in found["诉求类型"].places
    assert ("rules/center_deadlines.dmn", "center_deadlines", "dmn_decision") in \
        found["派单、改派、核实、回访时限"].places
    assert ("rules/deadlines.dmn", "deadlines_rule_2", "dmn_rule") in found["咨询（复杂）"].places
    assert "handle_days" not in found and "5" not in found  # a variable and an output value are no labels


def test_a_decision_tables_label_gets_its_english_and_problems_quote_it(login, driver):
    """The designer gives a DMN output column's label its English on the 标签翻译 page; an English
    validation message about a cell of that column quotes the English (and names the row in its
    English), a Chinese one the label as written."""
    designer = login("designer")
    cell = '<outputEntry id="deadlines_rule_2_days"><text>5</text></outputEntry>'
    config = editor_config(designer, "/designer/dmn/rules/deadlines.dmn")
    assert cell in config["text"]
    saved = designer.post("/designer/draft/rules/deadlines.dmn", json={
        "text": config["text"].replace(cell, cell.replace("<text>5</text>", "<text>(5).__class__</text>")),
        "base_revision": config["revision"]})
    assert saved.status_code == 200, saved.get_json()
    page_text = page(designer, "/designer/labels")
    assert "办理时限（工作日）" in page_text and "决策表输出列" in page_text
    rows, revision = label_rows(designer)
    rows["办理时限（工作日）"] = "Days allowed to handle"
    rows["咨询（复杂）"] = "Complex inquiry"
    assert post_labels(designer, rows, revision).status_code == 302
    assert json.loads(_draft_labels(driver))["办理时限（工作日）"] == "Days allowed to handle"

    def message(client):
        problems = client.get("/designer/validate?format=json").get_json()["problems"]
        return next(p for p in problems if p["element_id"] == "deadlines_rule_2_days")
    problem = message(english(login, "designer"))  # the sandbox refuses the cell
    assert "Days allowed to handle" in problem["message"] and "办理时限" not in problem["message"]
    assert problem["element_name"] == "Complex inquiry"
    problem = message(login("designer"))
    assert "办理时限（工作日）" in problem["message"] and problem["element_name"] == "咨询（复杂）"

