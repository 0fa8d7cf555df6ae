"""Every decision of a loop made from the task page alone (issue 15): 派单, 签收, 申请延期, 延期审批, 答复,
核实, 回访. Nobody who decides opens the case page; each page is checked for the context it shows."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from app.cases.models import Case
from app.web.formatting import local
from tests.browser.conftest import screenshot

TEXT = "小区北门路灯连续一周不亮，夜间行人摔倒"
REPLY = "已更换北门两盏路灯灯头并检修线路，当晚恢复照明"


def open_task(page, base: str, number: str, name: str) -> None:
    """From the worklist, the task of this case with this name."""
    page.goto(f"{base}/tasks")
    row = page.locator(f'tr[data-case="{number}"]', has=page.locator("a.task-link", has_text=name))
    expect(row).to_have_count(1)
    row.locator("a.task-link").click()
    expect(page.locator("h1")).to_contain_text(name)
    # The heading is there before the scripts at the end of the page have run; a change event sent
    # before htmx has read the page is never previewed (seen once in CI, under load).
    page.wait_for_load_state("load")


def submit(page, base: str) -> None:
    page.locator("#task-form button[type=submit]").click()
    page.wait_for_url(f"{base}/tasks")
    expect(page.locator(".flash.success")).to_contain_text("已办理")


def never_on_the_case_page(page) -> list[str]:
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
    return visited


def deadline_of(core, number):
    with core.db.read() as session:
        return session.scalar(select(Case.deadline).where(Case.number == number))


def test_each_decision_from_the_task_page_alone(new_page, live_server, core, driver):
    base = live_server
    number = driver.register(text=TEXT, category="城市管理", reporter_name="李四", reporter_phone="13900002222")
    dispatcher, handler = new_page("dispatcher"), new_page("handler")
    visits = [never_on_the_case_page(dispatcher), never_on_the_case_page(handler)]

    # 派单: 按派单规则 says where the case will go before submitting, and follows the category
    open_task(dispatcher, base, number, "派单/转办")
    expect(dispatcher.locator(".case-context .case-text")).to_have_text(TEXT)
    expect(dispatcher.locator("#department-preview")).to_contain_text("按派单规则：派至 城管执法中队")
    dispatcher.fill("#f-category", "物业管理")
    dispatcher.locator("#f-category").dispatch_event("change")
    expect(dispatcher.locator("#department-preview")).to_contain_text("按派单规则：派至 社区建设办")
    dispatcher.fill("#f-category", "城市管理")
    dispatcher.locator("#f-category").dispatch_event("change")
    expect(dispatcher.locator("#department-preview")).to_contain_text("按派单规则：派至 城管执法中队")
    dispatcher.select_option("#f-department", "police")
    expect(dispatcher.locator("#department-preview")).to_contain_text("已指定承办部门：派出所（按派单规则为 城管执法中队）")
    dispatcher.select_option("#f-department", "")
    expect(dispatcher.locator("#deadline-preview")).to_contain_text("办理时限：15 个工作日")
    screenshot(dispatcher, "decide_dispatch")
    submit(dispatcher, base)

    # 签收
    open_task(handler, base, number, "签收")
    expect(handler.locator(".case-context")).to_contain_text(TEXT)
    handler.get_by_label("签收", exact=True).check()
    submit(handler, base)

    # 申请延期
    open_task(handler, base, number, "办理")
    expect(handler.locator("#decision-redo")).to_have_count(0)  # a first handling has no 重办 block
    handler.get_by_label("申请延期").check()
    handler.fill("#f-extension_days", "5")
    handler.fill("#f-extension_reason", "需供电公司配合更换线路")
    submit(handler, base)

    # 延期审批: days, reason, the deadline now and the one approval gives, worked out on the calendar
    before = deadline_of(core, number)
    after = core.calendar.current().working_days_after(before, 5)
    open_task(dispatcher, base, number, "延期审批")
    extension = dispatcher.locator("#decision-extension")
    expect(extension.locator(".ext-days")).to_have_text("5 个工作日")
    expect(extension.locator(".ext-reason")).to_have_text("需供电公司配合更换线路")
    expect(extension.locator(".ext-deadline")).to_contain_text(local(before))
    expect(extension.locator(".ext-new-deadline")).to_contain_text(local(after))
    expect(dispatcher.locator('#task-form input[type="checkbox"]')).to_have_count(0)  # a two-way choice
    screenshot(dispatcher, "decide_extension")
    dispatcher.get_by_label("同意延期", exact=True).check()
    submit(dispatcher, base)
    assert deadline_of(core, number) == after  # what the page announced

    # 答复: the worklist marks the extended case; the history names who approved it, and their unit
    handler.goto(f"{base}/tasks")
    expect(handler.locator(f'tr[data-case="{number}"] .mark-extended')).to_have_text("延期")
    open_task(handler, base, number, "办理")
    history = handler.locator(".task-history")
    expect(history).to_contain_text("同意延期")
    expect(history).to_contain_text("指挥中心")
    expect(history).not_to_contain_text("dispatcher")
    handler.get_by_label("答复（办结）").check()
    handler.fill("#f-reply_text", REPLY)
    submit(handler, base)

    # (Someone who only looks, not a decider: the case diagram opens fitted to its box, every lane
    # showing, with the current task, 核实, in view.)
    viewer = new_page("viewer")
    viewer.goto(f"{base}/cases/{number}")
    expect(viewer.locator("#case-diagram.bh-rendered")).to_have_count(1)
    box = viewer.locator("#case-diagram").bounding_box()
    task = viewer.locator('#case-diagram [data-element-id="verify"]').bounding_box()
    pool = viewer.locator('#case-diagram [data-element-id="case_lifecycle_participant"]').bounding_box()
    assert box["x"] <= task["x"] and task["x"] + task["width"] <= box["x"] + box["width"]
    assert box["y"] <= task["y"] and task["y"] + task["height"] <= box["y"] + box["height"]
    assert box["y"] <= pool["y"] and pool["y"] + pool["height"] <= box["y"] + box["height"]
    assert pool["height"] >= 0.85 * box["height"]  # fitted to the box, not zoomed into a corner
    expect(viewer.locator('#case-diagram [data-element-id="verify"]')).to_have_class(re.compile("bh-current"))

    # 核实: the department's reply beside the form
    open_task(dispatcher, base, number, "核实")
    expect(dispatcher.locator("#decision-reply .reply-text")).to_have_text(REPLY)
    expect(dispatcher.locator("#decision-reply")).to_contain_text("城管执法中队")
    dispatcher.get_by_label("核实通过", exact=True).check()
    submit(dispatcher, base)

    # 回访: the reply, and the number to dial, whole, for this task only
    open_task(dispatcher, base, number, "回访")
    expect(dispatcher.locator("#decision-reply .reply-text")).to_have_text(REPLY)
    call = dispatcher.locator("#decision-call")
    expect(call.locator("a.phone")).to_have_text("13900002222")
    expect(call.locator("a.phone")).to_have_attribute("href", "tel:13900002222")
    screenshot(dispatcher, "decide_follow_up")
    dispatcher.get_by_label("满意", exact=True).check()
    submit(dispatcher, base)  # and the case is closed in the same step
    expect(dispatcher.locator(f'tr[data-case="{number}"]')).to_have_count(0)

    case = driver.show(number)
    assert case["status"] == "closed" and case["tasks"] == []
    reveals = [h for h in case["history"] if h["action"] == "reveal_reporter"]
    assert [(h["actor"], h["task"]) for h in reveals] == [("dispatcher", "follow_up")]
    for urls in visits:
        assert not [u for u in urls if re.search(r"/cases/HD-", u)], urls
