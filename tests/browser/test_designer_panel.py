"""The designer's BPMN editor on bpmn.io's own properties panel, in a real browser.

The page loads the modeler bundle that `make setup` builds (assets/designer/ -> esbuild ->
app/static/vendor/bihuan-modeler/) and nothing from another origin. Each of Bihuan's property
groups is edited through the panel, saved as the draft and read back from the stored XML; the
shipped diagrams survive import -> export with the same meaning, extension elements included.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

from app.processes import drafts
from tests.browser.conftest import screenshot

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "app" / "static" / "vendor" / "bihuan-modeler"
LIFECYCLE = "case_lifecycle.bpmn"
SHIPPED = ["case_lifecycle.bpmn", "supervision_escalation.bpmn", "volunteer_redemption.bpmn"]
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
IGNORED = ("exporter", "exporterVersion", "isMarkerVisible")


def open_editor(new_page, live_server, path=LIFECYCLE, requests=None):
    page = new_page("designer")
    if requests is not None:
        page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server}/designer/bpmn/{path}")
    page.wait_for_function("() => document.body.dataset.editorReady")
    assert page.evaluate("document.body.dataset.editorReady") == "yes", page.locator("#import-messages").inner_text()
    return page


def pick(page, element_id: str):
    """Select an element as a click would (lanes and flows are awkward to hit by coordinates)."""
    page.evaluate("id => { const m = window.bihuanModeler; "
                  "m.get('selection').select(m.get('elementRegistry').get(id)); }", element_id)
    page.wait_for_function("id => (document.querySelector('#properties input[name=id]') || {}).value === id",
                           arg=element_id)


def field(page, entry_id: str):
    return page.locator(f'#properties [data-entry-id="{entry_id}"]').locator("input, textarea, select").first


def group(page, title: str):
    """Open a group of the panel by its title (groups start closed except the first)."""
    header = page.locator("#properties .bio-properties-panel-group-header", has_text=title).first
    header.wait_for()
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def set_checked(page, checkbox, value: bool):
    """Tick or clear a panel checkbox. Just after a group opens the panel may render it once more,
    and a click on the checkbox it replaces is lost (seen once in CI: "Clicking the checkbox did not
    change its state"): the click is repeated until the box holds the value, at most five times."""
    for _attempt in range(5):
        try:
            checkbox.set_checked(value, timeout=2000)
            return
        except PlaywrightError:
            page.wait_for_timeout(200)
    assert checkbox.is_checked() == value


def save_and_read(page, core, path=LIFECYCLE) -> ET.Element:
    page.locator("#editor-status", has_text="未保存").wait_for()
    page.click("#save")
    page.locator("#editor-status", has_text="已保存").wait_for()
    with core.db.read() as session:
        return ET.fromstring(drafts.get_draft(session).files[path].encode())


def by_id(root: ET.Element, element_id: str) -> ET.Element:
    found = [e for e in root.iter() if e.get("id") == element_id]
    assert len(found) == 1, (element_id, len(found))
    return found[0]


def spiff_property(element: ET.Element, name: str):
    values = [p.get("value") for p in element.iter(f"{SPIFF}property") if p.get("name") == name]
    return values[0] if values else None


def test_the_page_loads_the_bundle_built_by_setup_and_nothing_from_another_origin(new_page, live_server):
    requests: list[str] = []
    page = open_editor(new_page, live_server, requests=requests)
    pick(page, "dispatch")  # the panel draws icons and fonts only once something is shown
    page.evaluate("document.fonts.ready.then(() => true)")
    origin = urlsplit(live_server).netloc
    foreign = [url for url in requests if not url.startswith(("data:", "blob:")) and urlsplit(url).netloc != origin]
    assert not foreign, foreign
    for name in ("bihuan-modeler.js", "bihuan-modeler.css"):
        url = f"{live_server}/static/vendor/bihuan-modeler/{name}"
        assert url in requests, name
        served = page.request.get(url)
        assert served.ok and served.body() == (BUNDLE / name).read_bytes(), f"{name} is not the file make setup built"
    # the CSP allows no eval: nothing in the bundle may need it (a violation also fails the test)
    code = (BUNDLE / "bihuan-modeler.js").read_text(encoding="utf-8")
    assert "new Function(" not in code and not re.search(r"[^\w.$]eval\(", code)
    assert not [url for url in requests if "properties.js" in url or "bpmn-modeler" in url]
    assert page.locator("#properties .bio-properties-panel").count() == 1


def test_role_group_changes_a_lanes_role_and_shows_a_tasks_lane(new_page, live_server, core):
    page = open_editor(new_page, live_server)
    pick(page, "dispatch")
    group(page, "办理角色")
    assert "dispatcher（指挥中心）" in page.locator('#properties [data-entry-id="bihuanLaneInfo"]').inner_text()

    pick(page, "leader")
    group(page, "办理角色")
    select = field(page, "bihuanLaneRole")
    assert select.input_value() == "leader"
    select.select_option("dispatcher")  # another lane has it: refused, with the reason
    error = page.locator('#properties [data-entry-id="bihuanLaneRole"] .bio-properties-panel-error')
    error.filter(has_text="dispatcher").wait_for()
    select.select_option("viewer")
    root = save_and_read(page, core)
    lane = by_id(root, "viewer")
    assert lane.tag == f"{BPMN}lane" and lane.get("name") == "批示领导"
    assert not [e for e in root.iter() if e.get("id") == "leader"]


def test_form_group_sets_a_user_tasks_form(new_page, live_server, core):
    page = open_editor(new_page, live_server)
    pick(page, "dispatch")
    group(page, "表单")
    form = field(page, "bihuanForm")
    assert form.input_value() == "dispatch.schema.json"
    assert page.locator("#bihuan-suggest-bihuanForm option[value='verify.schema.json']").count() == 1
    form.fill("reassign.schema.json")
    form.press("Tab")
    root = save_and_read(page, core)
    assert spiff_property(by_id(root, "dispatch"), "formJsonSchemaFilename") == "reassign.schema.json"
    assert spiff_property(by_id(root, "sign_for"), "formJsonSchemaFilename") == "sign_for.schema.json"


def test_timer_group_edits_the_expression_the_kind_and_the_reminder_flag(new_page, live_server, core):
    page = open_editor(new_page, live_server)
    pick(page, "dispatch_due_warning")
    group(page, "定时器")
    reminder = field(page, "bihuanReminder")
    assert reminder.is_checked()
    set_checked(page, reminder, False)
    expression = field(page, "bihuanTimerExpression")
    assert expression.input_value().startswith("hours_before(step_due(registered_at")
    expression.fill("working_days_after(registered_at, 2)")
    expression.press("Tab")
    field(page, "bihuanTimerKind").select_option("timeDuration")
    screenshot(page, "designer_panel_timer")
    root = save_and_read(page, core)
    event = by_id(root, "dispatch_due_warning")
    assert spiff_property(event, "reminder") is None
    timer = event.find(f"{BPMN}timerEventDefinition")
    assert timer.find(f"{BPMN}timeDate") is None
    assert timer.find(f"{BPMN}timeDuration").text == "working_days_after(registered_at, 2)"
    # the other reminders are untouched
    assert spiff_property(by_id(root, "dispatch_overdue_notice"), "reminder") == "true"


def test_condition_group_sets_the_default_flow_and_a_condition(new_page, live_server, core):
    page = open_editor(new_page, live_server)
    pick(page, "dispatch_decision")
    group(page, "条件")
    assert field(page, "bihuanDefaultFlow").input_value() == "f_decision_route"
    refuse = field(page, "bihuanCondition-f_decision_refuse")
    assert refuse.input_value() == 'decision == "refuse"'
    refuse.fill('decision == "refuse" and not urgent')
    refuse.press("Tab")
    field(page, "bihuanDefaultFlow").select_option("f_decision_merge")
    page.locator('#properties [data-entry-id="bihuanCondition-f_decision_route"]').wait_for()
    root = save_and_read(page, core)
    assert by_id(root, "dispatch_decision").get("default") == "f_decision_merge"
    condition = by_id(root, "f_decision_refuse").find(f"{BPMN}conditionExpression")
    assert condition.text == 'decision == "refuse" and not urgent'

    pick(page, "f_decision_merge")  # the default flow itself needs no condition, and says so
    group(page, "条件")
    assert "dispatch_decision" in page.locator('#properties [data-entry-id="bihuanDefaultNote"]').inner_text()


def test_script_group_edits_a_script_and_a_pre_script(new_page, live_server, core):
    page = open_editor(new_page, live_server)
    pick(page, "refuse")
    group(page, "脚本")
    script = field(page, "bihuanScript")
    assert script.input_value().startswith('status = "refused"')
    script.fill('status = "refused"\nclosed_at = now()\nrefused = True')
    script.press("Tab")  # as a click on the canvas would, leaving the field commits it
    pick(page, "dispatch")
    group(page, "脚本")
    pre = field(page, "bihuanPreScript")
    assert pre.input_value() == ""
    pre.fill("dispatch_opened_at = now()")
    pre.press("Tab")
    root = save_and_read(page, core)
    assert by_id(root, "refuse").find(f"{BPMN}script").text.endswith("refused = True")
    pre_script = by_id(root, "dispatch").find(f"{BPMN}extensionElements/{SPIFF}preScript")
    assert pre_script.text == "dispatch_opened_at = now()"
    assert spiff_property(by_id(root, "dispatch"), "formJsonSchemaFilename") == "dispatch.schema.json"


def test_call_group_sets_the_called_decision_and_process(new_page, live_server, core):
    page = open_editor(new_page, live_server)
    pick(page, "route")
    group(page, "调用")
    decision = field(page, "bihuanCalledDecision")
    assert decision.input_value() == "routing"
    assert page.locator("#bihuan-suggest-bihuanCalledDecision option[value='deadlines']").count() == 1
    decision.fill("routing_v2")
    decision.press("Tab")
    pick(page, "supervise_center_overdue")
    group(page, "调用")
    called = field(page, "bihuanCalledElement")
    assert called.input_value() == "supervision_escalation"
    assert page.locator("#bihuan-suggest-bihuanCalledElement option[value='volunteer_redemption']").count() == 1
    called.fill("volunteer_redemption")
    called.press("Tab")
    root = save_and_read(page, core)
    assert by_id(root, "route").find(f"{BPMN}extensionElements/{SPIFF}calledDecisionId").text == "routing_v2"
    assert by_id(root, "supervise_center_overdue").get("calledElement") == "volunteer_redemption"


def canonical(text: str) -> list:
    """The XML's meaning as the sorted list of its elements, each (where, tag, attributes, text):
    comments, whitespace, prefixes, the order of attributes and of siblings and the exporter's
    stamp do not count, nor what bpmn-js writes for drawing only (isMarkerVisible on a gateway's
    shape) or states explicitly (xsi:type on a formal expression, which is the type an untyped
    expression is read as anyway)."""
    entries = []

    def walk(node, where):
        attrs = {k: v for k, v in node.attrib.items() if k not in IGNORED}
        if attrs.get(XSI_TYPE, "").endswith("tFormalExpression"):
            del attrs[XSI_TYPE]
        entries.append((where, node.tag, tuple(sorted(attrs.items())), (node.text or "").strip()))
        for child in node:
            if isinstance(child.tag, str):
                walk(child, where + "/" + node.tag.split("}")[-1] + "#" + node.get("id", ""))
    walk(ET.fromstring(text.encode()), "")
    return sorted(entries)


@pytest.mark.parametrize("path", SHIPPED)
def test_a_shipped_diagram_round_trips_unchanged(new_page, live_server, core, path):
    with core.db.unit_of_work() as session:
        original = drafts.open_draft(session, "designer").files[path]
    assert original == (ROOT / "bpmn" / path).read_text(encoding="utf-8")
    page = open_editor(new_page, live_server, path)
    assert page.locator("#import-messages").is_hidden(), page.locator("#import-messages").inner_text()
    exported = page.evaluate("window.bihuanModeler.saveXML({format: true}).then(r => r.xml)")
    before, after = canonical(original), canonical(exported)
    assert [e for e in before if e not in after] == [] and [e for e in after if e not in before] == []


def test_a_loop_collection_named_by_a_task_data_variable_is_kept(new_page, live_server, core):
    """The multi-instance's loopDataInputRef names a variable the engine reads from task data; BPMN
    types it as a reference to an element, so without our fix the modeler dropped it on import."""
    with core.db.unit_of_work() as session:
        draft = drafts.open_draft(session, "designer")
        text = draft.files[LIFECYCLE]
        without = re.sub(r'\s*<bpmn:dataObject id="co_handlers"[^>]*/>', "", text)
        assert without != text and "<bpmn:loopDataInputRef>co_handlers</bpmn:loopDataInputRef>" in without
        drafts.save_draft_file(session, path=LIFECYCLE, text=without, base_revision=draft.revision, actor="designer")
    page = open_editor(new_page, live_server)
    assert page.locator("#import-messages").is_hidden(), page.locator("#import-messages").inner_text()
    pick(page, "co_handling")
    group(page, "常规")
    field(page, "name").fill("协办处置（并行）")
    field(page, "name").press("Tab")
    root = save_and_read(page, core)
    loop = by_id(root, "co_handling").find(f"{BPMN}multiInstanceLoopCharacteristics")
    assert loop.find(f"{BPMN}loopDataInputRef").text == "co_handlers"
    assert loop.find(f"{BPMN}inputDataItem").get("name") == "co_unit"
    assert not [e for e in root.iter(f"{BPMN}dataObject") if e.get("id") == "co_handlers"]
