"""Names stored as Chinese text (departments, grids, categories, BPMN element names: task names, the
history, the diagram's labels) in English mode (app/web/terms.py): the shipped ones translated, a
designer's own as written, and no page heading in one language above a form title in the other."""
from __future__ import annotations

import json
import re

import pytest
from babel.messages.pofile import read_po

from app.web.label_messages import shipped_terms
from tests.conftest import deploy_variant
from tests.test_translations import PO

CJK = re.compile(r"[\u4e00-\u9fff]")
TERMS = sorted({text for values in shipped_terms().values() for text in values.values()})


def english(login, user):
    client = login(user)
    client.get("/lang/en")
    return client


def body(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_the_shipped_terms_are_found():
    kinds = shipped_terms()
    assert "城管执法中队" in kinds["department"].values() and "第一网格" in kinds["grid"].values()
    assert "城市管理" in kinds["category"].values()
    assert {"派单/转办", "签收", "核实", "指挥中心", "是否受理？", "追责"} <= set(kinds["bpmn_name"].values())
    assert "department_replied" not in kinds["bpmn_name"].values()  # identifiers are not words


@pytest.mark.parametrize("text", TERMS)
def test_every_shipped_term_is_translated(text):
    with PO.open("rb") as f:
        message = read_po(f, locale="en").get(text)
    assert message is not None, f"run `make translations` and translate {text!r}"
    assert message.string and not CJK.search(message.string), (text, message.string)


def test_worklist_and_task_page_speak_one_language(login, driver):
    number = driver.register(category="城市管理")
    driver.dispatch(number)
    handler = english(login, "handler")
    worklist = body(handler, "/tasks")
    assert ">Sign for</a>" in worklist and "Urban Management Enforcement Squad" in worklist
    assert ">Urban management<" in worklist
    page = body(handler, f"/tasks/{driver.task(number, 'sign_for')['id']}")
    heading = re.search(r"<h1>(.*?)<small>", page, re.S).group(1)
    title = re.search(r'<h2 class="form-title">(.*?)</h2>', page, re.S).group(1)
    assert not CJK.search(heading) and not CJK.search(title), (heading, title)
    assert "Sign for" in heading
    assert "Urban Management Enforcement Squad" in page and "城管执法中队" not in page
    assert "Dispatch / transfer" in page  # the task page's own history


def test_case_page_history_tasks_and_fields_in_english(login, driver):
    number = driver.register(category="城市管理", grid="G01")
    driver.dispatch(number)
    page = body(english(login, "dispatcher"), f"/cases/{number}")
    for text in ("Urban Management Enforcement Squad", "Urban management", "Grid 1", "Sign for",
                 "Dispatch / transfer"):
        assert text in page, text
    for text in ("城管执法中队", "城市管理", "第一网格", "签收", "派单/转办"):
        assert text not in page, text
    chinese = body(login("dispatcher"), f"/cases/{number}")
    assert "城管执法中队" in chinese and "第一网格" in chinese  # the Chinese UI is unchanged


def test_diagram_labels_are_translated_and_a_designers_own_stay_as_written(login, driver, core):
    number = driver.register()
    zh = json.loads(body(login("dispatcher"), f"/cases/{number}/diagram"))
    assert 'name="派单/转办"' in zh["xml"]
    en = json.loads(body(english(login, "dispatcher"), f"/cases/{number}/diagram"))
    assert 'name="Dispatch / transfer"' in en["xml"] and 'name="Command center"' not in zh["xml"]
    assert not CJK.search(" ".join(re.findall(r'\sname="([^"]*)"', en["xml"])))
    assert en["xml"].replace('name="Dispatch / transfer"', "") != zh["xml"]

    deploy_variant(core, "case_lifecycle.bpmn", 'name="派单/转办"', 'name="派单（街道自定）"')
    mine = driver.register()
    en = json.loads(body(english(login, "dispatcher"), f"/cases/{mine}/diagram"))
    assert 'name="派单（街道自定）"' in en["xml"]  # not in the catalog: as the designer wrote it
    assert 'name="Sign for"' in en["xml"]
    worklist = body(english(login, "dispatcher"), "/tasks")
    assert "派单（街道自定）" in worklist
