"""Each task page shows what its decision needs, read from what the case recorded (issue 15).

Cases are driven through the real engine (Driver); the pages are rendered by the real app.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.cases.models import Case
from app.errors import Invalid
from app.web.formatting import local
from tests.conftest import at, audit_rows, deploy_variant, utc


def page(response) -> str:
    return response.get_data(as_text=True)


def aside(html: str) -> str:
    """The context beside the form (everything after the form's section)."""
    return html[html.index("<aside>"):]


def block(html: str, block_id: str) -> str:
    match = re.search(rf'<section class="card [^"]*" id="{block_id}"[^>]*>(.*?)</section>', html, re.S)
    assert match, f"no #{block_id} on the page"
    return re.sub(r"\s+", " ", match.group(1))


def open_task(client, driver, number, bpmn_id):
    response = client.get(f"/tasks/{driver.task(number, bpmn_id)['id']}")
    assert response.status_code == 200, page(response)
    return page(response)


def replied(driver, text="已协调施工方停止夜间施工并清理现场") -> str:
    number = driver.register(reporter_name="王小明", reporter_phone="13900001111")
    driver.dispatch(number)
    driver.sign(number)
    driver.reply(number, text=text)
    return number


def test_verify_shows_the_reply_with_who_and_a_slot_for_attachments(login, driver):
    number = replied(driver)
    html = open_task(login("dispatcher"), driver, number, "verify")
    reply = block(html, "decision-reply")
    assert "已协调施工方停止夜间施工并清理现场" in reply
    assert "城管执法中队" in reply  # the replying handler's unit, beside their name
    # the two-way choice, nothing preselected
    assert 'name="verify_result" value="passed" >' in html and 'name="verify_result" value="failed" >' in html
    assert 'type="checkbox"' not in html


def test_approve_extension_shows_days_reason_and_both_deadlines(login, driver, core):
    number = driver.register()
    driver.dispatch(number)
    driver.sign(number)
    driver.do(number, "handle", "handler", decision="extension_request", extension_days=5,
              extension_reason="需协调供电公司更换线路")
    with core.db.read() as session:
        deadline = session.scalar(select(Case.deadline).where(Case.number == number))
    expected = core.calendar.current().working_days_after(deadline, 5)
    html = open_task(login("dispatcher"), driver, number, "approve_extension")
    ext = block(html, "decision-extension")
    assert "5 个工作日" in ext and "需协调供电公司更换线路" in ext
    assert local(deadline) in ext and local(expected) in ext
    # approving gives exactly the deadline the page announced
    case = driver.do(number, "approve_extension", "dispatcher", extension_decision="approve")
    assert case["deadline"] == expected.isoformat(timespec="seconds")


def test_a_rejected_extension_needs_a_reason_and_keeps_the_deadline(driver):
    number = driver.register()
    driver.dispatch(number)
    driver.sign(number)
    driver.do(number, "handle", "handler", decision="extension_request", extension_days=3, extension_reason="人手不足")
    before = driver.show(number)["deadline"]
    with pytest.raises(Invalid):
        driver.do(number, "approve_extension", "dispatcher", extension_decision="reject")
    case = driver.do(number, "approve_extension", "dispatcher", extension_decision="reject", extension_note="理由不足")
    assert case["deadline"] == before and case["extensions"][-1]["approved"] is False


def test_reassign_shows_who_returned_it_and_warns_when_sent_back_there(login, driver):
    number = driver.register()
    driver.dispatch(number)
    driver.do(number, "sign_for", "handler", decision="return", return_reason="属物业管理范围，非本部门职责")
    dispatcher = login("dispatcher")
    html = open_task(dispatcher, driver, number, "reassign")
    returned = block(html, "decision-returned")
    assert "城管执法中队" in returned and "属物业管理范围，非本部门职责" in returned
    task_id = driver.task(number, "reassign")["id"]
    same = page(dispatcher.get(f"/tasks/{task_id}/department-preview?department=chengguan"))
    assert "same-department" in same and "城管执法中队 刚刚退回了此工单" in same
    other = page(dispatcher.get(f"/tasks/{task_id}/department-preview?department=community_building"))
    assert "same-department" not in other
    # a submission with the same department re-shows the warning with the form (it is a warning, not a ban)
    response = dispatcher.post(f"/tasks/{task_id}", data={"department": ""})
    assert response.status_code == 400


def test_reassign_keeps_the_first_dispatch_time_and_records_its_own(driver, clock):
    number = driver.register()
    first = driver.dispatch(number)["dispatched_at"]
    clock.move_to(at(2026, 11, 2, 11, 0))
    driver.do(number, "sign_for", "handler", decision="return", return_reason="非本部门职责")
    clock.move_to(at(2026, 11, 2, 14, 0))
    case = driver.do(number, "reassign", "dispatcher", department="community_building")
    assert case["dispatched_at"] == first
    assert case["reassigned_at"] == utc(2026, 11, 2, 6, 0).isoformat(timespec="seconds") != first
    # the new department's 签收 runs from the reassignment, not from the first dispatch
    assert driver.task(number, "sign_for")["department"] == "community_building"
    assert driver.task(number, "sign_for")["due"] == "2026-11-03T15:59:59+00:00"


def test_redo_shows_why_the_resident_was_unsatisfied_and_the_earlier_reply(login, driver):
    number = replied(driver, text="路灯已更换")
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    driver.do(number, "follow_up", "dispatcher", satisfaction="unsatisfied", follow_up_note="晚上仍然不亮")
    html = open_task(login("handler"), driver, number, "handle")
    assert "居民不满意" in block(html, "decision-redo") and "晚上仍然不亮" in block(html, "decision-redo")
    assert "路灯已更换" in block(html, "decision-reply")


def test_verify_failed_is_shown_on_the_handle_page(login, driver):
    number = replied(driver, text="已处理")
    driver.do(number, "verify", "dispatcher", verify_result="failed", verify_note="现场未整改")
    html = open_task(login("handler"), driver, number, "handle")
    assert "核实未通过" in block(html, "decision-redo") and "现场未整改" in block(html, "decision-redo")


def test_a_first_handle_has_no_redo_block(login, driver):
    number = driver.register()
    driver.dispatch(number)
    driver.sign(number)
    assert 'id="decision-redo"' not in open_task(login("handler"), driver, number, "handle")


def test_follow_up_shows_the_reply_and_the_phone_unmasked_and_audited(login, driver, core):
    number = replied(driver)
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    task_id = driver.task(number, "follow_up")["id"]
    response = login("dispatcher").get(f"/tasks/{task_id}")
    html = page(response)
    call = block(html, "decision-call")
    assert "13900001111" in call and 'href="tel:13900001111"' in call and "王小明" in call
    assert response.headers["Cache-Control"] == "no-store"
    assert "已协调施工方停止夜间施工并清理现场" in block(html, "decision-reply")
    rows = audit_rows(core, number, "reveal_reporter")
    assert len(rows) == 1 and rows[0].actor == "dispatcher" and rows[0].task_id == task_id
    assert rows[0].task_name == "回访"
    # the masked number is not shown anywhere else on the page
    assert "139****1111" not in html


def test_the_phone_stays_masked_on_other_tasks(login, driver, core):
    number = replied(driver)
    html = open_task(login("dispatcher"), driver, number, "verify")
    assert "13900001111" not in html and "139****1111" in html
    assert not audit_rows(core, number, "reveal_reporter")


def test_a_satisfied_follow_up_closes_the_case_in_the_same_step(driver):
    number = replied(driver)
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    case = driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")
    assert case["status"] == "closed" and case["closed_at"] == case["followed_up_at"] and case["tasks"] == []


def test_dispatch_previews_the_department_the_rule_picks(login, driver):
    number = driver.register()
    dispatcher = login("dispatcher")
    task_id = driver.task(number, "dispatch")["id"]
    html = page(dispatcher.get(f"/tasks/{task_id}/department-preview?category=物业管理&department="))
    assert "按派单规则：派至 社区建设办" in html and 'data-routed="community_building"' in html
    html = page(dispatcher.get(f"/tasks/{task_id}/department-preview?category=城市管理&department=police"))
    assert "已指定承办部门：派出所（按派单规则为 城管执法中队）" in html
    html = page(dispatcher.get(f"/tasks/{task_id}/department-preview?category=没有这个类别&department="))
    assert "按派单规则：派至 社区建设办" in html  # the table's catch-all rule
    # the preview agrees with what the process then does
    case = driver.dispatch(number, category="物业管理")
    assert case["department"] == "community_building"


def test_dispatch_preview_says_when_the_rule_picks_nobody(login, driver, core):
    deploy_variant(core, "rules/routing.dmn", '<inputEntry id="routing_rule_12_category"><text></text>',
                   '<inputEntry id="routing_rule_12_category"><text>"其他"</text>')
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    html = page(login("dispatcher").get(f"/tasks/{task_id}/department-preview?category=没有这个类别"))
    assert "派单规则没有为类别「没有这个类别」指定承办部门，请选择承办部门" in html


def test_dispatch_page_shows_the_preview_for_the_case_category(login, driver):
    number = driver.register(category="城市管理")
    html = open_task(login("dispatcher"), driver, number, "dispatch")
    assert 'id="department-preview"' in html and "按派单规则：派至 城管执法中队" in html


def test_history_uses_the_case_page_labels_names_and_units(login, driver, core):
    number = driver.register()
    driver.dispatch(number)
    driver.do(number, "sign_for", "handler", decision="return", return_reason="非本部门职责")
    html = open_task(login("dispatcher"), driver, number, "reassign")
    history = aside(html)[aside(html).index("task-history"):]
    assert re.search(r'class="action">退回<', history) and not re.search(r'class="action">签收<', history)
    assert '<span class="actor">handler</span>' not in history  # people are names, not logins
    assert "（城管执法中队）" in history and "（指挥中心）" in history


def test_supervision_tasks_show_the_department_the_item_is_against_and_its_tiers(login, driver, clock):
    number = driver.register(type="咨询")  # 2 working days
    driver.dispatch(number)
    driver.sign(number)
    clock.move_to(at(2026, 11, 5, 9, 0))
    assert driver.fire() == 1  # tier 1 (拖延办理) against 城管执法中队
    html = open_task(login("center"), driver, number, "urge")
    item = block(html, "decision-item")
    assert "督办对象：城管执法中队" in item and 'data-tier="1"' in item and "拖延办理" in item
    driver.do(number, "urge", "center", urge_note="请于三日内办结", department_response="正在协调")
    clock.move_to(at(2026, 11, 11, 9, 0))
    assert driver.fire() == 1
    html = open_task(login("discipline"), driver, number, "interview_or_notice")
    item = block(html, "decision-item")
    # the item's history across tiers, with what tier 1 recorded
    assert 'data-tier="1"' in item and 'data-tier="2"' in item
    assert "请于三日内办结" in item and "正在协调" in item and "督办对象：城管执法中队" in item
    history = aside(html)[aside(html).index("task-history"):]
    assert "完整记录见工单页" not in history and "受理" in history  # the whole timeline, from 受理 on


# -- the worklist ----------------------------------------------------------------------------------------------
def worklist_row(html: str, number: str, task_name: str) -> str:
    for row in re.findall(r'<tr class="[^"]*" data-task="[^"]+" data-case="' + number + r'">.*?</tr>', html, re.S):
        if f'class="task-link">{task_name}<' in row:
            return re.sub(r"\s+", " ", row)
    raise AssertionError(f"no {task_name} row for {number}")


def test_worklist_marks_redo_extended_and_supervised_cases(login, driver):
    redo = replied(driver)
    driver.do(redo, "verify", "dispatcher", verify_result="passed")
    driver.do(redo, "follow_up", "dispatcher", satisfaction="unsatisfied", follow_up_note="仍未解决")
    extended = driver.register()
    driver.dispatch(extended)
    driver.sign(extended)
    driver.do(extended, "handle", "handler", decision="extension_request", extension_days=2, extension_reason="待材料")
    driver.do(extended, "approve_extension", "dispatcher", extension_decision="approve")
    plain = driver.register()
    driver.dispatch(plain)
    driver.sign(plain)
    html = page(login("handler").get("/tasks"))
    assert "mark-redo" in worklist_row(html, redo, "办理") and "mark-extended" not in worklist_row(html, redo, "办理")
    assert "mark-extended" in worklist_row(html, extended, "办理")
    assert not re.search("mark-(redo|extended|supervised)", worklist_row(html, plain, "办理"))


def test_worklist_supervision_rows_show_the_department_concerned(login, driver, clock):
    number = driver.register()
    driver.dispatch(number)
    clock.move_to(at(2026, 11, 4, 9, 0))
    assert driver.fire() == 1  # 签收超时: tier 1 against 城管执法中队
    driver.do(number, "sign_for", "handler", decision="return", return_reason="非本部门职责")
    driver.do(number, "reassign", "dispatcher", department="community_building")
    html = page(login("center").get("/tasks"))
    row = worklist_row(html, number, "催办")
    # the item's department, not the case's current one
    assert "督办对象：城管执法中队" in row and "mark-supervised" in row


def test_the_command_center_is_not_offered_nor_accepted_as_a_handling_department(login, driver):
    """It is a unit for supervising the center's own late steps (center_deadlines.dmn), not a handler."""
    number = driver.register()
    page = login("dispatcher").get(f"/tasks/{driver.task(number, 'dispatch')['id']}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "chengguan" in body and 'value="command_center"' not in body
    with pytest.raises(Invalid, match="command center"):
        driver.dispatch(number, department="command_center")
    assert driver.ready(number) == ["dispatch"]
