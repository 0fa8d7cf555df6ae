"""The admin at the end of the last year the holiday calendar covers: the banner says so on every page,
the calendar page switches the next year to provisional, and pasting the official schedule makes
it complete. The server runs on the test's clock (the end of November of that year)."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.conftest import at
from workflows.workdays import library_covers

LAST = max(y for y in range(2004, 2200) if library_covers(y))  # 2026 with chinesecalendar 1.11
NEXT = LAST + 1


def test_admin_is_warned_and_brings_the_next_year_in(new_page, live_server, core, frozen_clock):
    frozen_clock.move_to(at(LAST, 11, 30, 10, 0))
    page = new_page("admin")
    page.goto(f"{live_server}/admin/users")
    banner = page.locator("#calendar-banner")
    expect(banner).to_contain_text(f"{LAST}-12-31")
    expect(banner).to_contain_text("还剩 31 天")

    banner.locator("a").click()
    page.wait_for_load_state()
    row = page.locator(f"tr[data-year='{NEXT}']")
    expect(row).to_contain_text("未配置")
    row.locator("button").click()
    page.wait_for_load_state()
    expect(page.locator(f"tr[data-year='{NEXT}']")).to_contain_text("暂定（按规则推算）")
    assert core.calendar.current().coverage(NEXT) == "provisional"

    page.fill("#calendar-text", f"{NEXT}-01-01,休,元旦\n{NEXT}-01-04,休,元旦补休\n")
    page.fill("#calendar-note", "国办发明电")
    page.locator("form[action$='/calendar/import'] button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator(".flash.success")).to_contain_text(f"已导入 {NEXT} 年放假安排")
    expect(page.locator(f"tr[data-year='{NEXT}']")).to_contain_text("官方（已导入）")
    expect(page.locator("#calendar-banner")).to_have_count(0)  # covered for more than 60 days now
    screenshot(page, "admin_calendar")
    assert core.calendar.current().coverage(NEXT) == "imported"


def test_a_bad_paste_is_shown_by_line_and_kept(new_page, live_server, core):
    page = new_page("admin")
    page.goto(f"{live_server}/admin/calendar")
    page.fill("#calendar-text", "2100-01-01,休\n2100-02-03,班\n")
    page.locator("form[action$='/calendar/import'] button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator(".field-error")).to_contain_text("line 2")
    expect(page.locator("#calendar-text")).to_have_value("2100-01-01,休\n2100-02-03,班\n")
    assert core.calendar.current().coverage(2100) is None
