"""The public status page on a phone-sized screen, with CSRF on as in production: the form posts,
the timeline fits the width, no Content-Security-Policy violation, nothing personal on screen."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

CST = ZoneInfo("Asia/Shanghai")


def test_a_resident_looks_up_their_case_on_a_phone(new_page, live_server, driver):
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=CST), tick=True):
        number = driver.register(text="幸福路路灯不亮", reporter_name="王小明", reporter_phone="13912345678")
        driver.dispatch(number)
        page = new_page(None, viewport=(375, 740))
        page.goto(f"{live_server}/status")
        page.fill("#number", number)
        page.fill("#tail", "5678")
        page.locator("form.stacked button[type=submit]").click()
        page.wait_for_load_state()
        result = page.locator("#status-result")
        expect(result).to_contain_text("已派至承办部门")
        expect(result.locator(".public-timeline li")).to_have_count(6)
        for secret in ("王小明", "13912345678", "5678", "幸福路"):
            expect(page.locator("body")).not_to_contain_text(secret)
        # phone-sized: nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, "public_status_phone")

        page.fill("#number", number)
        page.fill("#tail", "0000")
        page.locator("form.stacked button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator("#status-error")).to_contain_text("没有找到")
        expect(page.locator("#status-result")).to_have_count(0)
