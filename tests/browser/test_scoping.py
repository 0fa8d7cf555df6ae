"""Department scoping in the browser: another department's case is a 403 page and never in search."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

CST = ZoneInfo("Asia/Shanghai")


def test_handler2_cannot_open_or_find_a_chengguan_case(new_page, live_server, driver):
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=CST), tick=True):
        theirs = driver.register(text="人行道违章停车", address="幸福路3号")
        driver.dispatch(theirs)  # 城市管理 -> chengguan
        ours = driver.register(text="小区物业不清运垃圾", address="幸福路5号")
        driver.dispatch(ours, category="物业管理")  # -> community_building

        page = new_page("handler2")
        response = page.goto(f"{live_server}/cases/{theirs}")
        assert response.status == 403
        expect(page.locator("h1")).to_contain_text("403")
        expect(page.locator("body")).not_to_contain_text("人行道违章停车")
        screenshot(page, "case_page_forbidden")

        page.goto(f"{live_server}/cases/search")
        page.fill("input[name=q]", "幸福路")
        page.locator(".search-form button[type=submit]").click()
        page.wait_for_load_state()
        results = page.locator("table.results")
        expect(results).to_contain_text(ours)
        expect(results).not_to_contain_text(theirs)

        page.fill("input[name=q]", "")
        page.fill("input[name=number]", theirs)
        page.locator(".search-form button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator(".empty-result")).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("人行道违章停车")

        # their own case opens
        assert page.goto(f"{live_server}/cases/{ours}").status == 200
