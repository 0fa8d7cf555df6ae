"""The whole closed loop in a real browser: 受理 → 派单 → 签收 → 答复 → 核实 → 回访 (销号), one user per step."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from app.cases.models import Case
from tests.browser.conftest import screenshot

COMPLAINT = "夜间施工噪音扰民，凌晨两点仍在打桩"


def open_task(page, base: str, number: str) -> None:
    """From the worklist, open the task of this case."""
    page.goto(f"{base}/tasks")
    row = page.locator(f'tr[data-case="{number}"]')
    expect(row).to_have_count(1)
    row.locator("a.task-link").click()
    expect(page.locator("#task-form")).to_be_visible()


def submit(page, base: str) -> None:
    page.locator("#task-form button[type=submit]").click()
    page.wait_for_url(f"{base}/tasks")
    expect(page.locator(".flash.success")).to_contain_text("已办理")


def test_closed_loop_through_the_pages(new_page, live_server, core):
    base = live_server

    # 受理: the operator registers a phone complaint
    operator = new_page("operator")
    operator.goto(f"{base}/intake/register")
    operator.select_option("#channel", "phone")
    operator.select_option("#type", label="投诉")
    operator.fill("#category", "城市管理")
    operator.fill("#text", COMPLAINT)
    operator.fill("#address", "和平路18号工地")
    operator.fill("#reporter_name", "张三")
    operator.fill("#reporter_phone", "13900001111")
    expect(operator.locator("#duplicates")).to_contain_text("暂未发现重复件")  # htmx looked the phone up
    operator.get_by_role("button", name="受理", exact=True).click()
    operator.wait_for_url(re.compile(r"/cases/HD-\d{8}-\d{4}$"))
    number = operator.url.rsplit("/", 1)[1]
    expect(operator.locator(".flash.success")).to_contain_text(f"已受理，工单号 {number}")

    # 派单: the dispatcher picks it from the worklist; the deadline follows the chosen difficulty
    dispatcher = new_page("dispatcher")
    dispatcher.goto(f"{base}/tasks")
    expect(dispatcher.locator(f'tr[data-case="{number}"]')).to_contain_text("派单/转办")
    expect(dispatcher.locator('a[data-tab="all"] .count')).to_have_text("1")
    screenshot(dispatcher, "worklist")
    open_task(dispatcher, base, number)
    expect(dispatcher.locator(".case-text")).to_have_text(COMPLAINT)
    expect(dispatcher.locator("#f-category")).to_have_value("城市管理")
    dispatcher.get_by_label("不予受理", exact=True).check()
    expect(dispatcher.locator("#field-refuse_reason")).to_be_visible()
    expect(dispatcher.locator("#field-difficulty")).to_be_hidden()
    dispatcher.get_by_label("派单", exact=True).check()
    expect(dispatcher.locator("#field-refuse_reason")).to_be_hidden()
    dispatcher.get_by_label("复杂").check()
    expect(dispatcher.locator("#deadline-preview")).to_contain_text("办理时限：20 个工作日")
    dispatcher.get_by_label("一般").check()
    expect(dispatcher.locator("#deadline-preview")).to_contain_text("办理时限：15 个工作日")
    screenshot(dispatcher, "task_form_dispatch")
    submit(dispatcher, base)
    expect(dispatcher.locator(".flash.success")).to_contain_text(number)

    # 签收 and 答复: the handler of 城管执法中队 (城市管理 routes there)
    handler = new_page("handler")
    open_task(handler, base, number)
    expect(handler.locator("h1")).to_contain_text("签收")
    handler.get_by_label("签收", exact=True).check()
    submit(handler, base)
    open_task(handler, base, number)
    expect(handler.locator("h1")).to_contain_text("办理")
    expect(handler.locator("#field-extension_days")).to_be_hidden()
    handler.fill("#f-reply_text", "已责令施工方停止夜间施工，并安排夜间巡查")
    submit(handler, base)

    # 核实, 回访 (and with it 销号): back at the command center
    open_task(dispatcher, base, number)
    expect(dispatcher.locator("h1")).to_contain_text("核实")
    dispatcher.get_by_label("核实通过", exact=True).check()
    submit(dispatcher, base)
    open_task(dispatcher, base, number)
    expect(dispatcher.locator("h1")).to_contain_text("回访")
    dispatcher.get_by_label("满意", exact=True).check()
    dispatcher.fill("#f-follow_up_note", "居民表示满意")
    submit(dispatcher, base)  # a satisfied follow-up closes the case: no separate 销号 step (issue 15)
    expect(dispatcher.locator(f'tr[data-case="{number}"]')).to_have_count(0)

    with core.db.read() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert (case.status, case.department, case.satisfaction) == ("closed", "chengguan", "satisfied")

    response = dispatcher.goto(f"{base}/cases/{number}")
    assert response.status == 200
    expect(dispatcher.locator("main")).to_contain_text("已销号")
    screenshot(dispatcher, "closed_loop_case")
