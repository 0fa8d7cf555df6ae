"""On phones (390×844): the grid worker starts a patrol and files a 食品安全 report from it; once the
command center has dispatched it, the report reaches G01's professional grid worker (grid_pro,
直接责任人) directly, who signs for it and replies from the phone."""
from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import screenshot

PHONE = (390, 844)
REPORT = "农贸市场东门摊位售卖过期熟食，标签被涂改。"


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0], "wider than the phone"


def _open_from_worklist(page, base: str, number: str) -> None:
    page.goto(f"{base}/tasks?tab=mine")
    row = page.locator(f'tr[data-case="{number}"]')
    expect(row).to_have_count(1)
    row.locator("a.button.primary").click()  # the 办理 button of the row
    expect(page.locator("#task-form")).to_be_visible()


def test_a_patrol_report_is_signed_and_answered_by_the_grid_professional_on_a_phone(core, driver, clock, new_page,
                                                                                   live_server):
    from app.cases.models import Case
    from app.patrol.models import PatrolReport
    base = live_server
    worker = new_page("grid", viewport=PHONE)
    worker.goto(f"{base}/patrol")
    worker.click("#start-patrol")
    worker.wait_for_selector("#open-patrol")
    worker.click("#file-report")
    worker.wait_for_url("**/intake/patrol")
    worker.check("input[name=type][value=report]")
    worker.fill("#category", "食品安全")
    worker.fill("#text", REPORT)
    worker.fill("#address", "和平农贸市场东门")
    worker.select_option("#grid", "G01")
    _fits(worker)
    worker.click("button[type=submit].primary")
    worker.wait_for_url("**/patrol")
    worker.wait_for_selector("#open-reports li")
    with core.db.read() as session:
        number = session.scalar(select(Case.number).join(PatrolReport, PatrolReport.case_id == Case.id))
    assert number

    # the command center dispatches it (its desk, not a phone): 食品安全 → 市场监管所 → G01's professional
    driver.dispatch(number, category="食品安全")
    assert driver.task(number, "sign_for")["assignee"] == "grid_pro"

    pro = new_page("grid_pro", viewport=PHONE)
    _open_from_worklist(pro, base, number)
    expect(pro.locator(".case-text")).to_contain_text("过期熟食")
    _fits(pro)
    pro.get_by_label("签收", exact=True).check()
    pro.locator("#task-form button[type=submit]").click()
    expect(pro.locator(".flash.success")).to_contain_text("已办理")

    _open_from_worklist(pro, base, number)
    expect(pro.locator("h1")).to_contain_text("办理")
    pro.fill("#f-reply_text", "已现场检查，责令摊主下架过期熟食并立案调查。")
    _fits(pro)
    screenshot(pro, "grid_pro_reply_phone")
    pro.locator("#task-form button[type=submit]").click()
    expect(pro.locator(".flash.success")).to_contain_text("已办理")

    case = driver.show(number)
    assert (case["status"], case["department"]) == ("replied", "market_supervision")
    with core.db.read() as session:
        assert session.scalar(select(Case.replied_by).where(Case.number == number)) == "grid_pro"
