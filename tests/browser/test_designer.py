"""The process designer in a real browser: change the 投诉 deadline in the decision table and deploy
it (new cases get it, running ones keep theirs); break a diagram, validate, click the problem."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.cases.models import Case
from app.processes import drafts
from tests.browser.conftest import screenshot

COMPLAINT_NORMAL_DAYS = 'td[data-element-id="deadlines_rule_9_days"]'


def deadline_of(core, number: str):
    with core.db.read() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        return case.dispatched_at, case.deadline


def new_complaint(driver) -> str:
    number = driver.register(type="投诉", text="楼下餐馆油烟扰民")
    driver.dispatch(number, difficulty="normal")
    return number


def test_changing_the_complaint_deadline_applies_to_new_cases_only(new_page, live_server, driver, core):
    calendar = core.calendar.current()
    before = new_complaint(driver)
    dispatched, deadline = deadline_of(core, before)
    assert deadline == calendar.working_days_after(dispatched, 15)

    page = new_page("designer")
    page.goto(f"{live_server}/designer")
    page.locator('tr[data-path="rules/deadlines.dmn"] a', has_text="编辑").click()
    page.wait_for_function("() => document.body.dataset.editorReady === 'yes'")
    cell = page.locator(COMPLAINT_NORMAL_DAYS)
    assert cell.inner_text().strip() == "15"
    screenshot(page, "dmn_editor")

    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("10")
    page.locator("#editor-status", has_text="未保存").wait_for()
    page.click("#save")
    page.locator("#editor-status", has_text="已保存").wait_for()
    page.click("#validate")
    page.locator("#editor-status", has_text="校验通过").wait_for()
    with core.db.read() as session:
        assert "<text>10</text>" in drafts.get_draft(session).files["rules/deadlines.dmn"]

    page.goto(f"{live_server}/designer")
    page.fill("#deploy-note", "投诉（一般）办理时限改为 10 个工作日")
    page.click("#deploy-form button[type=submit]")
    page.locator(".flash.success", has_text="已部署为版本 2").wait_for()
    assert page.locator('tr[data-version="2"]').inner_text().count("10 个工作日") == 1

    after = new_complaint(driver)
    dispatched_after, deadline_after = deadline_of(core, after)
    assert deadline_after == calendar.working_days_after(dispatched_after, 10)
    assert deadline_of(core, before)[1] == deadline, "a running case keeps its version's deadline"
    page.reload()
    assert page.locator('tr[data-version="1"] .open-cases').inner_text() == "1"
    assert page.locator('tr[data-version="2"] .open-cases').inner_text() == "1"


def test_a_broken_form_reference_is_found_and_selected_in_the_modeler(new_page, live_server, core):
    page = new_page("designer")
    page.goto(f"{live_server}/designer/bpmn/case_lifecycle.bpmn")
    page.wait_for_function("() => document.body.dataset.editorReady")
    assert page.evaluate("document.body.dataset.editorReady") == "yes", page.locator("#import-messages").inner_text()

    # the palette speaks Chinese
    assert page.locator('.djs-palette [aria-label="创建任务"]').count() == 1

    page.locator('g.djs-element[data-element-id="dispatch"]').click()
    assert page.locator('#properties input[name="id"]').input_value() == "dispatch"
    page.locator("#properties .bio-properties-panel-group-header", has_text="表单").click()
    form = page.locator('#properties input[name="bihuanForm"]')
    assert form.input_value() == "dispatch.schema.json"
    form.fill("missing.schema.json")
    form.press("Tab")
    page.click("#save")
    page.locator("#editor-status", has_text="已保存").wait_for()

    page.click("#validate")
    problem = page.locator('#problems button.problem[data-element-id="dispatch"]')
    problem.wait_for()
    assert "missing.schema.json" in problem.inner_text()

    page.evaluate("window.bihuanModeler.get('selection').select(null)")
    assert page.evaluate("window.bihuanModeler.get('selection').get().length") == 0
    problem.click()
    selected = page.evaluate("window.bihuanModeler.get('selection').get().map(e => e.id)")
    assert selected == ["dispatch"]
    assert page.locator('#properties input[name="id"]').input_value() == "dispatch"
    screenshot(page, "modeler_validation_error")

    # someone else saves meanwhile: this editor's next save conflicts and keeps its content
    with core.db.unit_of_work() as session:
        draft = drafts.get_draft(session)
        drafts.save_draft_file(session, path="rules/routing.dmn", text=draft.files["rules/routing.dmn"],
                               base_revision=draft.revision, actor="admin")
    page.locator('g.djs-element[data-element-id="dispatch_decision"]').click()
    page.locator("#properties .bio-properties-panel-group-header", has_text="常规").click()
    page.fill('#properties textarea[name="name"]', "是否受理（复核）")
    page.press('#properties textarea[name="name"]', "Tab")
    page.click("#save")
    page.locator("#conflict-message", has_text="草稿已被他人修改").wait_for()
    assert page.locator("#conflict").is_visible()
    xml = page.evaluate("window.bihuanModeler.saveXML().then(r => r.xml)")
    assert "是否受理（复核）" in xml and "missing.schema.json" in xml
    with page.expect_download() as download:
        page.click("#conflict-download")
    assert re.search(r"是否受理（复核）", download.value.path().read_text(encoding="utf-8"))


def test_the_form_editor_previews_while_typing_and_refuses_a_broken_schema(new_page, live_server):
    page = new_page("designer", viewport=(390, 844))  # a phone
    page.goto(f"{live_server}/designer/form/forms/sign_for.schema.json")
    page.wait_for_function("() => document.body.dataset.editorReady === 'yes'")
    source = page.locator("#schema")
    text = source.input_value()
    title = re.search(r'"title": "([^"]+)"', text.split('"properties"')[1]).group(1)
    assert title in page.locator("#preview").inner_text()

    source.fill(text.replace(f'"title": "{title}"', '"title": "签收意见（预览）"', 1))
    page.locator("#preview", has_text="签收意见（预览）").wait_for()
    page.click("#save")
    page.locator("#editor-status", has_text="已保存").wait_for()

    source.fill(text[:-5])
    page.locator("#preview .local-error", has_text="JSON").wait_for()
    page.click("#save")
    page.locator("#editor-status", has_text="未保存").wait_for()
    assert "JSON" in page.locator("#editor-status").inner_text()
    screenshot(page, "form_editor_phone")


def test_a_broken_table_cell_is_found_and_highlighted(new_page, live_server):
    page = new_page("designer")
    page.goto(f"{live_server}/designer/dmn/rules/deadlines.dmn")
    page.wait_for_function("() => document.body.dataset.editorReady === 'yes'")
    page.locator(COMPLAINT_NORMAL_DAYS).click()
    page.keyboard.press("Control+A")
    page.keyboard.type("15 +")
    page.click("#save")
    page.locator("#editor-status", has_text="已保存").wait_for()
    page.click("#validate")
    problem = page.locator('#problems button.problem[data-element-id="deadlines_rule_9_days"]').first
    problem.wait_for()
    assert "15 +" in problem.inner_text()
    problem.click()
    page.locator(f"{COMPLAINT_NORMAL_DAYS}.problem-highlight").wait_for()
